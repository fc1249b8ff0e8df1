"""``python -m pipnet_edge.runtime INPUT [--json OUT] [--csv OUT] [--out FILE]``: landmarks of a photo, a video or a camera.

Photos: every face the detector finds. Videos and cameras (``--camera 0``, ``--camera /dev/video0``): up to
``--max-faces`` faces tracked with ``detect_for_video`` (stable ids, smoothed points; the detector runs on the first
frame, every ``--redetect-interval`` frames and after a track is lost).

Outputs: ``--out FILE`` an annotated copy (written by default for photos and videos when neither ``--json`` nor
``--csv`` is given: INPUT_landmarks.<ext>); ``--json OUT`` the landmarks as data (a photo: one JSON document; a video
or a camera: JSON Lines, one record per frame with its index, timestamp in seconds and every face with its track id);
``--csv OUT`` one row per face with a header row. ``-`` writes to standard output.

A camera runs until Ctrl-C or ``--frames N``, printing frames per second now and then; a video file prints a
progress line (frame i/N, fps) on stderr. The first Ctrl-C finishes the current frame and closes every output;
exit status 0. Errors (no such file, unknown file type, unreadable photo or video, a camera that cannot be
opened) print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import math
import re
import signal
import sys
import threading
import time
from pathlib import Path
from typing import IO

from ..errors import PipnetEdgeError
from .detectors import DEFAULT_DETECTOR, DETECTORS

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".pgm", ".ppm", ".pnm", ".pbm")
VIDEO_OUT_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi")  # mp4v, or MJPG in .avi
_DEVICE = re.compile(r"^/dev/video\d+$")


class CliError(PipnetEdgeError):
    """A command-line input or output that cannot be used (printed as one line, exit status 2)."""


def open_camera(source: str):
    """A ``cv2.VideoCapture`` on a camera: an index (``"0"``), a device path (``/dev/video0``, through V4L2 on
    Linux) or a stream OpenCV opens (``rtsp://...``). The CLI calls it through this name, so a test can substitute
    a capture of a video file.

    Raises:
        CliError: the camera cannot be opened.
    """
    import cv2

    from .backends.quiet import capture_stderr_fd

    with capture_stderr_fd(replay_on_error=True):  # OpenCV's "[ WARN:0] ... can't open camera by index"
        if source.isdigit():
            cap = cv2.VideoCapture(int(source))
        elif source.startswith("/dev/") and sys.platform.startswith("linux"):
            cap = cv2.VideoCapture(source, cv2.CAP_V4L2)
        else:
            cap = cv2.VideoCapture(source)
    if not cap.isOpened():
        raise CliError(f"cannot open camera {source} (no such device, no permission, or in use by another program)")
    return cap


class Progress:
    """A progress line on stderr: rewritten in place (carriage return) on a terminal at most twice a second,
    else one line a second; always on the first and the last frame."""

    def __init__(self, label: str, total: int | None, stream: IO[str] | None = None, enabled: bool = True,
                 interval: float | None = None) -> None:
        self.label, self.total, self.enabled = label, total, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval if interval is not None else (0.5 if self.tty else 1.0)
        self._last_t = time.monotonic()
        self._last_n = 0
        self._open_line = False

    def update(self, n: int) -> None:
        """``n`` frames done so far."""
        if not self.enabled:
            return
        now = time.monotonic()
        if not (n == 1 or now - self._last_t >= self.interval or (self.total is not None and n >= self.total)):
            return
        span = now - self._last_t
        fps = (n - self._last_n) / span if span > 0 else 0.0  # since the last report
        where = f"frame {n}/{self.total} ({100 * n // max(self.total, 1)} %)" if self.total else f"frame {n}"
        line = f"{self.label}: {where}, {fps:.1f} fps"
        if self.tty:
            self.stream.write("\r" + line.ljust(60))
            self._open_line = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self._last_t, self._last_n = now, n

    def finish(self) -> None:
        if self._open_line:
            self.stream.write("\n")
            self.stream.flush()
            self._open_line = False


class _StopOnInterrupt:
    """The first Ctrl-C sets ``stopped`` (the loop ends after the current frame, the outputs are closed); the
    second one interrupts as usual."""

    def __init__(self) -> None:
        self.stopped = False
        self._previous = None

    def _handle(self, signum, frame) -> None:
        self.stopped = True
        signal.signal(signal.SIGINT, self._previous)

    def __enter__(self) -> _StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def _presence(text: str) -> str | float | None:
    """``--min-face-presence``: ``auto``, ``off`` (or ``none``) or a number (the Landmarker checks its range)."""
    if text.lower() in ("auto", "off", "none"):
        return "auto" if text.lower() == "auto" else None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto, off or a number in [0, 1], got {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pipnet_edge.runtime", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", nargs="?", help="photo (.jpg/.png ...), video (.mp4/.avi ...) or a camera device (/dev/video0)")
    p.add_argument("--camera", metavar="SRC", help="read a camera: an index (0), a device path (/dev/video0) or a stream URL")
    p.add_argument("--frames", type=int, metavar="N", help="video / camera: stop after N frames")
    p.add_argument("--json", metavar="OUT", help="landmarks as JSON (photo) or JSON Lines (video, camera); - for stdout")
    p.add_argument("--csv", metavar="OUT", help="landmarks as CSV, one row per face; - for stdout")
    p.add_argument("--out", help="annotated copy (default for photos and videos without --json / --csv: INPUT_landmarks.<ext>)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line and no summary")
    p.add_argument("--model", help="exported .tflite/.onnx/.xml (default: the bundled model)")
    p.add_argument("--backend", default="auto")
    p.add_argument("--threads", type=int)
    p.add_argument("--detector", default=DEFAULT_DETECTOR, choices=list(DETECTORS),
                   help="face detector: " + "; ".join(f"{d.name}: {d.description}" for d in DETECTORS.values()))
    p.add_argument("--min-face-size", type=float, help="smallest face to find, in pixels (slower on large photos)")
    p.add_argument("--min-face-presence", type=_presence, default="auto", metavar="auto|off|X",
                   help="drop detected faces whose score (mean heatmap peak) is below X; auto (default): the "
                        "threshold chosen for the model; off: keep every detection")
    p.add_argument("--max-faces", type=int, default=8)
    p.add_argument("--redetect-interval", type=int, default=10, help="video: run the detector every N frames")
    return p


def _kind_of(args, p: argparse.ArgumentParser) -> tuple[str, str]:
    """``("photo" | "video" | "camera", source)``; usage errors exit through argparse."""
    if (args.input is None) == (args.camera is None):
        p.error("give one input: a photo or video file, or --camera SRC")
    if args.camera is not None:
        return "camera", args.camera
    if _DEVICE.match(args.input):
        return "camera", args.input
    src = Path(args.input)
    if not src.exists():
        raise CliError(f"{src} does not exist")
    if src.is_dir():
        raise CliError(f"{src} is a folder; give one photo or video file")
    suffix = src.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video", args.input
    if suffix in IMAGE_SUFFIXES:
        return "photo", args.input
    raise CliError(f"{src}: unknown file type {suffix or '(no extension)'!r}; photos: {' '.join(IMAGE_SUFFIXES)}; "
                   f"videos: {' '.join(VIDEO_SUFFIXES)}; a camera: --camera 0 or --camera /dev/video0")


def main(argv: list[str] | None = None) -> int:
    p = _parser()
    args = p.parse_args(argv)
    if args.frames is not None and args.frames < 1:
        p.error("--frames must be 1 or more")
    if args.json == "-" and args.csv == "-":
        p.error("--json - and --csv - cannot both write to standard output")
    import cv2

    say = sys.stderr if "-" in (args.json, args.csv) else sys.stdout
    cap = None
    try:
        kind, source = _kind_of(args, p)
        if kind == "photo" and args.frames is not None:
            raise CliError("--frames is for videos and cameras")
        if args.out is not None:
            allowed = IMAGE_SUFFIXES if kind == "photo" else VIDEO_OUT_SUFFIXES
            if Path(args.out).suffix.lower() not in allowed:
                raise CliError(f"--out {args.out}: the annotated {'photo' if kind == 'photo' else 'video'} is written "
                               f"as one of {' '.join(allowed)}")
        if kind == "photo":
            image = cv2.imread(source)
            if image is None:
                raise CliError(f"cannot read {source}: not a photo OpenCV can decode, or not readable")
        elif kind == "video":
            cap = cv2.VideoCapture(source)
            if not cap.isOpened():
                raise CliError(f"cannot read video {source}: not a video OpenCV can decode, or not readable")
        else:
            cap = open_camera(source)
        from .landmarker import Landmarker
        from .records import RecordWriter

        lm = Landmarker(args.model, backend=args.backend, num_threads=args.threads, color_order="BGR",
                        detector=args.detector, min_face_size=args.min_face_size, max_faces=args.max_faces,
                        min_face_presence=args.min_face_presence,
                        redetect_interval=args.redetect_interval, running_mode="image" if kind == "photo" else "video")
        try:
            live = kind == "camera" or "-" in (args.json, args.csv)  # records flushed frame by frame
            with RecordWriter(args.json, args.csv, lm.spec.num_points, flush_every_frame=live) as records:
                if kind == "photo":
                    _photo(lm, image, source, args, records, say)
                else:
                    _stream(lm, cap, kind, source, args, records, say)
        finally:
            lm.close()
    except OSError as exc:  # an output that cannot be written
        what = f"{exc.filename}: {exc.strerror}" if exc.filename else (exc.strerror or str(exc))
        print(f"error: {what}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C before the frames started (loading the model)
        print("interrupted", file=sys.stderr)
        return 130
    except (PipnetEdgeError, cv2.error) as exc:
        print(f"error: {str(exc).strip()}", file=sys.stderr)
        return 2
    finally:
        if cap is not None:
            cap.release()
    return 0


def _default_out(source: str, suffix: str | None = None) -> Path:
    src = Path(source)
    return src.with_name(src.stem + "_landmarks" + (suffix or src.suffix))


def _outputs(args, drawn: Path | None) -> str:
    names = [str(x) for x in (drawn, args.json, args.csv) if x is not None]
    return ", ".join("stdout" if n == "-" else n for n in names)


def _photo(lm, image, source: str, args, records, say) -> None:
    import cv2

    from .drawing import draw_landmarks

    t0 = time.perf_counter()
    res = lm.detect(image)
    ms = (time.perf_counter() - t0) * 1000
    records.photo(source, image.shape[1], image.shape[0], res.faces, model=lm.path.name)
    out = None
    if args.out is not None or (args.json is None and args.csv is None):
        out = Path(args.out) if args.out is not None else _default_out(source)
        if not cv2.imwrite(str(out), draw_landmarks(image, res)):
            raise CliError(f"cannot write {out}")
    if not args.quiet:
        print(f"{len(res)} face(s) in {ms:.1f} ms -> {_outputs(args, out)}", file=say)


def _stream(lm, cap, kind: str, source: str, args, records, say) -> None:
    import cv2

    from .drawing import draw_landmarks

    fps = cap.get(cv2.CAP_PROP_FPS)
    if kind == "video":
        fps = fps if fps and math.isfinite(fps) and 0 < fps <= 1000 else 30.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        total = min(count, args.frames) if count > 0 and args.frames else (count if count > 0 else args.frames)
        label = Path(source).name
    else:
        total = args.frames
        label = f"camera {source}"
    out = None
    if args.out is not None or (kind == "video" and args.json is None and args.csv is None):
        out = Path(args.out) if args.out is not None else _default_out(source, ".mp4")
    progress = Progress(label, total, enabled=not args.quiet)
    writer = None
    n = 0
    last_ms = 0
    t0 = t_first = time.monotonic()
    try:
        with _StopOnInterrupt() as stop:
            while not stop.stopped and (args.frames is None or n < args.frames):
                ok, frame = cap.read()
                if not ok or frame is None:
                    break
                now = time.monotonic()
                if n == 0:
                    t_first = now
                t = n / fps if kind == "video" else now - t_first  # seconds: the video's frame rate, a camera's clock
                ms = max(int(round(t * 1000)) + 1, last_ms + 1)  # detect_for_video wants increasing milliseconds
                last_ms = ms
                res = lm.detect_for_video(frame, ms)
                records.frame(label if kind == "camera" else source, n, t, res.faces)
                if out is not None:
                    if writer is None:
                        writer = _video_writer(out, fps if kind == "video" else (fps if fps and 0 < fps <= 240 else 30.0),
                                               frame.shape[1], frame.shape[0])
                    writer.write(draw_landmarks(frame, res))
                n += 1
                progress.update(n)
    finally:
        progress.finish()
        if writer is not None:
            writer.release()
    if n == 0:
        what = f"camera {source} gave no frame" if kind == "camera" else f"no frame could be read from {source}"
        raise CliError(what)
    if not args.quiet:
        secs = time.monotonic() - t0
        stopped = " (stopped by Ctrl-C)" if stop.stopped else ""
        print(f"{n} frames{stopped}, {secs / n * 1000:.1f} ms/frame ({n / secs if secs > 0 else 0:.1f} fps), "
              f"detector on {lm.detector_calls} -> {_outputs(args, out) or 'nothing written'}", file=say)


def _video_writer(out: Path, fps: float, width: int, height: int):
    import cv2

    fourcc = "MJPG" if out.suffix.lower() == ".avi" else "mp4v"
    out.parent.mkdir(parents=True, exist_ok=True)
    from .backends.quiet import capture_stderr_fd

    with capture_stderr_fd():  # OpenCV's warnings when it cannot
        writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    if not writer.isOpened():
        raise CliError(f"cannot write video {out}")
    return writer


if __name__ == "__main__":
    sys.exit(main())
