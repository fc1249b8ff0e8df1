"""Faces followed through a video: tracks with stable ids, the re-detect policy and per-track smoothing.

:class:`FaceTracker` is the state of a Landmarker's ``"video"`` and ``"live_stream"`` modes. Each frame
(:meth:`FaceTracker.step`), every track's crop comes from its previous frame's landmarks (as the 300W protocol crops
ground-truth landmark boxes); the face detector runs on the first frame, every ``redetect_interval`` frames (a
detection overlapping no track starts a new one) and on the frame after a track is lost (its presence score, the mean
heatmap peak, below the Landmarker's ``min_face_presence`` threshold, or ``track_min_score`` when that is set; or its
points off the frame); a detection below that threshold starts no track. Two tracks that converge on one face keep
the older. Points are smoothed per track with a One Euro filter scaled by the face's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError
from . import geometry
from .detectors import box_iou
from .results import FaceLandmarks, LandmarkerResult
from .smoothing import OneEuroFilter

if TYPE_CHECKING:
    from .landmarker import Landmarker

__all__ = ["FaceTracker", "Track", "check_timestamp"]


def check_timestamp(timestamp_ms, last: int | None) -> int:
    """A video / stream timestamp as an int; ``InputError`` unless it is an integer above ``last``."""
    if not isinstance(timestamp_ms, (int, np.integer)) or isinstance(timestamp_ms, bool):
        raise InputError(f"timestamp_ms must be an integer (milliseconds), got {type(timestamp_ms).__name__}")
    if last is not None and timestamp_ms <= last:
        raise InputError(f"timestamp_ms must increase: got {timestamp_ms} after {last}")
    return int(timestamp_ms)


@dataclass
class Track:
    """One face followed through a video."""

    track_id: int
    raw: np.ndarray  # unsmoothed points of the last frame (image pixels)
    filter: OneEuroFilter


class FaceTracker:
    """The tracks of one video, and when to run the detector again. Not thread-safe: the Landmarker's lock guards it."""

    def __init__(self) -> None:
        self.tracks: list[Track] = []
        self.next_id = 0
        self.frames = 0
        self.last_ts: int | None = None
        self.since_detect = 0
        self.redetect = True

    def reset(self) -> None:
        """Forget every track (ids keep counting); the next frame runs the detector."""
        self.tracks = []
        self.last_ts = None
        self.redetect = True

    def step(self, lm: Landmarker, image: np.ndarray, order: str, timestamp_ms: int) -> LandmarkerResult:
        """Landmarks of one frame with ``lm``'s model and detector; ``image`` already checked (``as_image``)."""
        self.last_ts = check_timestamp(timestamp_ms, self.last_ts)
        self.frames += 1
        o = lm.options
        tracks = list(self.tracks)
        regions = [lm.points_region(t.raw) for t in tracks]
        boxes = [geometry.box_from_points(t.raw) for t in tracks]
        if self.redetect or not tracks or self.since_detect + 1 >= o.redetect_interval:
            self.since_detect = 0
            self.redetect = False
            found = lm._detect_faces(image, order)  # 2 x max_faces candidates while the presence filter is on
            cap = o.max_faces if lm.min_face_presence is None else 2 * o.max_faces
            if len(found):
                det_regions = lm._front.regions(found)
                # a detection is a new face when it overlaps no tracked (or just added) face
                for k in range(len(found)):
                    if len(regions) >= cap:
                        break
                    if boxes and box_iou(found.boxes[k : k + 1], np.array(boxes)).max() > 0.2:
                        continue
                    regions.append(det_regions[k])
                    boxes.append(found.boxes[k])
        else:
            self.since_detect += 1
        h, w = image.shape[:2]
        min_score = o.track_min_score if o.track_min_score is not None else (lm.min_face_presence or 0.0)
        faces = lm._landmarks_for_regions(image, order, np.array(regions).reshape(-1, 4), np.array(boxes).reshape(-1, 4))
        # tracks first (existing ids), then new faces
        kept: list[Track] = []
        out: list[FaceLandmarks] = []
        for i, face in enumerate(faces):
            if len(kept) >= o.max_faces:  # non-face candidates dropped, the best max_faces kept
                break
            inside = np.isfinite(face.points).all() and geometry.box_from_points(face.points)[[2, 3]].min() > 0 \
                and face.points[:, 0].min() < w and face.points[:, 1].min() < h
            if face.score < min_score or not inside:
                if i < len(tracks):
                    self.redetect = True  # lost: look for faces on the next frame
                continue
            if i < len(tracks):
                track = tracks[i]
            else:
                track = Track(self.next_id, face.points, OneEuroFilter())
                self.next_id += 1
            # two tracks that converged on one face: the older one stays
            lm_box = geometry.box_from_points(face.points)
            if any(box_iou(lm_box[None], geometry.box_from_points(t.raw)[None])[0, 0] > 0.5 for t in kept):
                continue
            track.raw = face.points
            pts = face.points
            if o.smoothing:
                size = float(np.ptp(face.points, axis=0).max())
                pts = track.filter(face.points, timestamp_ms / 1000.0, scale=size).astype(np.float32)
            kept.append(track)
            out.append(FaceLandmarks(pts, lm_box.astype(np.float32), face.score, face.point_scores, track.track_id))
        self.tracks = kept
        return LandmarkerResult(out, int(timestamp_ms))
