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

__all__ = ["make_quantizer", "export_grid_weights", "capture", "patch_litert_qat", "fuse_relu6_annotations", "annotate_adds",
           "ACTIVATION_SCHEMES", "DEFAULT_SCHEME", "LEGACY_SCHEME"]

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


# how activations after a convolution are quantized:
# "shared"   litert-torch's own: the convolution's output is quantized and the ReLU6 after it shares
#            that grid, so the grid spans the negative values ReLU6 then drops (13-57 % of
#            the 256 levels, measured on the default model) and every exported graph keeps a clip
#            between a dequantize and a quantize;
# "relu6"    ReLU6 fused into the convolution as litert-torch fuses ReLU: one grid, on ReLU6's output
#            ([0, 6]), all 256 levels on values the next layer sees.
ACTIVATION_SCHEMES = ("shared", "relu6")
DEFAULT_SCHEME = "relu6"
LEGACY_SCHEME = "shared"  # QAT files written before the scheme was recorded


def make_quantizer(qat: bool, scheme: str = DEFAULT_SCHEME, integer_adds: bool = True):
    """litert-torch's PT2E quantizer: per-channel symmetric int8 weights, per-tensor int8 activations;
    with ``scheme="relu6"`` a ReLU6 after a convolution is fused into it (see :data:`ACTIVATION_SCHEMES`);
    with ``integer_adds`` every residual Add is quantized at its inputs and output (see :func:`annotate_adds`).
    ``integer_adds=False`` gives the graph of pipnet-edge <= 0.1.0 (chained Adds float), for comparisons only:
    both graphs hold the same fake-quantizers, so a QAT state fits either."""
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config

    if scheme not in ACTIVATION_SCHEMES:
        raise ValueError(f"unknown activation scheme {scheme!r}; choose from {', '.join(ACTIVATION_SCHEMES)}")
    if qat:
        patch_litert_qat()

    class PIPNetQuantizer(PT2EQuantizer):
        """Annotates as litert-torch does, then (per ``scheme`` / ``integer_adds``) fuses ReLU6 and quantizes the Adds."""

        def annotate(self, model: torch.fx.GraphModule) -> torch.fx.GraphModule:
            model = super().annotate(model)
            if scheme == "relu6":
                fuse_relu6_annotations(model)
            if integer_adds:
                annotate_adds(model, self.global_config)
            return model

    config = get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False, is_qat=qat)
    if qat:
        config = export_grid_weights(config)
    return PIPNetQuantizer().set_global(config)


def export_grid_weights(config):
    """``config`` with its QAT weight fake-quantizer simulating the weight grid every INT8 artifact is exported with.

    litert-torch's QAT config fake-quantizes weights with torch's fused kernel (``FusedMovingAvgObsFakeQuantize``),
    whose per-channel "symmetric" grid is not the one the export writes: a channel whose weights all have one sign
    gets an asymmetric grid (zero point +-127, half the step), every other channel a step 255/254 wider, and steps
    below 6.1e-5 are raised to it. The export (``convert_pt2e``) takes the observer's own grid instead (zero point 0,
    step max|w| / 127), the only one an int8 per-channel TFLite / QDQ weight can have. Measured on the default model
    of 2026-12-06: 2,763 of 18,620 weight channels one-signed, 61 raised; its INT8 TFLite's score head ran 1.33 output
    steps (mean) from its own fake-quant model, 0.84 on the exported grid (the floor: XNNPACK and TFLite's reference
    kernels differ by 0.85). The plain ``FakeQuantize`` over the same observer computes its grid with the observer's
    ``calculate_qparams`` -- the export's -- at every training step, so QAT trains the weights on the grid they ship
    on. Its observer keeps torch's default ``eps`` (float32's), the one a QAT file has once loaded (safetensors keep
    no module versions, so loading resets it), not litert-torch's 2**-12, which would floor the steps of small-weight
    channels at 2.4e-4. (torchao's own fix, pytorch/ao#4824, lets the export read the kernel's grid instead: no use
    here, an int8 per-channel weight must be symmetric.) Activations keep the fused kernel: per-tensor affine, its
    grid equals the observer's (checked on every activation quantizer,
    ``tests/test_qat.py::test_fake_quant_grids_are_the_exported_grids``).
    """
    from dataclasses import replace

    from torchao.quantization.pt2e.fake_quantize import FakeQuantize
    from torchao.quantization.pt2e.observer import MovingAveragePerChannelMinMaxObserver

    ctr = FakeQuantize.with_args(observer=MovingAveragePerChannelMinMaxObserver)
    return replace(config, weight=replace(config.weight, observer_or_fake_quant_ctr=ctr))


def annotate_adds(model: torch.fx.GraphModule, config) -> int:
    """Quantize both inputs and the output of every residual ``aten.add.Tensor`` that is not annotated yet.

    litert-torch's Add annotator finds Adds through ``source_fn_stack``, which ``torch.export`` (torch >= 2.9)
    no longer records on the captured graph, so it annotates none. The Adds then get a quantize node only where
    their output feeds a convolution, and an Add that feeds the next Add (a MobileNetV2 stage of three or four
    blocks) stays float: the TFLite converter keeps such an Add in float32 between DEQUANTIZE / QUANTIZE, and
    an NPU compiler (Vela) sends it to the CPU. Annotating each Add as litert-torch means to (input and output
    activation specs of ``config``) makes every Add an int8 ADD. Returns how many Adds were annotated.
    """
    from litert_torch.quantize.pt2e_quantizer_utils import get_input_act_qspec, get_output_act_qspec
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation

    annotated = 0
    for node in model.graph.nodes:
        if node.op != "call_function" or node.target not in (torch.ops.aten.add.Tensor, torch.ops.aten.add_.Tensor):
            continue
        ann = node.meta.get("quantization_annotation")
        if ann is not None and ann._annotated:
            continue
        a, b = node.args[:2]
        if not (isinstance(a, torch.fx.Node) and isinstance(b, torch.fx.Node)):
            continue  # a scalar add (e.g. BatchNorm's counter): not a residual
        if not all(_is_float_tensor(x) for x in (a, b)):
            continue
        node.meta["quantization_annotation"] = QuantizationAnnotation(
            input_qspec_map={a: get_input_act_qspec(config), b: get_input_act_qspec(config)},
            output_qspec=get_output_act_qspec(config), _annotated=True)
        annotated += 1
    return annotated


def _is_float_tensor(node: torch.fx.Node) -> bool:
    val = node.meta.get("val")
    return isinstance(val, torch.Tensor) and val.is_floating_point()


_CONV_OUTPUTS = ("conv1d", "conv2d", "convolution", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
                 "batch_norm", "cudnn_batch_norm", "native_batch_norm")


def fuse_relu6_annotations(model: torch.fx.GraphModule) -> int:
    """For each ``hardtanh(0, 6)`` (ReLU6) right after an annotated convolution (+ BatchNorm in QAT): quantize
    its output with the convolution's activation spec and leave the convolution's own output unquantized.

    The same move litert-torch makes for conv + ReLU; afterwards ReLU6 carries its own observer
    instead of sharing the convolution's. Returns how many were fused.
    """
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, SharedQuantizationSpec

    fused = 0
    for node in model.graph.nodes:
        if node.op != "call_function" or getattr(node.target, "__name__", "").split(".")[0] not in ("hardtanh", "hardtanh_"):
            continue
        lo, hi = (list(node.args[1:3]) + [-1.0, 1.0])[:2] if len(node.args) >= 3 else (-1.0, 1.0)
        if (float(lo), float(hi)) != (0.0, 6.0):
            continue
        prev = node.args[0]
        if prev.op == "call_function" and getattr(prev.target, "__name__", "").split(".")[0] == "getitem":
            prev = prev.args[0] if len(prev.users) == 1 else prev  # batch norm's (output, mean, var) tuple
        src = node.args[0]
        ann = src.meta.get("quantization_annotation")
        if ann is None or ann.output_qspec is None or isinstance(ann.output_qspec, SharedQuantizationSpec):
            continue
        if len(src.users) != 1 or getattr(prev.target, "__name__", "").split(".")[0] not in _CONV_OUTPUTS:
            continue
        node.meta["quantization_annotation"] = QuantizationAnnotation(
            input_qspec_map={}, output_qspec=ann.output_qspec, _annotated=True)
        ann.output_qspec = None
        fused += 1
    return fused


def capture(model: PIPNet, example_batch: int = 2, train: bool = True) -> torch.fx.GraphModule:
    """``torch.export`` of the folded-normalisation :class:`EdgePIPNet` with a dynamic batch."""
    spec = model.spec
    edge = EdgePIPNet(model, fold_normalization=True)
    edge.train(train)
    x = torch.rand(example_batch, spec.input_size, spec.input_size, 3) * 255
    batch = torch.export.Dim("batch", min=1, max=4096)
    return torch.export.export(edge, (x,), dynamic_shapes={"image": {0: batch}}).module()
