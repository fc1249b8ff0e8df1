"""``python -m pipnet_edge.runtime``: landmarks as data (JSON, JSON Lines, CSV) from photos, videos and cameras,
the progress line, ``--frames`` on a (substituted) camera, and clear errors on bad inputs."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pipnet_edge.errors import ModelLoadError
from pipnet_edge.runtime import __main__ as cli
from pipnet_edge.runtime.backends.tflite import import_interpreter

pytestmark = pytest.mark.torch_free

try:
    import_interpreter()
except ModelLoadError:
    pytest.skip("the bundled model needs a TFLite interpreter", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
GROUP = ROOT / "docs" / "group.jpg"
EXAMPLE = ROOT / "docs" / "example.jpg"
FPS = 10.0
FRAMES = 8
N_POINTS = 68


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """A short video made of docs/group.jpg at 640 px, shifted a few pixels per frame."""
    import cv2

    img = cv2.resize(cv2.imread(str(GROUP)), (640, 360), interpolation=cv2.INTER_AREA)
    path = tmp_path_factory.mktemp("video") / "group.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (640, 360))
    assert writer.isOpened()
    for i in range(FRAMES):
        writer.write(cv2.warpAffine(img, np.float32([[1, 0, 3 * i], [0, 1, i]]), (640, 360), borderMode=cv2.BORDER_REPLICATE))
    writer.release()
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    cap.release()
    return path


@pytest.fixture
def photo(tmp_path) -> Path:
    """docs/group.jpg copied into tmp_path, so default outputs (INPUT_landmarks.jpg) land there."""
    return Path(shutil.copy(GROUP, tmp_path / "group.jpg"))


def _csv(path: Path) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(path.open(newline="")))
    return rows[0], rows[1:]


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---------------------------------------------------------------------------- photos
def test_photo_json_and_csv_hold_every_face(photo, tmp_path, capsys):
    import cv2

    from pipnet_edge.runtime import Landmarker

    rc = cli.main([str(photo), "--json", str(tmp_path / "f.json"), "--csv", str(tmp_path / "f.csv")])
    assert rc == 0
    assert "4 face(s)" in capsys.readouterr().out
    assert not (tmp_path / "group_landmarks.jpg").exists()  # data asked for: no drawing unless --out
    doc = json.loads((tmp_path / "f.json").read_text())
    assert doc["source"] == str(photo) and (doc["width"], doc["height"]) == (1600, 900)
    assert doc["model"].endswith(".tflite") and len(doc["faces"]) == 4
    with Landmarker(color_order="BGR") as lm:
        expected = lm.detect(cv2.imread(str(photo)))
    for face, ref in zip(doc["faces"], expected):
        assert set(face) == {"box", "score", "points", "point_scores"}  # no track_id on a photo
        assert np.asarray(face["points"]).shape == (N_POINTS, 2) and len(face["point_scores"]) == N_POINTS
        assert np.abs(np.asarray(face["points"]) - ref.points).max() <= 1e-3  # full-image pixels, rounded to 1/1000
        assert np.abs(np.asarray(face["box"]) - ref.box).max() <= 1e-3
        assert face["score"] == pytest.approx(ref.score, abs=1e-4)
        assert np.abs(np.asarray(face["point_scores"]) - ref.point_scores).max() <= 1e-4
    header, rows = _csv(tmp_path / "f.csv")
    assert header[:10] == ["source", "frame", "timestamp", "face", "track_id", "box_x0", "box_y0", "box_x1", "box_y1", "score"]
    assert header[10:14] == ["x0", "y0", "x1", "y1"] and header[10 + 2 * N_POINTS - 2: 10 + 2 * N_POINTS] == ["x67", "y67"]
    assert header[-N_POINTS:] == [f"point_score{i}" for i in range(N_POINTS)] and len(header) == 10 + 3 * N_POINTS
    assert len(rows) == 4
    for k, (row, face) in enumerate(zip(rows, doc["faces"])):
        assert row[:5] == [str(photo), "", "", str(k), ""]
        values = np.asarray(row[5:], float)
        assert np.allclose(values[:4], face["box"]) and values[4] == face["score"]
        assert np.allclose(values[5:5 + 2 * N_POINTS].reshape(-1, 2), face["points"])
        assert np.allclose(values[5 + 2 * N_POINTS:], face["point_scores"])


def test_photo_without_data_options_still_draws(tmp_path, capsys):
    import cv2

    src = Path(shutil.copy(EXAMPLE, tmp_path / "example.jpg"))
    assert cli.main([str(src)]) == 0
    drawn = cv2.imread(str(tmp_path / "example_landmarks.jpg"))
    assert drawn is not None and drawn.shape == cv2.imread(str(src)).shape
    # --out and --json together: both
    assert cli.main([str(src), "--out", str(tmp_path / "a.png"), "--json", str(tmp_path / "a.json")]) == 0
    assert cv2.imread(str(tmp_path / "a.png")) is not None and json.loads((tmp_path / "a.json").read_text())["faces"]
    assert "a.png" in capsys.readouterr().out


def test_json_to_stdout_from_the_command_line(photo):
    """``python -m``, with the JSON on stdout: nothing else there (the summary goes to stderr, the model is quiet)."""
    proc = subprocess.run([sys.executable, "-m", "pipnet_edge.runtime", str(photo), "--json", "-"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["faces"]) == 4
    assert proc.stderr.strip().startswith("4 face(s)") and len(proc.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------------------- videos
def test_video_json_lines_and_csv(video, tmp_path, capsys):
    t0 = time.monotonic()
    rc = cli.main([str(video), "--json", str(tmp_path / "v.jsonl"), "--csv", str(tmp_path / "v.csv"), "--max-faces", "4"])
    elapsed = time.monotonic() - t0
    assert rc == 0
    out, err = capsys.readouterr()
    assert f"{FRAMES} frames" in out
    assert not (video.parent / "group_landmarks.mp4").exists()
    records = _jsonl(tmp_path / "v.jsonl")
    assert [r["frame"] for r in records] == list(range(FRAMES))
    assert [r["timestamp"] for r in records] == pytest.approx([i / FPS for i in range(FRAMES)])
    ids = [sorted(f["track_id"] for f in r["faces"]) for r in records]
    assert len(ids[0]) == 4 and all(i == ids[0] for i in ids), ids  # the same four tracks throughout
    for r in records:
        for f in r["faces"]:
            assert list(f) == ["track_id", "box", "score", "points", "point_scores"]
            pts = np.asarray(f["points"])
            assert pts.shape == (N_POINTS, 2) and (pts[:, 0] < 640).all() and (pts[:, 1] < 360).all()
    # the faces move with the frames (3 px right, 1 px down per frame): points of the full frame
    first = {f["track_id"]: np.asarray(f["points"]).mean(0) for f in records[0]["faces"]}
    last = {f["track_id"]: np.asarray(f["points"]).mean(0) for f in records[-1]["faces"]}
    for tid in first:
        assert np.allclose(last[tid] - first[tid], [3 * (FRAMES - 1), FRAMES - 1], atol=3.0)
    header, rows = _csv(tmp_path / "v.csv")
    assert len(header) == 10 + 3 * N_POINTS and len(rows) == sum(len(r["faces"]) for r in records)
    by_key = {(int(row[1]), int(row[4])): row for row in rows}
    for r in records:
        for k, f in enumerate(r["faces"]):
            row = by_key[(r["frame"], f["track_id"])]
            assert row[0] == str(video) and float(row[2]) == r["timestamp"] and int(row[3]) == k
            assert np.allclose(np.asarray(row[10:10 + 2 * N_POINTS], float).reshape(-1, 2), f["points"])
    # the progress line: frame i/N with fps on stderr, the first and the last frame, not one line per frame
    lines = [line for line in err.splitlines() if "frame" in line]
    assert lines[0].startswith(f"{video.name}: frame 1/{FRAMES}") and "fps" in lines[0]
    assert lines[-1].startswith(f"{video.name}: frame {FRAMES}/{FRAMES} (100 %)")
    assert len(lines) <= 2 + int(elapsed), lines


def test_video_without_data_options_still_draws_and_frames_limits(video, tmp_path):
    import cv2

    out = tmp_path / "drawn.mp4"
    assert cli.main([str(video), "--out", str(out), "--frames", "3", "-q"]) == 0
    cap = cv2.VideoCapture(str(out))
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    cap.release()


def test_progress_rewrites_one_line_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    progress = cli.Progress("v.mp4", 100, stream=stream)
    for n in range(1, 101):
        progress.update(n)
    progress.finish()
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")  # one line, rewritten in place
    assert 2 <= text.count("\r") <= 4 and "frame 100/100 (100 %)" in text  # first, last (and maybe one in between)
    quiet = Tty()
    cli.Progress("v.mp4", 10, stream=quiet, enabled=False).update(1)
    assert quiet.getvalue() == ""


# ---------------------------------------------------------------------------- cameras
def test_camera_runs_for_frames_and_writes_json_lines(video, tmp_path, monkeypatch, capsys):
    import cv2

    opened = []

    def fake_camera(source):
        opened.append(source)
        return cv2.VideoCapture(str(video))

    monkeypatch.setattr(cli, "open_camera", fake_camera)
    rc = cli.main(["--camera", "0", "--frames", "5", "--json", str(tmp_path / "c.jsonl"), "--csv", str(tmp_path / "c.csv")])
    assert rc == 0 and opened == ["0"]
    out, err = capsys.readouterr()
    assert "5 frames" in out and "fps" in out
    assert "camera 0: frame 1/5" in err and "camera 0: frame 5/5" in err  # frames per second now and then
    records = _jsonl(tmp_path / "c.jsonl")
    assert [r["frame"] for r in records] == list(range(5)) and records[0]["timestamp"] == 0.0
    stamps = [r["timestamp"] for r in records]
    assert all(b > a for a, b in zip(stamps, stamps[1:]))  # the wall clock
    assert all(len(r["faces"]) == 4 for r in records)
    _, rows = _csv(tmp_path / "c.csv")
    assert {row[0] for row in rows} == {"camera 0"}
    # a device path as the input is a camera too; no drawing unless --out
    assert cli.main(["/dev/video0", "--frames", "2", "-q", "--json", str(tmp_path / "d.jsonl")]) == 0
    assert opened[-1] == "/dev/video0" and len(_jsonl(tmp_path / "d.jsonl")) == 2


def test_camera_that_stops_ends_the_run(video, tmp_path, monkeypatch):
    """A camera (here a file of 8 frames) that stops giving frames before --frames ends the run cleanly."""
    import cv2

    monkeypatch.setattr(cli, "open_camera", lambda source: cv2.VideoCapture(str(video)))
    assert cli.main(["--camera", "1", "--frames", "100", "-q", "--json", str(tmp_path / "c.jsonl")]) == 0
    assert len(_jsonl(tmp_path / "c.jsonl")) == FRAMES


def test_ctrl_c_finishes_the_frame_and_closes_the_outputs(video, tmp_path, monkeypatch, capsys):
    """The first Ctrl-C (SIGINT) ends a camera run after the current frame: complete records, status 0."""
    import os
    import signal

    import cv2

    class InterruptedCamera:
        def __init__(self):
            self.cap, self.reads = cv2.VideoCapture(str(video)), 0

        def read(self):
            self.reads += 1
            if self.reads == 3:
                os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C in the terminal, while frame 3 is read
            return self.cap.read()

        def get(self, prop):
            return self.cap.get(prop)

        def release(self):
            self.cap.release()

    monkeypatch.setattr(cli, "open_camera", lambda source: InterruptedCamera())
    handler = signal.getsignal(signal.SIGINT)
    assert cli.main(["--camera", "0", "--json", str(tmp_path / "c.jsonl"), "--csv", str(tmp_path / "c.csv")]) == 0
    assert signal.getsignal(signal.SIGINT) is handler  # put back
    assert "3 frames (stopped by Ctrl-C)" in capsys.readouterr().out
    assert [r["frame"] for r in _jsonl(tmp_path / "c.jsonl")] == [0, 1, 2]
    _, rows = _csv(tmp_path / "c.csv")
    assert len(rows) == 12 and all(len(row) == 10 + 3 * N_POINTS for row in rows)


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("case", ["missing", "unknown_ext", "folder", "bad_photo", "bad_video", "file_camera", "dev_camera",
                                  "photo_frames", "bad_output", "bad_out_suffix"])
def test_bad_inputs_give_one_clear_line_and_status_2(case, tmp_path, capsys):
    args = {
        "missing": [str(tmp_path / "nope.jpg")],
        "unknown_ext": [str(tmp_path / "notes.txt")],
        "folder": [str(tmp_path)],
        "bad_photo": [str(tmp_path / "broken.jpg")],
        "bad_video": [str(tmp_path / "broken.mp4")],
        "file_camera": ["--camera", str(tmp_path / "no_camera_here")],
        "dev_camera": ["--camera", "/dev/video987"],
        "photo_frames": [str(GROUP), "--frames", "3"],
        "bad_output": [str(GROUP), "--json", str(tmp_path / "a_file" / "out.json")],
        "bad_out_suffix": [str(GROUP), "--out", str(tmp_path / "drawn.xyz")],
    }[case]
    (tmp_path / "notes.txt").write_text("not a photo")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all" * 10)
    (tmp_path / "a_file").write_text("a file where a folder should be")
    expected = {"missing": "does not exist", "unknown_ext": "unknown file type '.txt'", "folder": "is a folder",
                "bad_photo": "cannot read", "bad_video": "cannot read video", "file_camera": "cannot open camera",
                "dev_camera": "cannot open camera /dev/video987", "photo_frames": "--frames is for videos",
                "bad_output": "a_file", "bad_out_suffix": "the annotated photo is written as one of .jpg"}[case]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_usage_errors_exit_2(capsys):
    for args in ([], [str(GROUP), "--camera", "0"], [str(GROUP), "--json", "-", "--csv", "-"], ["--camera", "0", "--frames", "0"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(args)
        assert exc.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_an_error_from_the_command_line_is_not_a_traceback(tmp_path):
    (tmp_path / "clip.gif").write_bytes(b"GIF89a")
    proc = subprocess.run([sys.executable, "-m", "pipnet_edge.runtime", str(tmp_path / "clip.gif")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("error: ") and "unknown file type '.gif'" in proc.stderr and "Traceback" not in proc.stderr
