"""Face geometry from 68 points (300W scheme): head pose, a face aligned for recognition, eye and mouth openness.

Numpy and OpenCV only, computed on demand (nothing here runs unless called)::

    from pipnet_edge.runtime import face_geometry as fg
    pose = fg.head_pose(face.points, (width, height))      # HeadPose: yaw, pitch, roll in degrees
    crop = fg.aligned_crop(image, face.points)             # 112 x 112, ArcFace's five-point template
    eyes = fg.openness(face.points)                         # Openness: left_eye, right_eye, mouth ratios

(the same as ``face.head_pose((width, height))``, ``face.aligned_crop(image)``, ``face.openness()`` on a
:class:`~pipnet_edge.runtime.results.FaceLandmarks`).

**Head pose conventions** (degrees; 0, 0, 0 is a face looking straight into the camera, upright):

* ``yaw`` > 0: the face turned to its own left, the nose towards the image's right;
* ``pitch`` > 0: the face turned up, the nose towards the image's top;
* ``roll`` > 0: the face turned counter-clockwise on screen (the top of the head towards the image's left), the
  convention of :func:`~pipnet_edge.runtime.preprocess.roll_angles`, which the Landmarker uses to turn crops upright.

The rotation ``R`` (object to camera, OpenCV's camera axes: x right, y down, z forward) is
``Rz(-roll) @ Rx(-pitch) @ Ry(-yaw)``: yaw about the head's own vertical axis first, then pitch, then roll about the
camera's optical axis. So turning the photo about the principal point by ``a`` degrees counter-clockwise adds
exactly ``a`` to ``roll`` and leaves yaw and pitch alone, and mirroring the photo (with the points relabelled by the
scheme's flip permutation) negates yaw and roll and keeps pitch. The angles are the face's orientation relative to
the camera's axes, as ``cv2.solvePnP`` gives it: a frontal face far off the image centre has a small yaw / pitch
(the camera sees it from the side).

**Camera**: pinhole, no distortion, focal length ``focal`` pixels (default: the image width, about a 53 degree
horizontal field of view, a common guess when the camera is unknown), principal point at the image centre
``((W - 1) / 2, (H - 1) / 2)`` (pixel centres at integers, as the points). The angles depend little on the focal
length; the translation scales with it.

**The 3D mean face** (:data:`MEAN_FACE_3D`) is MediaPipe's canonical face model (``canonical_face_model.obj`` of
``google/mediapipe``, ``mediapipe/modules/face_geometry/data/``, Apache-2.0, Google; 468 vertices in centimetres,
unchanged since 2020), reduced to the 68 300W points by the FaceMesh -> iBUG-68 correspondence of Peizhi Yan's
"Mediapipe_2_Dlib_Landmarks" (the table the benchmarks' MediaPipe peer uses, where two vertices are listed their
mean), made exactly left-right symmetric (the correspondence is asymmetric at jaw points 3 / 13 only) and written in
OpenCV's object axes (x towards the face's left, y down, z into the head). The coordinates are copied below, so
nothing is downloaded. The pose is fitted on the 51 inner points (brows, nose, eyes, mouth: :data:`POSE_POINTS`);
the jaw line is left out because the 300W jaw points follow the face's silhouette, which moves over the head as it
turns, where a 3D model has fixed points.

**Aligned crop**: the similarity transform (rotation, uniform scale, translation; least squares, Umeyama 1991)
taking the five points of :func:`five_from_68` onto ArcFace's five-point template for 112 x 112 crops
(:data:`ARCFACE_TEMPLATE_112`, InsightFace's ``arcface_dst``); other sizes scale it as InsightFace's ``estimate_norm``
does (a multiple of 112: scaled; otherwise scaled by ``size / 128`` and shifted ``8 * size / 128`` px right).

**Openness**: the eye aspect ratio (Soukupova and Cech, *Real-Time Eye Blink Detection using Facial Landmarks*,
CVWW 2016) of each eye, ``(|p2 - p6| + |p3 - p5|) / (2 |p1 - p4|)`` over its six points (about 0.25-0.35 open,
near 0 closed), and a mouth aspect ratio on the inner lips,
``(|p61 - p67| + |p62 - p66| + |p63 - p65|) / (3 |p60 - p64|)`` (0-based 300W indices; 0 closed, about 0.5-1 wide
open). ``left_eye`` / ``right_eye`` are the eyes on the image's left / right (0-based points 36-41 / 42-47), as in
:data:`~pipnet_edge.five_point.FIVE_POINT_NAMES`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..schemes import LandmarkScheme

__all__ = [
    "ARCFACE_TEMPLATE_112",
    "EYE_68",
    "HeadPose",
    "INNER_LIPS_68",
    "MEAN_FACE_3D",
    "MOUTH_CORNERS_68",
    "NOSE_TIP_68",
    "Openness",
    "POSE_POINTS",
    "alignment_matrix",
    "aligned_crop",
    "arcface_template",
    "camera_matrix",
    "euler_from_rotation",
    "eye_aspect_ratio",
    "five_from_68",
    "head_pose",
    "mouth_aspect_ratio",
    "openness",
    "rotation_from_euler",
]

# ------------------------------------------------------------------------------------------------ the 68 points
# 0-based 300W indices: the six points of each eye (their mean is the eye centre; 36 / 45 the outer corners),
# the nose tip, the mouth corners, the inner lips (60 / 64 their corners)
EYE_68 = (tuple(range(36, 42)), tuple(range(42, 48)))
NOSE_TIP_68 = 30
MOUTH_CORNERS_68 = (48, 54)
INNER_LIPS_68 = tuple(range(60, 68))
NUM_POINTS = 68
SCHEME_NAME = "300w-68"


def _check_scheme(scheme: LandmarkScheme | str | None) -> None:
    if scheme is None:
        return
    name = scheme if isinstance(scheme, str) else getattr(scheme, "name", None)
    if name != SCHEME_NAME:
        raise InputError(f"face geometry needs the 68 points of the 300W scheme ('{SCHEME_NAME}'), not scheme {name!r}")


def _points(points: Any, what: str, allow_five: bool = False) -> np.ndarray:
    """``(68, 2)`` float64 points (or ``(5, 2)`` when ``allow_five``), finite; InputError otherwise."""
    try:
        p = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} takes (68, 2) points, got {type(points).__name__}: {exc}") from None
    shapes = [(NUM_POINTS, 2)] + ([(5, 2)] if allow_five else [])
    if p.shape not in shapes:
        n = f"{p.shape[0]} points" if p.ndim == 2 and p.shape[1] == 2 else f"shape {p.shape}"
        want = "(68, 2) points of the 300W scheme" + (" or (5, 2) five points" if allow_five else "")
        raise InputError(f"{what} takes {want}; got {n}" + ("" if p.ndim != 2 or p.shape[1] != 2 else
                                                            " (other landmark schemes are not supported)"))
    if not np.isfinite(p).all():
        raise InputError(f"{what}: the points contain NaN or infinite values")
    return p


def five_from_68(points: np.ndarray) -> np.ndarray:
    """The five points of 300W-68 faces: ``(..., 68, 2)`` -> ``(..., 5, 2)`` (float64): the image-left eye centre,
    the image-right eye centre (means of 0-based points 36-41 and 42-47), the nose tip (30) and the mouth corners
    (48, 54). The one place this mapping lives (:mod:`pipnet_edge.five_point` uses it)."""
    p = np.asarray(points, dtype=np.float64)
    if p.ndim < 2 or p.shape[-2:] != (NUM_POINTS, 2):
        raise InputError(f"five_from_68 takes (..., 68, 2) 300W points, got shape {p.shape}")
    return np.stack(
        [
            p[..., list(EYE_68[0]), :].mean(axis=-2),
            p[..., list(EYE_68[1]), :].mean(axis=-2),
            p[..., NOSE_TIP_68, :],
            p[..., MOUTH_CORNERS_68[0], :],
            p[..., MOUTH_CORNERS_68[1], :],
        ],
        axis=-2,
    )


# ------------------------------------------------------------------------------------------------ the 3D mean face
# MediaPipe's canonical face model (google/mediapipe, mediapipe/modules/face_geometry/data/canonical_face_model.obj,
# Apache-2.0): the vertices used, {0-based vertex index: (x, y, z)} as written in the file's "v" lines (line = index
# + 1 among them), centimetres, x towards the face's left (the image's right), y up, z out of the face.
_MP_VERTICES: dict[int, tuple[float, float, float]] = {
    0: (0.000000, -3.406404, 5.979507), 2: (0.000000, -2.089024, 6.058267), 4: (0.000000, -0.463170, 7.586580),
    5: (0.000000, 0.365669, 7.242870), 6: (0.000000, 2.473255, 5.788627), 13: (0.000000, -3.994436, 5.219482),
    14: (0.000000, -4.542400, 5.404754), 17: (0.000000, -5.365123, 5.535441), 33: (-4.445859, 2.663991, 3.173422),
    37: (-0.711452, -3.329355, 5.877044), 39: (-1.431615, -3.500953, 5.496189),
    58: (-6.719682, -4.788645, -1.745401), 61: (-2.456206, -4.342621, 4.283884), 63: (-4.985894, 4.802461, 3.751977),
    66: (-2.760292, 5.100971, 5.015990), 70: (-5.720968, 4.254584, 2.830852), 75: (-1.043625, -1.464973, 5.662455),
    78: (-2.153084, -4.276322, 4.038093), 82: (-0.533422, -3.993222, 5.138202), 84: (-0.699606, -5.291850, 5.448304),
    87: (-0.583218, -4.517982, 5.339869), 91: (-1.838624, -4.828746, 4.823737),
    93: (-7.542244, -1.049282, -2.431321), 97: (-0.597442, -2.013686, 5.866456),
    105: (-3.986562, 5.109487, 4.466315), 107: (-1.395634, 5.011963, 5.316032),
    127: (-7.743095, 2.364999, -2.005167), 132: (-7.270895, -2.890917, -2.252455),
    133: (-1.856432, 2.585245, 3.757904), 136: (-5.085276, -7.178590, 0.714711),
    144: (-3.670075, 2.360153, 3.635230), 150: (-4.068926, -7.993109, 1.925119),
    152: (0.000000, -9.403378, 4.264492), 153: (-2.724032, 2.315802, 3.777151), 158: (-2.724032, 2.961810, 3.871767),
    160: (-3.670075, 2.927714, 3.724325), 168: (0.000000, 3.271027, 5.236015),
    172: (-5.940524, -6.223629, -0.631468), 176: (-2.308977, -8.974196, 3.609070),
    195: (0.000000, 1.059413, 6.774605), 197: (0.000000, 1.728369, 6.316750), 234: (-7.664182, 0.673132, -2.435867),
    263: (4.445859, 2.663991, 3.173422), 267: (0.711452, -3.329355, 5.877044), 269: (1.431615, -3.500953, 5.496189),
    288: (6.719682, -4.788645, -1.745401), 291: (2.456206, -4.342621, 4.283884), 293: (4.985894, 4.802461, 3.751977),
    296: (2.760292, 5.100971, 5.015990), 300: (5.720968, 4.254584, 2.830852), 305: (1.043625, -1.464973, 5.662455),
    308: (2.153084, -4.276322, 4.038093), 312: (0.533422, -3.993222, 5.138202), 314: (0.699606, -5.291850, 5.448304),
    317: (0.583218, -4.517982, 5.339869), 321: (1.838624, -4.828746, 4.823737),
    323: (7.542244, -1.049282, -2.431321), 326: (0.597442, -2.013686, 5.866456), 334: (3.986562, 5.109487, 4.466315),
    336: (1.395634, 5.011963, 5.316032), 356: (7.743095, 2.364999, -2.005167), 361: (7.270895, -2.890917, -2.252455),
    362: (1.856432, 2.585245, 3.757904), 365: (5.085276, -7.178590, 0.714711), 373: (3.670075, 2.360153, 3.635230),
    379: (4.068926, -7.993109, 1.925119), 380: (2.724032, 2.315802, 3.777151), 385: (2.724032, 2.961810, 3.871767),
    387: (3.670075, 2.927714, 3.724325), 397: (5.940524, -6.223629, -0.631468), 400: (2.308977, -8.974196, 3.609070),
    454: (7.664182, 0.673132, -2.435867),
}
# 300W point i (0-based) <- the mean of these vertices (Peizhi Yan, github.com/PeizhiYan/Mediapipe_2_Dlib_Landmarks,
# mediapipe2dlib/mp2dlib.py; benchmarks/peers/landmarkers.py MP468_TO_IBUG68 checks it on the training faces)
_MP_TO_68: tuple[tuple[int, ...], ...] = (
    (127,), (234,), (93,), (132, 58), (58, 172), (136,), (150,), (176,), (152,),  # jaw 0-8
    (400,), (379,), (365,), (397, 288), (361,), (323,), (454,), (356,),  # jaw 9-16
    (70,), (63,), (105,), (66,), (107,), (336,), (296,), (334,), (293,), (300,),  # brows 17-26
    (168, 6), (197, 195), (5,), (4,), (75,), (97,), (2,), (326,), (305,),  # nose 27-35
    (33,), (160,), (158,), (133,), (153,), (144,), (362,), (385,), (387,), (263,), (373,), (380,),  # eyes 36-47
    (61,), (39,), (37,), (0,), (267,), (269,), (291,), (321,), (314,), (17,), (84,), (91,),  # outer lips 48-59
    (78,), (82,), (13,), (312,), (308,), (317,), (14,), (87,),  # inner lips 60-67
)
# mirror pairs of the 300W scheme (also in schemes.py; repeated here so the model is built from this file alone)
_FLIP_PAIRS_68 = ([(i, 16 - i) for i in range(8)] + [(17 + i, 26 - i) for i in range(5)] + [(31, 35), (32, 34)]
                  + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
                  + [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)])


def _mean_face_3d() -> np.ndarray:
    mp = np.array([np.mean([_MP_VERTICES[v] for v in vs], axis=0) for vs in _MP_TO_68])
    perm = np.arange(NUM_POINTS)
    for a, b in _FLIP_PAIRS_68:
        perm[a], perm[b] = b, a
    sym = (mp + mp[perm] * [-1.0, 1.0, 1.0]) / 2.0  # each point and its mirror image averaged: exactly symmetric
    out = sym * [1.0, -1.0, -1.0]  # MediaPipe's axes (x left of the face, y up, z out) -> OpenCV's (y down, z in)
    out.setflags(write=False)
    return out


MEAN_FACE_3D: np.ndarray = _mean_face_3d()
"""``(68, 3)`` the 3D mean face in centimetres, OpenCV object axes (x towards the face's left, y down, z into the
head); a frontal upright face seen by an OpenCV camera has rotation identity. Read-only."""

POSE_POINTS: tuple[int, ...] = tuple(range(17, 68))
"""The points :func:`head_pose` fits: the 51 inner points (brows, nose, eyes, mouth), not the jaw line."""


# ------------------------------------------------------------------------------------------------ head pose
@dataclass(frozen=True)
class HeadPose:
    """A face's orientation and position relative to the camera (conventions: module docstring).

    Attributes:
        yaw: degrees, > 0 when the face turns to its own left (the nose towards the image's right).
        pitch: degrees, > 0 when the face turns up.
        roll: degrees, > 0 when the face is turned counter-clockwise on screen.
        rotation: ``(3, 3)`` object-to-camera rotation, OpenCV camera axes (x right, y down, z forward), of
            :data:`MEAN_FACE_3D`: ``Rz(-roll) @ Rx(-pitch) @ Ry(-yaw)``.
        translation: ``(3,)`` the mean face's origin in camera coordinates, centimetres (as far as the mean
            face's size and the focal length are right).
        reprojection_error: RMS distance in pixels between the fitted points and the mean face projected with
            this pose (how well a rigid mean face explains the points; grows with expression and bad points).
    """

    yaw: float
    pitch: float
    roll: float
    rotation: np.ndarray
    translation: np.ndarray
    reprojection_error: float

    @property
    def angles(self) -> tuple[float, float, float]:
        """``(yaw, pitch, roll)`` in degrees."""
        return (self.yaw, self.pitch, self.roll)


def _rx(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _ry(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rz(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotation_from_euler(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The ``(3, 3)`` object-to-camera rotation of a head pose in degrees (the inverse of
    :func:`euler_from_rotation`): ``Rz(-roll) @ Rx(-pitch) @ Ry(-yaw)``."""
    return _rz(-math.radians(roll)) @ _rx(-math.radians(pitch)) @ _ry(-math.radians(yaw))


def euler_from_rotation(rotation: np.ndarray) -> tuple[float, float, float]:
    """``(yaw, pitch, roll)`` in degrees of a ``(3, 3)`` object-to-camera rotation (conventions: module docstring);
    pitch in [-90, 90], yaw and roll in (-180, 180]."""
    r = np.asarray(rotation, dtype=np.float64)
    if r.shape != (3, 3) or not np.isfinite(r).all():
        raise InputError(f"a rotation is a finite (3, 3) matrix, got shape {r.shape}")
    # R = Rz(a) Rx(b) Ry(c): R[2, 1] = sin b, R[2, 0] = -cos b sin c, R[2, 2] = cos b cos c,
    # R[0, 1] = -sin a cos b, R[1, 1] = cos a cos b
    b = math.asin(max(-1.0, min(1.0, float(r[2, 1]))))
    c = math.atan2(-float(r[2, 0]), float(r[2, 2]))
    a = math.atan2(-float(r[0, 1]), float(r[1, 1]))
    return (-math.degrees(c) + 0.0, -math.degrees(b) + 0.0, -math.degrees(a) + 0.0)


def _image_size(image_size: Any) -> tuple[int, int]:
    if isinstance(image_size, np.ndarray) and image_size.ndim >= 2 and image_size.size > 2:
        return int(image_size.shape[1]), int(image_size.shape[0])  # an image: (H, W[, C])
    try:
        w, h = (float(v) for v in image_size)
    except (TypeError, ValueError):
        raise InputError(f"image_size must be (width, height) in pixels or the image itself, got {image_size!r}") from None
    if not (math.isfinite(w) and math.isfinite(h) and w >= 1 and h >= 1):
        raise InputError(f"image_size must be a positive (width, height), got {image_size!r}")
    return int(round(w)), int(round(h))


def camera_matrix(image_size: Any, focal: float | None = None) -> np.ndarray:
    """The ``(3, 3)`` pinhole camera :func:`head_pose` assumes: focal length ``focal`` px (default: the image
    width), principal point at the image centre ``((W - 1) / 2, (H - 1) / 2)``.

    Args:
        image_size: ``(width, height)`` in pixels, or the image (its ``shape[:2]`` is ``(height, width)``).
        focal: focal length in pixels.
    """
    w, h = _image_size(image_size)
    f = float(w if focal is None else focal)
    if not (math.isfinite(f) and f > 0):
        raise InputError(f"focal must be a positive number of pixels, got {focal!r}")
    return np.array([[f, 0.0, (w - 1) / 2.0], [0.0, f, (h - 1) / 2.0], [0.0, 0.0, 1.0]])


def head_pose(points: np.ndarray, image_size: Any, *, focal: float | None = None,
              scheme: LandmarkScheme | str | None = None) -> HeadPose:
    """Yaw, pitch and roll of a face from its 68 points: ``cv2.solvePnP`` of :data:`MEAN_FACE_3D` (its
    :data:`POSE_POINTS`) against the points, with the camera of :func:`camera_matrix`.

    The fit starts from an upright face at the distance the eye spacing gives, turned by the eye line's roll, and
    refines with Levenberg-Marquardt (``SOLVEPNP_ITERATIVE``), so it does not land on the mirror solution that faces
    away from the camera.

    Args:
        points: ``(68, 2)`` image pixels of one face, 300W order (``FaceLandmarks.points``).
        image_size: ``(width, height)`` of the image the points are in, or the image itself.
        focal: focal length in pixels (default: the image width).
        scheme: the points' landmark scheme, when known; anything but ``"300w-68"`` raises.

    Returns:
        a :class:`HeadPose` (degrees; conventions in this module's docstring).

    Raises:
        InputError: points that are not ``(68, 2)`` finite numbers, another scheme, a bad image size or focal
            length, or points no pose explains (all on one spot).
    """
    import cv2

    _check_scheme(scheme)
    p = _points(points, "head_pose")
    k = camera_matrix(image_size, focal)
    idx = list(POSE_POINTS)
    obj, img = MEAN_FACE_3D[idx], p[idx]
    # initial guess: upright, turned by the eye line, at the depth the eye centres' spacing gives
    left, right = p[list(EYE_68[0])].mean(0), p[list(EYE_68[1])].mean(0)
    eyes_px = float(np.linalg.norm(right - left))
    if eyes_px < 1e-6:
        raise InputError("head_pose: the two eyes lie on one spot; the points describe no face")
    eyes_3d = float(np.linalg.norm(MEAN_FACE_3D[list(EYE_68[1])].mean(0) - MEAN_FACE_3D[list(EYE_68[0])].mean(0)))
    roll0 = -math.atan2(right[1] - left[1], right[0] - left[0])
    r0 = _rz(-roll0)
    z = k[0, 0] * eyes_3d / eyes_px
    centre_3d = r0 @ obj.mean(0)
    c = img.mean(0)
    ray = np.array([(c[0] - k[0, 2]) / k[0, 0], (c[1] - k[1, 2]) / k[1, 1], 1.0])
    t0 = ray * z - centre_3d  # the points' centroid on its ray, at depth z
    rvec0, _ = cv2.Rodrigues(r0)
    try:
        ok, rvec, tvec = cv2.solvePnP(obj.reshape(-1, 1, 3), img.reshape(-1, 1, 2), k, None, rvec0.copy(),
                                      t0.reshape(3, 1).copy(), useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
    except cv2.error as exc:
        raise InputError(f"head_pose: solvePnP failed on these points ({exc.msg if hasattr(exc, 'msg') else exc})") from None
    if not ok or not (np.isfinite(rvec).all() and np.isfinite(tvec).all()):
        raise InputError("head_pose: no pose explains these points")
    rot, _ = cv2.Rodrigues(rvec)
    proj, _ = cv2.projectPoints(obj.reshape(-1, 1, 3), rvec, tvec, k, None)
    err = float(np.sqrt(((proj.reshape(-1, 2) - img) ** 2).sum(1).mean()))
    yaw, pitch, roll = euler_from_rotation(rot)
    return HeadPose(yaw, pitch, roll, rot, tvec.reshape(3).copy(), err)


# ------------------------------------------------------------------------------------------------ aligned crops
ARCFACE_TEMPLATE_112: np.ndarray = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]])
"""ArcFace's five-point template for 112 x 112 crops (InsightFace's ``arcface_dst``, pixels): the image-left eye,
the image-right eye, the nose tip, the image-left and image-right mouth corners (the order of
:func:`five_from_68`)."""
ARCFACE_TEMPLATE_112.setflags(write=False)


def arcface_template(size: int = 112) -> np.ndarray:
    """The five-point template for ``size x size`` crops, as InsightFace's ``estimate_norm`` scales it: a multiple
    of 112 scales :data:`ARCFACE_TEMPLATE_112` by ``size / 112``; any other size by ``size / 128``, shifted
    ``8 * size / 128`` px right (the 128 px template)."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8:
        raise InputError(f"size must be an integer of at least 8 pixels, got {size!r}")
    if size % 112 == 0:
        return ARCFACE_TEMPLATE_112 * (size / 112.0)
    ratio = size / 128.0
    return ARCFACE_TEMPLATE_112 * ratio + [8.0 * ratio, 0.0]


def _similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The least-squares similarity ``(2, 3)`` taking ``src`` onto ``dst`` (Umeyama 1991, no reflection)."""
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    var = (s**2).sum() / len(src)
    if var < 1e-12:
        raise InputError("aligned_crop: the five points lie on one spot")
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    e = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        e[1, 1] = -1.0
    r = u @ e @ vt
    scale = float((sig * np.diag(e)).sum() / var)
    m = np.zeros((2, 3))
    m[:, :2] = scale * r
    m[:, 2] = md - scale * r @ ms
    return m


def alignment_matrix(points: np.ndarray, size: int = 112) -> np.ndarray:
    """The ``(2, 3)`` similarity from image pixels to the aligned ``size x size`` crop: the face's five points
    (:func:`five_from_68` of 68 points, or five points given in that order) onto :func:`arcface_template`.

    Raises:
        InputError: points that are not ``(68, 2)`` or ``(5, 2)`` finite numbers; a bad size.
    """
    p = _points(points, "alignment_matrix", allow_five=True)
    five = five_from_68(p) if len(p) == NUM_POINTS else p
    return _similarity(five, arcface_template(size))


def aligned_crop(image: np.ndarray, points: np.ndarray, size: int = 112, *, border_value: float = 0.0,
                 scheme: LandmarkScheme | str | None = None) -> np.ndarray:
    """The face aligned for recognition: ``image`` warped by :func:`alignment_matrix` (bilinear; outside the
    image ``border_value``), ``(size, size[, C])`` of the image's dtype and channel order (BGR stays BGR).

    Args:
        image: ``(H, W)`` or ``(H, W, C)`` array the points are in.
        points: ``(68, 2)`` 300W points (or ``(5, 2)`` five points in :func:`five_from_68`'s order).
        size: side in pixels (112: ArcFace's crop).
        scheme: the points' landmark scheme, when known; anything but ``"300w-68"`` raises.

    Raises:
        InputError: a bad image, bad points, another scheme, a bad size.
    """
    import cv2

    _check_scheme(scheme)
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or image.shape[0] < 1 or image.shape[1] < 1:
        raise InputError(f"image must be an (H, W) or (H, W, C) numpy array, got {getattr(image, 'shape', type(image))}")
    m = alignment_matrix(points, size)
    return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=border_value)


# ------------------------------------------------------------------------------------------------ openness
@dataclass(frozen=True)
class Openness:
    """Eye and mouth openness of one face (conventions: module docstring).

    Attributes:
        left_eye: eye aspect ratio of the eye on the image's left (points 36-41; the face's own right eye).
        right_eye: eye aspect ratio of the eye on the image's right (points 42-47).
        mouth: mouth aspect ratio on the inner lips (points 60-67).
    """

    left_eye: float
    right_eye: float
    mouth: float

    @property
    def eyes(self) -> float:
        """The mean of the two eye aspect ratios (a blink detector's usual signal)."""
        return (self.left_eye + self.right_eye) / 2.0


def eye_aspect_ratio(eye: np.ndarray) -> float:
    """``(|p2 - p6| + |p3 - p5|) / (2 |p1 - p4|)`` of one eye's six points ``(6, 2)`` in 300W order (p1, p4 the
    corners, p2, p3 the upper lid, p5, p6 the lower lid)."""
    e = np.asarray(eye, dtype=np.float64)
    if e.shape != (6, 2) or not np.isfinite(e).all():
        raise InputError(f"eye_aspect_ratio takes an eye's six finite points (6, 2), got shape {e.shape}")
    width = float(np.linalg.norm(e[0] - e[3]))
    if width < 1e-9:
        raise InputError("eye_aspect_ratio: the eye's corners coincide")
    return float((np.linalg.norm(e[1] - e[5]) + np.linalg.norm(e[2] - e[4])) / (2.0 * width))


def mouth_aspect_ratio(points: np.ndarray) -> float:
    """``(|p61 - p67| + |p62 - p66| + |p63 - p65|) / (3 |p60 - p64|)`` of a face's 68 points (the inner lips)."""
    p = _points(points, "mouth_aspect_ratio")
    width = float(np.linalg.norm(p[60] - p[64]))
    if width < 1e-9:
        raise InputError("mouth_aspect_ratio: the mouth's corners coincide")
    gaps = sum(float(np.linalg.norm(p[a] - p[b])) for a, b in ((61, 67), (62, 66), (63, 65)))
    return gaps / (3.0 * width)


def openness(points: np.ndarray, *, scheme: LandmarkScheme | str | None = None) -> Openness:
    """Eye aspect ratio of each eye and the mouth aspect ratio of a face's ``(68, 2)`` 300W points.

    Raises:
        InputError: points that are not ``(68, 2)`` finite numbers, another scheme, coincident corners.
    """
    _check_scheme(scheme)
    p = _points(points, "openness")
    return Openness(eye_aspect_ratio(p[list(EYE_68[0])]), eye_aspect_ratio(p[list(EYE_68[1])]), mouth_aspect_ratio(p))
