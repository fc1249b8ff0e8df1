"""Landmarks as data: JSON / JSON Lines and CSV records of :class:`~pipnet_edge.runtime.results.LandmarkerResult`.

Used by ``python -m pipnet_edge.runtime ... --json OUT --csv OUT``; plain Python (lists, floats, ints) so the
records load anywhere. Coordinates are image pixels of the full frame (0-based, pixel centres at integers),
rounded to 1/1000 px; scores to 4 decimals; timestamps are seconds, rounded to the microsecond.

* a photo, JSON: one document ``{"source", "width", "height", "model", "faces": [face, ...]}``;
* a video or a camera, JSON Lines: one line per frame ``{"frame", "timestamp", "faces": [face, ...]}``;
* a face: ``{"box": [x0, y0, x1, y1], "score", "points": [[x, y] * N], "point_scores": [N]}``, and in video
  ``"track_id"`` first;
* CSV, a header row then one row per face: ``source, frame, timestamp, face, track_id, box_x0, box_y0, box_x1,
  box_y1, score, x0, y0, ..., x{N-1}, y{N-1}, point_score0, ..., point_score{N-1}`` (``frame``, ``timestamp`` and
  ``track_id`` empty for a photo; a frame without faces has no row).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from .results import FaceLandmarks

__all__ = ["RecordWriter", "csv_header", "csv_rows", "face_record", "frame_record", "photo_record"]

_PX = 3  # decimals of coordinates
_SCORE = 4  # decimals of scores
_TIME = 6  # decimals of timestamps (seconds)


def _floats(values, ndigits: int) -> list:
    return [round(float(v), ndigits) for v in values]


def face_record(face: FaceLandmarks) -> dict[str, Any]:
    """One face as a JSON-ready dict (``track_id`` only when the face has one)."""
    rec: dict[str, Any] = {}
    if face.track_id is not None:
        rec["track_id"] = int(face.track_id)
    rec["box"] = _floats(face.box[:4], _PX)
    rec["score"] = round(float(face.score), _SCORE)
    rec["points"] = [_floats(p, _PX) for p in face.points]
    rec["point_scores"] = _floats(face.point_scores, _SCORE)
    return rec


def frame_record(frame: int, timestamp_s: float, faces: Iterable[FaceLandmarks]) -> dict[str, Any]:
    """One video / camera frame: its index (from 0), its time in seconds and its faces."""
    return {"frame": int(frame), "timestamp": round(float(timestamp_s), _TIME), "faces": [face_record(f) for f in faces]}


def photo_record(source: str, width: int, height: int, faces: Iterable[FaceLandmarks], model: str | None = None) -> dict[str, Any]:
    """One photo: where it came from, its size, the model and its faces."""
    rec: dict[str, Any] = {"source": source, "width": int(width), "height": int(height)}
    if model is not None:
        rec["model"] = model
    rec["faces"] = [face_record(f) for f in faces]
    return rec


def csv_header(num_points: int) -> list[str]:
    """The CSV columns for a model of ``num_points`` points."""
    head = ["source", "frame", "timestamp", "face", "track_id", "box_x0", "box_y0", "box_x1", "box_y1", "score"]
    head += [f"{axis}{i}" for i in range(num_points) for axis in ("x", "y")]
    return head + [f"point_score{i}" for i in range(num_points)]


def csv_rows(source: str, faces: Iterable[FaceLandmarks], frame: int | None = None,
             timestamp_s: float | None = None) -> list[list]:
    """One row per face (columns of :func:`csv_header`); ``frame`` / ``timestamp_s`` ``None`` for a photo."""
    rows = []
    for k, face in enumerate(faces):
        f = face_record(face)
        row = [source, "" if frame is None else int(frame), "" if timestamp_s is None else round(float(timestamp_s), _TIME),
               k, "" if face.track_id is None else int(face.track_id), *f["box"], f["score"]]
        row += [v for p in f["points"] for v in p]
        rows.append(row + f["point_scores"])
    return rows


class RecordWriter:
    """Writes the records of one run to a JSON file (:meth:`photo`: one document) or a JSON Lines file
    (:meth:`frame`: one line per frame), and / or a CSV file (a header, then rows); ``"-"`` is
    standard output.

    Raises:
        OSError: a file cannot be created or written.
    """

    def __init__(self, json_path: str | None, csv_path: str | None, num_points: int, *,
                 flush_every_frame: bool = False) -> None:
        self.flush_every_frame = flush_every_frame
        self._files: list[IO[str]] = []
        self._json: IO[str] | None = None
        self._csv_file: IO[str] | None = None
        self._csv = None
        try:
            self._json = self._open(json_path)
            self._csv_file = self._open(csv_path, newline="")
        except OSError:
            self.close()
            raise
        if self._csv_file is not None:
            self._csv = csv.writer(self._csv_file, lineterminator="\n")
            self._csv.writerow(csv_header(num_points))

    def _open(self, path: str | None, **kwargs) -> IO[str] | None:
        if path is None:
            return None
        if path == "-":
            return sys.stdout
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            f = open(path, "w", encoding="utf-8", **kwargs)
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
            raise OSError(exc.errno, f"cannot write {path}: {exc.strerror}{where}") from None
        self._files.append(f)
        return f

    def photo(self, source: str, width: int, height: int, faces: list[FaceLandmarks], model: str | None = None) -> None:
        """The record of one photo."""
        if self._json is not None:
            self._json.write(json.dumps(photo_record(source, width, height, faces, model), separators=(",", ":")) + "\n")
        if self._csv is not None:
            self._csv.writerows(csv_rows(source, faces))

    def frame(self, source: str, frame: int, timestamp_s: float, faces: list[FaceLandmarks]) -> None:
        """The record of one video / camera frame (a JSON line; CSV rows for its faces)."""
        if self._json is not None:
            self._json.write(json.dumps(frame_record(frame, timestamp_s, faces), separators=(",", ":")) + "\n")
        if self._csv is not None:
            self._csv.writerows(csv_rows(source, faces, frame, timestamp_s))
        if self.flush_every_frame:
            self.flush()

    def flush(self) -> None:
        for f in (self._json, self._csv_file):
            if f is not None:
                f.flush()

    def close(self) -> None:
        """Flush standard output, close the files. Idempotent."""
        self.flush()
        for f in self._files:
            f.close()
        self._files = []
        self._json = self._csv = self._csv_file = None

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
