"""A QAT checkpoint's activation ranges estimated again after training, and its point bias measured again.

The library step is :func:`pipnet_edge.quantization.ranges.reestimate_activation_ranges` (each activation quantizer's
range becomes the mean of single faces' own min / max); this module applies it to a checkpoint on training faces and,
since the outputs moved, measures the point bias again on all of them, as training does::

    python -m pipnet_edge.calibration.activation_ranges --qat runs/mbv2-qat/qat.safetensors \\
        --data ../shared/data/300w/train --out runs/mbv2-qat-ranges/qat.safetensors

The faces are training faces (never the test set).
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
                          data: str = "") -> int:
    """Re-estimate the activation ranges of a QAT checkpoint on ``count`` of ``records`` (seeded), measure its point
    bias again on all of them and write the result to ``out``; returns the number of faces the ranges saw."""
    from ..evaluation.runner import read_face_crops
    from ..quantization.qat_model import QATModel
    from ..quantization.ranges import reestimate_activation_ranges
    from .point_bias import remeasure_point_bias

    _require_qat(qat)
    if not records:
        raise DataError("no labelled faces given")
    if count < 1:
        raise DataError(f"--count must be at least 1, got {count}")
    model = QATModel.load(qat)
    rng = np.random.default_rng(seed)
    pick = [records[i] for i in sorted(rng.choice(len(records), min(count, len(records)), replace=False))]
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
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        from ..data.annotations import load_faces

        _require_qat(args.qat)  # before reading any face
        records = load_faces(args.data)
        n = reestimate_checkpoint(args.qat, records, args.out, args.count, args.seed, args.data)
    except PipnetEdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"activation ranges of {args.qat} re-estimated on {n} faces, point bias on {len(records)}; written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
