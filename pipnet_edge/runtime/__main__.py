"""``python -m pipnet_edge.runtime PHOTO_OR_VIDEO [--model M] [--out FILE]``: annotate a photo or a video.

Photos: every face the detector finds gets its landmarks drawn. Videos: up to ``--max-faces``
faces tracked with ``detect_for_video`` (stable ids, smoothed points; the detector runs on the
first frame, every ``--redetect-interval`` frames and after a track is lost).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..errors import PipnetEdgeError
from .detectors import DEFAULT_DETECTOR, DETECTORS

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipnet_edge.runtime", description=__doc__)
    p.add_argument("input", help="photo (.jpg/.png ...) or video (.mp4/.avi ...)")
    p.add_argument("--model", help="exported .tflite/.onnx/.xml (default: the bundled model)")
    p.add_argument("--backend", default="auto")
    p.add_argument("--threads", type=int)
    p.add_argument("--detector", default=DEFAULT_DETECTOR, choices=list(DETECTORS),
                   help="face detector: " + "; ".join(f"{d.name}: {d.description}" for d in DETECTORS.values()))
    p.add_argument("--min-face-size", type=float, help="smallest face to find, in pixels (slower on large photos)")
    p.add_argument("--max-faces", type=int, default=8)
    p.add_argument("--redetect-interval", type=int, default=10, help="video: run the detector every N frames")
    p.add_argument("--out", help="output file (default: INPUT_landmarks.<ext>)")
    args = p.parse_args(argv)
    import cv2

    from .drawing import draw_landmarks
    from .landmarker import Landmarker

    src = Path(args.input)
    try:
        if not src.exists():
            raise PipnetEdgeError(f"{src} does not exist")
        video = src.suffix.lower() in VIDEO_SUFFIXES
        lm = Landmarker(args.model, backend=args.backend, num_threads=args.threads, color_order="BGR", detector=args.detector,
                        min_face_size=args.min_face_size, max_faces=args.max_faces, redetect_interval=args.redetect_interval,
                        running_mode="video" if video else "image")
        if video:
            out = Path(args.out or src.with_name(src.stem + "_landmarks.mp4"))
            cap = cv2.VideoCapture(str(src))
            if not cap.isOpened():
                raise PipnetEdgeError(f"cannot open video {src}")
            fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
            writer = None
            n = 0
            t0 = time.time()
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                res = lm.detect_for_video(frame, int(round(n * 1000 / fps)) + 1)
                drawn = draw_landmarks(frame, res)
                if writer is None:
                    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (frame.shape[1], frame.shape[0]))
                writer.write(drawn)
                n += 1
            if writer is not None:
                writer.release()
            print(f"{n} frames, {(time.time() - t0) / max(n, 1) * 1000:.1f} ms/frame, detector on {lm.detector_calls} -> {out}")
        else:
            img = cv2.imread(str(src))
            if img is None:
                raise PipnetEdgeError(f"cannot read image {src}")
            t0 = time.time()
            res = lm.detect(img)
            ms = (time.time() - t0) * 1000
            out = Path(args.out or src.with_name(src.stem + "_landmarks" + src.suffix))
            cv2.imwrite(str(out), draw_landmarks(img, res))
            print(f"{len(res)} face(s) in {ms:.1f} ms -> {out}")
    except PipnetEdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
