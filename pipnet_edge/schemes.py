"""Landmark schemes: how many points a face has, how they mirror, how error is normalised.

A :class:`LandmarkScheme` is pure data (numpy-free JSON types) so it can travel inside
every exported artifact as part of the :class:`~pipnet_edge.spec.ModelSpec`.

Built-in schemes follow the conventions of the public benchmarks (0-based indices):

========  ======  ==========================  =========================
name      points  NME normaliser              source
========  ======  ==========================  =========================
300w-68   68      outer eye corners 36 / 45   iBUG 300-W
wflw-98   98      outer eye corners 60 / 72   WFLW
cofw-29   29      pupils 8 / 9                COFW (29-point version)
aflw-19   19      sqrt(w*h) of the face box   AFLW (19-point version)
========  ======  ==========================  =========================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .errors import SpecError

__all__ = ["LandmarkScheme", "BUILTIN_SCHEMES", "get_scheme", "custom_scheme", "flip_permutation_from_pairs"]


def flip_permutation_from_pairs(num_points: int, pairs: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """Build a flip permutation from mirrored index pairs; points in no pair map to themselves.

    ``perm[i]`` is the index of the point that lands on point ``i`` after a horizontal flip.
    """
    perm = list(range(num_points))
    seen: set[int] = set()
    for pair in pairs:
        if len(pair) != 2:
            raise SpecError(f"flip pair {pair!r} must have exactly two indices")
        a, b = int(pair[0]), int(pair[1])
        for idx in (a, b):
            if not 0 <= idx < num_points:
                raise SpecError(f"flip pair {pair!r} has index {idx} outside 0..{num_points - 1}")
            if idx in seen:
                raise SpecError(f"flip pairs use index {idx} twice")
            seen.add(idx)
        perm[a], perm[b] = b, a
    return tuple(perm)


@dataclass(frozen=True)
class LandmarkScheme:
    """A landmark annotation scheme.

    Attributes:
        name: identifier, e.g. ``"300w-68"``.
        num_points: number of landmarks.
        flip_permutation: ``perm[i]`` = index of the point that becomes point ``i`` after a
            horizontal mirror. Must be an involution (applying it twice is the identity).
        norm: how NME is normalised: ``"points"`` (distance between ``norm_indices``) or
            ``"box"`` (``sqrt(w*h)`` of the ground-truth landmark box).
        norm_indices: the two points whose distance normalises NME when ``norm == "points"``.
    """

    name: str
    num_points: int
    flip_permutation: tuple[int, ...]
    norm: str = "points"
    norm_indices: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.num_points, int) or self.num_points < 1:
            raise SpecError(f"scheme.num_points must be a positive integer, got {self.num_points!r}")
        perm = tuple(int(i) for i in self.flip_permutation)
        object.__setattr__(self, "flip_permutation", perm)
        if len(perm) != self.num_points:
            raise SpecError(
                f"scheme.flip_permutation has {len(perm)} entries but the scheme has {self.num_points} points"
            )
        if sorted(perm) != list(range(self.num_points)):
            raise SpecError("scheme.flip_permutation is not a permutation of 0..num_points-1")
        if any(perm[perm[i]] != i for i in range(self.num_points)):
            raise SpecError("scheme.flip_permutation must be its own inverse (mirror pairs)")
        if self.norm not in ("points", "box"):
            raise SpecError(f"scheme.norm must be 'points' or 'box', got {self.norm!r}")
        if self.norm == "points":
            if self.norm_indices is None or len(self.norm_indices) != 2:
                raise SpecError("scheme.norm_indices must name two points when scheme.norm == 'points'")
            idx = (int(self.norm_indices[0]), int(self.norm_indices[1]))
            if not all(0 <= i < self.num_points for i in idx) or idx[0] == idx[1]:
                raise SpecError(f"scheme.norm_indices {idx} must be two distinct points in 0..{self.num_points - 1}")
            object.__setattr__(self, "norm_indices", idx)
        elif self.norm_indices is not None:
            object.__setattr__(self, "norm_indices", tuple(int(i) for i in self.norm_indices))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "num_points": self.num_points,
            "flip_permutation": list(self.flip_permutation),
            "norm": self.norm,
            "norm_indices": None if self.norm_indices is None else list(self.norm_indices),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LandmarkScheme":
        if not isinstance(data, dict):
            raise SpecError(f"scheme must be an object, got {type(data).__name__}")
        missing = [k for k in ("name", "num_points", "flip_permutation") if k not in data]
        if missing:
            raise SpecError(f"scheme is missing field(s): {', '.join('scheme.' + m for m in missing)}")
        norm_idx = data.get("norm_indices")
        return cls(
            name=str(data["name"]),
            num_points=data["num_points"],
            flip_permutation=tuple(data["flip_permutation"]),
            norm=data.get("norm", "points"),
            norm_indices=None if norm_idx is None else tuple(norm_idx),
        )


def _mirror(a: int, b: int) -> list[tuple[int, int]]:
    """Pairs (a, b), (a+1, b-1), ... for a run of points mirrored end to end."""
    pairs = []
    while a < b:
        pairs.append((a, b))
        a, b = a + 1, b - 1
    return pairs


_300W_PAIRS = (
    _mirror(0, 16)  # jaw
    + [(17, 26), (18, 25), (19, 24), (20, 23), (21, 22)]  # brows
    + [(31, 35), (32, 34)]  # nostrils
    + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    + [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]  # outer lip
    + [(60, 64), (61, 63), (65, 67)]  # inner lip
)

_WFLW_PAIRS = (
    _mirror(0, 32)
    + [(33, 46), (34, 45), (35, 44), (36, 43), (37, 42), (38, 50), (39, 49), (40, 48), (41, 47)]
    + [(55, 59), (56, 58)]
    + [(60, 72), (61, 71), (62, 70), (63, 69), (64, 68), (65, 75), (66, 74), (67, 73)]
    + [(76, 82), (77, 81), (78, 80), (83, 87), (84, 86), (88, 92), (89, 91), (93, 95), (96, 97)]
)

_COFW_PAIRS = [(0, 1), (4, 6), (2, 3), (5, 7), (8, 9), (10, 11), (12, 14), (16, 17), (13, 15), (18, 19), (22, 23)]
_AFLW_PAIRS = [(0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9), (12, 14), (15, 17)]

BUILTIN_SCHEMES: dict[str, LandmarkScheme] = {
    s.name: s
    for s in (
        LandmarkScheme("300w-68", 68, flip_permutation_from_pairs(68, _300W_PAIRS), "points", (36, 45)),
        LandmarkScheme("wflw-98", 98, flip_permutation_from_pairs(98, _WFLW_PAIRS), "points", (60, 72)),
        LandmarkScheme("cofw-29", 29, flip_permutation_from_pairs(29, _COFW_PAIRS), "points", (8, 9)),
        LandmarkScheme("aflw-19", 19, flip_permutation_from_pairs(19, _AFLW_PAIRS), "box", None),
    )
}


def get_scheme(name: str) -> LandmarkScheme:
    """Return a built-in scheme by name (``300w-68``, ``wflw-98``, ``cofw-29``, ``aflw-19``)."""
    key = name.lower()
    if key not in BUILTIN_SCHEMES:
        raise SpecError(f"unknown landmark scheme {name!r}; built-in schemes: {', '.join(BUILTIN_SCHEMES)}")
    return BUILTIN_SCHEMES[key]


def custom_scheme(
    name: str,
    num_points: int,
    flip_pairs: Sequence[Sequence[int]] = (),
    norm_indices: tuple[int, int] | None = None,
) -> LandmarkScheme:
    """A scheme for your own annotations: any point count, optional mirror pairs.

    Without ``norm_indices`` NME is normalised by the landmark box (``sqrt(w*h)``).
    Without ``flip_pairs`` every point maps to itself, so do not enable flip augmentation
    unless the points really are symmetric that way.
    """
    perm = flip_permutation_from_pairs(num_points, flip_pairs)
    if norm_indices is None:
        return LandmarkScheme(name, num_points, perm, "box", None)
    return LandmarkScheme(name, num_points, perm, "points", tuple(norm_indices))  # type: ignore[arg-type]
