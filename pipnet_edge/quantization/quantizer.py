"""The PT2E quantizer every INT8 artifact is made with, and the graph capture it quantizes.

litert-torch's quantizer: int8 symmetric per-channel weights, int8 per-tensor activations,
BatchNorm folded into convolutions. The network is captured as
:class:`~pipnet_edge.models.edge.EdgePIPNet` with the pixel normalisation folded into the first
convolution, so the quantized input is raw RGB pixels.

litert-torch 0.10 workaround: its conv+BN annotator hands a bare function to torchao's
``_get_aten_graph_module_for_pattern``, which ``torch.export`` rejects with
``ValueError: Expected 'mod' to be an instance of 'torch.nn.Module', got <class 'function'>``.
:func:`patch_litert_qat` wraps such functions in torchao's ``WrapperModule`` (as torchao's
own quantizers do). It is applied automatically and is idempotent.
"""

from __future__ import annotations

import os

import torch

from ..models.edge import EdgePIPNet
from ..models.pipnet import PIPNet

__all__ = ["make_quantizer", "capture", "patch_litert_qat"]

os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")


def patch_litert_qat() -> None:
    """Make litert-torch's QAT conv+BN annotation work on torch >= 2.9 (see module doc)."""
    import litert_torch.quantize.pt2e_quantizer_utils as utils
    from torchao.quantization.pt2e import WrapperModule

    current = utils._get_aten_graph_module_for_pattern
    if getattr(current, "_pipnet_edge_patch", False):
        return

    def patched(pattern, example_inputs, is_cuda=False, **kwargs):
        if not isinstance(pattern, torch.nn.Module):
            pattern = WrapperModule(pattern)
        return current(pattern, example_inputs, is_cuda, **kwargs)

    patched._pipnet_edge_patch = True  # type: ignore[attr-defined]
    utils._get_aten_graph_module_for_pattern = patched


def make_quantizer(qat: bool):
    """litert-torch's PT2E quantizer: per-channel symmetric int8 weights, per-tensor int8 activations."""
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config

    if qat:
        patch_litert_qat()
    return PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False, is_qat=qat))


def capture(model: PIPNet, example_batch: int = 2, train: bool = True) -> torch.fx.GraphModule:
    """``torch.export`` of the folded-normalisation :class:`EdgePIPNet` with a dynamic batch."""
    spec = model.spec
    edge = EdgePIPNet(model, fold_normalization=True)
    edge.train(train)
    x = torch.rand(example_batch, spec.input_size, spec.input_size, 3) * 255
    batch = torch.export.Dim("batch", min=1, max=4096)
    return torch.export.export(edge, (x,), dynamic_shapes={"image": {0: batch}}).module()
