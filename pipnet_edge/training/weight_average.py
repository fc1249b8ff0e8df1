"""Weight averages of two fine-tunes of one model (a "model soup", Wortsman et al., ICML 2022).

Two runs that start from the same weights and differ in their data (say a polish on the labelled faces alone and one
with pseudo-labelled faces in its batches) can be averaged weight by weight: ``(1 - t) * A + t * B`` for every float
weight and BatchNorm statistic, ``A``'s integers (BatchNorm batch counters) kept. The average often sits between the
two on each measure, so ``t`` trades one for the other without another training run. Its point bias is measured again
on labelled training faces (:mod:`pipnet_edge.calibration.point_bias`), as training does::

    python -m pipnet_edge.training.weight_average --models runs/polish/final.safetensors \\
        runs/mixed-polish/final.safetensors --weight 0.25 --data ../shared/data/300w/train --out runs/soup.safetensors
"""

from __future__ import annotations

import argparse
import copy
import logging
import sys
from typing import TYPE_CHECKING

from ..errors import PipnetEdgeError, SpecError

if TYPE_CHECKING:
    from ..models.pipnet import PIPNet

__all__ = ["average_weights"]

log = logging.getLogger(__name__)


def _structure(spec):
    return spec.replace(point_bias=None, extra={})


def average_weights(a: "PIPNet", b: "PIPNet", t: float) -> "PIPNet":
    """A new model with ``(1 - t) * a + t * b`` for every float tensor of the two models' state (``a``'s integer
    tensors kept) and ``a``'s spec without a point bias (measure it again). ``a`` and ``b`` must share their spec
    (scheme, backbone, sizes, neighbour table, mean face): fine-tunes of one model."""
    if not 0.0 <= t <= 1.0:
        raise SpecError(f"the weight of the second model must be in [0, 1], got {t}")
    if _structure(a.spec) != _structure(b.spec):
        raise SpecError(f"the two models differ in their spec ({a.spec.backbone} {a.spec.input_size} px num_nb "
                        f"{a.spec.num_nb} vs {b.spec.backbone} {b.spec.input_size} px num_nb {b.spec.num_nb}, or their "
                        "mean face): weights average only between fine-tunes of one model")
    sa, sb = a.state_dict(), b.state_dict()
    if sa.keys() != sb.keys() or any(sa[k].shape != sb[k].shape for k in sa):
        raise SpecError("the two models' weights differ in names or shapes")
    out = copy.deepcopy(a)
    out.load_state_dict({k: (1.0 - t) * sa[k] + t * sb[k] if sa[k].is_floating_point() else sa[k] for k in sa})
    out.spec = a.spec.replace(point_bias=None)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipnet_edge.training.weight_average", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs=2, required=True, metavar=("A", "B"), help="two float models, fine-tunes of one")
    p.add_argument("--weight", type=float, required=True, help="t: the result is (1 - t) * A + t * B")
    p.add_argument("--data", required=True, help="labelled training faces the point bias is measured on (never the test set)")
    p.add_argument("--out", required=True, help="the averaged float model (.safetensors)")
    p.add_argument("--threads", type=int)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        import torch

        from ..calibration.point_bias import remeasure_point_bias
        from ..data.annotations import load_faces
        from ..models.checkpoint import load_model, save_model

        if args.threads:
            torch.set_num_threads(args.threads)
        a, b = (load_model(m) for m in args.models)
        model = average_weights(a, b, args.weight).eval()
        log.info("%g x %s + %g x %s; measuring its point bias on %s", 1 - args.weight, args.models[0], args.weight,
                 args.models[1], args.data)
        records = load_faces(args.data)
        remeasure_point_bias(model, records, args.data)
        save_model(model, args.out)
    except PipnetEdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{1 - args.weight:g} x {args.models[0]} + {args.weight:g} x {args.models[1]}, point bias on {len(records)} "
          f"faces: written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
