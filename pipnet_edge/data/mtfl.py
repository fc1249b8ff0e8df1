"""MTFL-style five-point face lists, and the seeded held-out split every tool shares.

A list line is ``path x1 x2 x3 x4 x5 y1 y2 y3 y4 y5`` (left eye centre, right eye centre, nose
tip, left mouth corner, right mouth corner; 0-based pixels of the image at ``path``, relative
to the list's folder). Each face is read as a :class:`~pipnet_edge.data.annotations.FaceRecord`
whose ``points`` are the five points and whose ``box`` is the estimated 68-point landmark box
(:mod:`pipnet_edge.data.five_point_crop`), so crops, augmentation and evaluation treat it like
a labelled face.

Misaligned annotations: the 2,350 faces of ``net_7876/`` named ``_<angle>_<n>_<k>.jpg`` carry y
coordinates about 27 px (a third of the 80-px image) too small: their five points sit on the forehead
or above the head, in every angle group alike (measured against YuNet's five landmarks on 60 faces per
group: median offset +27.1 to +27.7 px in y, IQR 1.0-1.6 px, x within 0.4 px; the other MTFL faces:
0.0 px). A crop from them misses the face, so the reader skips them unless ``keep_misaligned``.

1,000 of the remaining 7,650 faces of ``../shared/data/mtfl/train_5pt.txt`` (seed 0) are held out for
the in-the-wild check and never trained on. The split is stored in the package (``data/splits/mtfl_held_out.txt``,
one ``folder/file`` key per line), so training and evaluation read the same faces; reproduce it
with::

    python -m pipnet_edge.data.mtfl --list ../shared/data/mtfl/train_5pt.txt \
        --write-split pipnet_edge/data/splits/mtfl_held_out.txt
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..errors import DataError, InputError
from .annotations import FaceRecord
from .five_point_crop import landmark_box_from_five

__all__ = [
    "HELD_OUT_COUNT",
    "HELD_OUT_SEED",
    "HELD_OUT_SPLIT",
    "MISALIGNED",
    "face_key",
    "load_held_out_faces",
    "load_unlabelled_faces",
    "make_held_out_split",
    "read_five_point_list",
    "read_split",
    "split_held_out",
    "write_split",
]

HELD_OUT_SPLIT = Path(__file__).resolve().parent / "splits" / "mtfl_held_out.txt"
HELD_OUT_COUNT = 1000
HELD_OUT_SEED = 0
# MTFL's net_7876 faces named "_<angle>_<n>_<k>.jpg": annotations ~27 px too high (see the module docstring)
MISALIGNED = re.compile(r"(^|/)net_7876/_-?\d+_\d+_\d+\.jpg$")

log = logging.getLogger("pipnet_edge.data")


def read_five_point_list(list_file: str | Path, image_root: str | Path | None = None, check_images: bool = True,
                         keep_misaligned: bool = False) -> list[FaceRecord]:
    """The faces of an MTFL-style list (images relative to ``image_root``, default the list's folder).

    Faces whose path matches :data:`MISALIGNED` are skipped unless ``keep_misaligned``.
    """
    list_file = Path(list_file)
    root = Path(image_root) if image_root else list_file.parent
    try:
        lines = list_file.read_text().splitlines()
    except OSError as exc:
        raise DataError(f"cannot read the five-point list {list_file}: {exc}") from None
    records = []
    skipped = 0
    for ln, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        if not keep_misaligned and MISALIGNED.search(parts[0]):
            skipped += 1
            continue
        if len(parts) != 11:
            raise DataError(f"{list_file}:{ln}: expected 'path x1 x2 x3 x4 x5 y1 y2 y3 y4 y5' (11 fields), found {len(parts)}")
        try:
            values = np.array(parts[1:], dtype=np.float64)
        except ValueError:
            raise DataError(f"{list_file}:{ln}: the ten coordinates must be numbers, got {' '.join(parts[1:])!r}") from None
        if not np.isfinite(values).all():
            raise DataError(f"{list_file}:{ln}: coordinates contain NaN or infinite values")
        points = np.stack([values[:5], values[5:]], axis=1)
        try:
            box = landmark_box_from_five(points)
        except InputError as exc:
            raise DataError(f"{list_file}:{ln}: {exc}") from None
        image = root / parts[0]
        if check_images and not image.is_file():
            raise DataError(f"{list_file}:{ln}: image {image} does not exist (pass the folder the paths are relative to)")
        records.append(FaceRecord(image, points.astype(np.float32), box))
    if skipped:
        log.info("skipped %d faces of %s with misaligned annotations (net_7876/_<angle>_*.jpg)", skipped, list_file)
    if not records:
        raise DataError(f"{list_file} lists no faces" + (f" besides {skipped} misaligned ones" if skipped else ""))
    return records


def face_key(record: FaceRecord) -> str:
    """The name a face has in split files: its folder and file name (``lfw_5590/Aaron_Eckhart_0001.jpg``)."""
    return f"{record.image_path.parent.name}/{record.image_path.name}"


def make_held_out_split(records: Sequence[FaceRecord], count: int = HELD_OUT_COUNT, seed: int = HELD_OUT_SEED) -> list[str]:
    """Keys of ``count`` faces drawn with ``seed`` (sorted)."""
    keys = [face_key(r) for r in records]
    if len(set(keys)) != len(keys):
        raise DataError("the five-point list names a face twice; split keys must be unique")
    if not 0 < count < len(keys):
        raise DataError(f"cannot hold out {count} of {len(keys)} faces")
    order = np.random.default_rng(seed).permutation(len(keys))[:count]
    return sorted(keys[i] for i in order)


def write_split(path: str | Path, keys: Iterable[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{k}\n" for k in keys))
    return path


def read_split(path: str | Path = HELD_OUT_SPLIT) -> set[str]:
    """Keys of a split file (one per line)."""
    try:
        return {line.strip() for line in Path(path).read_text().splitlines() if line.strip()}
    except OSError as exc:
        raise DataError(f"cannot read the split file {path}: {exc}") from None


def split_held_out(records: Sequence[FaceRecord], split: str | Path = HELD_OUT_SPLIT
                   ) -> tuple[list[FaceRecord], list[FaceRecord]]:
    """``(training faces, held-out faces)``: faces named in ``split`` are held out."""
    held = read_split(split)
    train = [r for r in records if face_key(r) not in held]
    return train, [r for r in records if face_key(r) in held]


def load_unlabelled_faces(list_file: str | Path, split: str | Path = HELD_OUT_SPLIT) -> list[FaceRecord]:
    """Faces of a list for training: every face except the held-out ones."""
    train = split_held_out(read_five_point_list(list_file), split)[0]
    if not train:
        raise DataError(f"every face of {list_file} is held out for evaluation ({split}); nothing is left to train on")
    return train


def load_held_out_faces(list_file: str | Path, split: str | Path | None = HELD_OUT_SPLIT) -> list[FaceRecord]:
    """The held-out faces of a list (``split=None``: every face of the list)."""
    records = read_five_point_list(list_file)
    if split is None:
        return records
    held = split_held_out(records, split)[1]
    if not held:
        raise DataError(f"none of the faces of {list_file} is in the held-out split {split}; "
                        "to evaluate on every face of the list, pass --five-point-all")
    return held


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipnet_edge.data.mtfl", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--list", required=True, help="MTFL-style list (train_5pt.txt)")
    p.add_argument("--write-split", help="write the held-out keys here (default: print them)")
    p.add_argument("--count", type=int, default=HELD_OUT_COUNT)
    p.add_argument("--seed", type=int, default=HELD_OUT_SEED)
    args = p.parse_args(argv)
    try:
        keys = make_held_out_split(read_five_point_list(args.list), args.count, args.seed)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.write_split:
        print(f"wrote {len(keys)} held-out faces to {write_split(args.write_split, keys)}")
    else:
        sys.stdout.write("".join(f"{k}\n" for k in keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
