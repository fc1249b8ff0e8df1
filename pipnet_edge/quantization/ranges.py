"""Activation ranges of a QAT model, estimated again after training, and the fake-quantizers by what they quantize.

QAT leaves each activation quantizer with the moving average of per-batch min / max over the training batches
(augmented crops, 16 faces each): the range covers the extremes of each batch. Re-estimating it after training as
the mean over single faces of their own min / max (NNCF's default estimator for activations) gives tighter ranges,
finer steps where most values lie, and clips the rare extremes. The weights and the weights' quantizers are left as
they are; every INT8 artifact made from the result reads the new ranges. Measured on the default model's
validation split (docs/models.md, `default`; docs/experiments/2026-12-01-default-recipe): 300W validation NME
3.293 -> 3.253 %, its float model 3.233 %.

The command that applies it to a QAT checkpoint (and measures the point bias again) is
``python -m pipnet_edge.calibration.activation_ranges``.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Iterable

import numpy as np

from ..errors import DataError

__all__ = ["QUANTIZER_GROUPS", "quantizer_groups", "reestimate_activation_ranges"]

log = logging.getLogger(__name__)

QUANTIZER_GROUPS = {
    "weights": "every convolution's weights",
    "relu6": "ReLU6 outputs",
    "projection": "projection (linear bottleneck) convolution outputs",
    "add": "residual Add outputs",
    "heads": "the five heads' outputs",
    "input": "the input pixels",
}


def quantizer_groups(graph) -> dict[str, list[str]]:
    """Names of the fake-quantizer modules of a PT2E QAT graph by what they quantize (:data:`QUANTIZER_GROUPS`).

    Raises:
        ValueError: a quantizer on a tensor none of the groups describes (a graph of another shape).
    """
    groups: dict[str, list[str]] = {g: [] for g in QUANTIZER_GROUPS}
    for node in graph.graph.nodes:
        if node.op != "call_module" or not hasattr(graph.get_submodule(node.target), "enable_fake_quant"):
            continue
        src = node.args[0]
        name = src.name.rstrip("0123456789_")
        if src.op == "get_attr" or name == "mul":  # a weight, or a weight scaled by its folded BatchNorm
            groups["weights"].append(node.target)
        elif name.startswith("hardtanh"):
            groups["relu6"].append(node.target)
        elif name.startswith("batch_norm"):
            groups["projection"].append(node.target)
        elif name.startswith("add"):
            groups["add"].append(node.target)
        elif name in ("conv2d", "permute") and any(u.op == "output" or u.name.startswith("permute") for u in node.users):
            groups["heads"].append(node.target)
        elif name == "permute":
            groups["input"].append(node.target)
        else:
            raise ValueError(f"fake-quantizer {node.target} on {src.name}: no group for it")
    return groups


def reestimate_activation_ranges(model, crops: Iterable[np.ndarray]) -> int:
    """Set every activation quantizer's range of ``model`` (a :class:`~pipnet_edge.quantization.QATModel`) to the
    mean over ``crops`` (raw-pixel ``(H, W, 3)`` face crops, the model's input) of each crop's own min / max.

    Returns the number of quantizers set. Raises :class:`DataError` when ``crops`` is empty.
    """
    import torch

    crops = list(crops)
    if not crops:  # before any range is touched
        raise DataError("no face crops to estimate the activation ranges on")
    graph = model.graph
    groups = quantizer_groups(graph)
    fqs = [graph.get_submodule(t) for g, names in groups.items() if g != "weights" for t in names]
    model.eval()  # BatchNorm on its running statistics, as exported
    saved = []
    for fq in fqs:
        obs = fq.activation_post_process
        saved.append(obs.averaging_constant)
        obs.min_val.fill_(math.inf)  # the fused observer takes the first value as is, then averages
        obs.max_val.fill_(-math.inf)
        fq.enable_observer()
    try:
        with torch.no_grad():
            for k, crop in enumerate(crops, 1):
                for fq in fqs:  # running mean: the k-th face weighs 1/k
                    fq.activation_post_process.averaging_constant = 1.0 / k
                graph(torch.from_numpy(np.ascontiguousarray(crop, dtype=np.float32)[None]))
    finally:  # ranges frozen again, as eval() leaves them
        for fq, c in zip(fqs, saved):
            fq.disable_observer()
            fq.activation_post_process.averaging_constant = c
    return len(fqs)


def __getattr__(name: str):
    # deprecation shim (one release): the checkpoint workflow moved up to the calibration layer
    if name == "reestimate_checkpoint":
        import warnings

        warnings.warn("pipnet_edge.quantization.ranges.reestimate_checkpoint moved to "
                      "pipnet_edge.calibration.activation_ranges.reestimate_checkpoint", FutureWarning, stacklevel=2)
        from ..calibration.activation_ranges import reestimate_checkpoint

        return reestimate_checkpoint
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":  # the old command, forwarded for one release
    print("note: `python -m pipnet_edge.quantization.ranges` is now `python -m pipnet_edge.calibration.activation_ranges`",
          file=sys.stderr)
    from ..calibration.activation_ranges import main

    sys.exit(main())
