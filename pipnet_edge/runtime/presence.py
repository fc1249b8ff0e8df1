"""The face presence score: non-faces the detector found are dropped by the landmark model's own confidence.

In the spirit of MediaPipe Face Landmarker's ``min_face_presence_confidence``: a face detector fires now and then on
things that are not faces (the eye sockets of a skull mask, a cup seen from above, a cat); the landmark model, run on
such a crop, finds no clear landmark and its heatmap peaks stay low. A face's presence score is
:attr:`~pipnet_edge.runtime.results.FaceLandmarks.score`, the mean heatmap peak over its points; a Landmarker drops a
face the detector found when that score is below ``min_face_presence``, and a video track ends when it falls below.

The default, ``"auto"``, is the threshold chosen for the model's network (its card's ``min_face_presence``, matched by input
size, stride and neighbours, so an export of a bundled model gets that model's value; any other network gets
:data:`FALLBACK_MIN_FACE_PRESENCE`). They were chosen on photos made of the 300W TRAINING faces and of face-free
backgrounds, as the highest score any non-face reached plus 0.02, and checked on the test photos
(``python -m benchmarks face_presence``; figures in docs/runtime.md). ``0`` or ``None`` turns the filter off.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

from ..errors import InputError

__all__ = ["AUTO", "FALLBACK_MIN_FACE_PRESENCE", "MIN_FACE_PRESENCE", "check_min_face_presence", "keep_present",
           "resolve_min_face_presence"]

from ..assets.registry import CARDS

AUTO = "auto"
# bundled model -> its threshold on the mean heatmap peak, from its card (python -m benchmarks face_presence)
MIN_FACE_PRESENCE: dict[str, float] = {n: c.min_face_presence for n, c in CARDS.items() if c.min_face_presence}
# a network that is neither: the default model's value (at the detectors' default thresholds no non-face of the
# background set scored above it with either bundled model)
FALLBACK_MIN_FACE_PRESENCE = MIN_FACE_PRESENCE["default"]


def check_min_face_presence(value) -> None:
    """``InputError`` unless ``value`` is ``"auto"``, ``None`` or a number in [0, 1]."""
    if value is None or value == AUTO:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (0.0 <= value <= 1.0):
        raise InputError(f"min_face_presence must be 'auto' (the threshold chosen for the model), a number in [0, 1] "
                         f"(a face's score, its mean heatmap peak, must reach it) or 0 / None (off); got {value!r}")


def resolve_min_face_presence(value, spec) -> float | None:
    """The threshold a Landmarker applies: ``value`` itself, the model's own for ``"auto"``, ``None`` when off."""
    check_min_face_presence(value)
    if value == AUTO:
        for name, card in CARDS.items():
            if (card.input_size, card.stride, card.num_nb) == (spec.input_size, spec.net_stride, spec.num_nb) \
                    and name in MIN_FACE_PRESENCE:
                return MIN_FACE_PRESENCE[name]
        return FALLBACK_MIN_FACE_PRESENCE
    if value is None or value == 0:
        return None
    return float(value)


def keep_present(faces: Sequence, threshold: float | None) -> list:
    """The faces whose presence score (``face.score``) reaches ``threshold`` (all of them when it is ``None``)."""
    if threshold is None:
        return list(faces)
    return [f for f in faces if f.score >= threshold]
