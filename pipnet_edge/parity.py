"""``python -m pipnet_edge.parity``: an artifact's accuracy against its reference model.

Example::

    python -m pipnet_edge.parity --reference runs/mbv2/final.safetensors \\
        --candidate exports/pipnet_mbv2_300w68_tflite-int8.tflite --data ../shared/data/300w/test --out reports/

Reports NME of both, the delta, landmark displacement (mean / max), heatmap argmax agreement
and a per-landmark chart, as Markdown + JSON + PNG.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .errors import PipnetEdgeError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipnet_edge.parity", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reference", required=True, help="float checkpoint or artifact to compare against")
    p.add_argument("--candidate", required=True, help="artifact (or checkpoint) under test")
    p.add_argument("--data", required=True, help="labelled faces (folder of image + .pts)")
    p.add_argument("--limit", type=int, help="first N faces only")
    p.add_argument("--out", default="reports", help="folder for the .md/.json/.png report")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        from .evaluation.report import compare
        from .data.annotations import load_faces
        from .evaluation import open_predictor

        records = load_faces(args.data)[: args.limit or None]
        ref = open_predictor(args.reference)
        cand = open_predictor(args.candidate)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        stem = f"parity_{Path(args.candidate).stem}"
        report = compare(ref, cand, records, str(args.data), chart_path=out / f"{stem}.png")
        j, m = report.write(out, stem)
    except PipnetEdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.markdown())
    print(f"wrote {m} and {j}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
