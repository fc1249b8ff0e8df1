"""A QAT checkpoint's activation ranges estimated again after training, and its point bias measured again.

The library step is :func:`pipnet_edge.quantization.ranges.reestimate_activation_ranges` (each activation quantizer's
range becomes the mean of single faces' own min / max); this module applies it to a checkpoint on training faces and,
since the outputs moved, measures the point bias again on all of them, as training does::

    python -m pipnet_edge.calibration.activation_ranges --qat runs/mbv2-qat/qat.safetensors \\
        --data ../shared/data/300w/train --out runs/mbv2-qat-ranges/qat.safetensors

The faces are training faces (never the test set). ``--five-point LIST --five-point-count N`` adds ``N`` faces of an
MTFL-style five-point list (its held-out faces are never read) to the ones the ranges are estimated on, cropped as the
in-the-wild check crops them: ranges that also cover the kind of faces the model will meet (small, blurred, turned
photos), where 300W's studio-sharp crops alone set them. The point bias is still measured on the labelled faces.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import DataError, PipnetEdgeError

__all__ = ["reestimate_checkpoint"]

log = logging.getLogger(__name__)


def _require_qat(path: str | Path) -> None:
    from ..quantization.qat_model import is_qat_file

    if not is_qat_file(path):
        raise DataError(f"{path} is not a QAT checkpoint (train one with --qat); float models have no ranges to estimate")


def reestimate_checkpoint(qat: str | Path, records: Sequence, out: str | Path, count: int = 256, seed: int = 0,
                          data: str = "", extra: Sequence = (), extra_count: int = 0) -> int:
    """Re-estimate the activation ranges of a QAT checkpoint on ``count`` of ``records`` (seeded) and ``extra_count``
    of ``extra`` (more faces, e.g. unlabelled in-the-wild ones with a face box; seeded), measure its point bias
    again on all of ``records`` and write the result to ``out``; returns the number of faces the ranges saw."""
    from ..evaluation.runner import read_face_crops
    from ..quantization.qat_model import QATModel
    from ..quantization.ranges import reestimate_activation_ranges
    from .dataset import draw_faces
    from .point_bias import remeasure_point_bias

    _require_qat(qat)
    if not records:
        raise DataError("no labelled faces given")
    if count < 1:
        raise DataError(f"--count must be at least 1, got {count}")
    if extra_count < 0:
        raise DataError(f"--five-point-count must be at least 0, got {extra_count}")
    if extra_count and not extra:
        raise DataError(f"{extra_count} extra faces asked for and none given (--five-point LIST)")
    model = QATModel.load(qat)
    rng = np.random.default_rng(seed)
    pick = draw_faces(records, count, rng)
    if extra_count:  # drawn after the labelled ones: the labelled pick is the same with or without extra faces
        more = draw_faces(extra, extra_count, rng)
        log.info("ranges on %d labelled and %d extra faces", len(pick), len(more))
        pick = pick + more
    crops, _ = read_face_crops(pick, model.spec)
    n = reestimate_activation_ranges(model, crops)
    log.info("activation ranges of %d quantizers re-estimated on %d faces", n, len(pick))
    remeasure_point_bias(model, records, data)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    return len(pick)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipnet_edge.calibration.activation_ranges", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--qat", required=True, help="QAT .safetensors checkpoint")
    p.add_argument("--data", required=True, help="labelled training faces (never the test set)")
    p.add_argument("--out", required=True, help="the QAT checkpoint with the new ranges and point bias")
    p.add_argument("--count", type=int, default=256, help="faces the ranges are estimated on (default 256)")
    p.add_argument("--five-point", metavar="LIST",
                   help="MTFL-style five-point list of more faces for the ranges (its held-out faces are never read)")
    p.add_argument("--five-point-count", type=int, default=256,
                   help="faces of --five-point LIST added to the ranges' faces (default 256)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        from ..data.annotations import load_faces

        _require_qat(args.qat)  # before reading any face
        records = load_faces(args.data)
        extra: list = []
        if args.five_point:
            from ..data.mtfl import load_unlabelled_faces

            extra = load_unlabelled_faces(args.five_point)
        n = reestimate_checkpoint(args.qat, records, args.out, args.count, args.seed, args.data,
                                  extra, args.five_point_count if args.five_point else 0)
    except PipnetEdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"activation ranges of {args.qat} re-estimated on {n} faces, point bias on {len(records)}; written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
