"""Quantization-aware training with torchao's PT2E flow and litert-torch's quantizer.

The fake quantization matches what every INT8 target executes: int8 symmetric per-channel
weights, int8 per-tensor activations, BatchNorm folded into convolutions. The network is
captured as :class:`~pipnet_edge.models.edge.EdgePIPNet` with the pixel normalisation
folded into the first convolution, so the quantized input is raw RGB pixels.

One QAT model feeds every INT8 artifact: :meth:`QATModel.convert` gives the PT2E
quantized graph that the TFLite converter (litert-torch) and the ONNX exporter (QDQ, which
OpenVINO then reads) consume with the learned scales; nothing is re-calibrated.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from ..errors import ModelLoadError
from ..models.edge import nhwc_to_nchw
from ..models.pipnet import PIPNet, create_model
from ..spec import ModelSpec
from .quantizer import ACTIVATION_SCHEMES, DEFAULT_SCHEME, LEGACY_SCHEME, capture, make_quantizer

__all__ = ["QATModel", "is_qat_file", "QAT_FORMAT"]

QAT_FORMAT = "pipnet-edge/qat"


class QATModel:
    """A PT2E QAT-prepared PIPNet; call it with raw pixels ``(B, S, S, 3)`` in [0, 255].

    Calling returns NCHW head outputs like :class:`PIPNet`, so the loss and decode are shared.
    """

    takes_raw_pixels = True

    def __init__(self, graph: torch.fx.GraphModule, spec: ModelSpec, scheme: str = DEFAULT_SCHEME) -> None:
        self.graph = graph
        self.spec = spec
        self.scheme = scheme  # how activations after a convolution are quantized (quantizer.ACTIVATION_SCHEMES)

    # ------------------------------------------------------------------ construction
    @classmethod
    def prepare(cls, float_model: PIPNet, example_batch: int = 2, scheme: str = DEFAULT_SCHEME) -> "QATModel":
        from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e

        gm = capture(float_model.cpu().float(), example_batch)
        gm = prepare_qat_pt2e(gm, make_quantizer(qat=True, scheme=scheme))
        return cls(gm, float_model.spec, scheme)

    def quantizer(self):
        """The quantizer this model was prepared with (the converters need the same one)."""
        return make_quantizer(qat=True, scheme=self.scheme)

    # ------------------------------------------------------------------ running
    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return nhwc_to_nchw(self.graph(images.float()))

    @torch.no_grad()
    def calibrate(self, batches) -> None:
        """Initialise the activation ranges from a few batches of raw pixels (eval mode, no grad)."""
        self.eval()
        self._observers(True)
        for images in batches:
            self.graph(images.float())
        self._observers(False)

    def parameters(self):
        return self.graph.parameters()

    def _observers(self, enabled: bool) -> None:
        for m in self.graph.modules():
            if hasattr(m, "enable_observer") and hasattr(m, "disable_observer"):
                m.enable_observer() if enabled else m.disable_observer()

    def train_mode(self) -> None:
        """Training: BatchNorm on batch statistics, observers update the ranges."""
        from torchao.quantization.pt2e import move_exported_model_to_train

        move_exported_model_to_train(self.graph)
        self._observers(True)

    def eval(self) -> "QATModel":
        """Inference: BatchNorm on running statistics, ranges frozen (calls do not change the model)."""
        from torchao.quantization.pt2e import move_exported_model_to_eval

        move_exported_model_to_eval(self.graph)
        self._observers(False)
        return self

    def eval_model(self) -> "QATModel":
        return self.eval()

    def convert(self) -> torch.fx.GraphModule:
        """The quantized (Q/DQ) graph for the converters; the QAT model itself is unchanged."""
        from torchao.quantization.pt2e import move_exported_model_to_eval
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

        gm = copy.deepcopy(self.graph)
        move_exported_model_to_eval(gm)
        qm = convert_pt2e(gm, fold_quantize=False)
        move_exported_model_to_eval(qm)
        return qm

    # ------------------------------------------------------------------ files
    def qat_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.graph.state_dict().items()}

    def load_qat_state(self, state: dict[str, torch.Tensor]) -> None:
        missing, unexpected = self.graph.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ModelLoadError(
                f"QAT state does not fit this graph ({len(missing)} missing, {len(unexpected)} unexpected tensors, "
                f"e.g. {(missing or unexpected)[:2]}); was it made by another pipnet-edge version?"
            )

    def save(self, path: str | Path) -> Path:
        """Write the QAT model: its graph state + spec, as safetensors (no pickle).

        Weights stay float32: rounding them to float16 moves enough of them across int8
        rounding boundaries to shift the INT8 model's landmarks by ~1 px (measured).
        """
        from safetensors.torch import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.contiguous() for k, v in self.qat_state().items()}
        save_file(state, str(path), metadata={"pipnet_edge.spec": self.spec.to_json(), "format": QAT_FORMAT,
                                              "activation_scheme": self.scheme})
        return path

    @classmethod
    def load(cls, path: str | Path) -> "QATModel":
        """Rebuild the QAT graph from the spec and load its learned weights and quantization ranges."""
        from safetensors import safe_open
        from safetensors.torch import load_file

        path = Path(path)
        if not path.is_file():
            raise ModelLoadError(f"QAT model {path} does not exist")
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
            state = load_file(str(path))
        except Exception as exc:
            raise ModelLoadError(f"cannot read QAT model {path}: {exc}") from None
        if meta.get("format") != QAT_FORMAT:
            raise ModelLoadError(f"{path} is not a pipnet-edge QAT model (format {meta.get('format')!r})")
        spec = ModelSpec.from_json(meta["pipnet_edge.spec"])
        scheme = meta.get("activation_scheme", LEGACY_SCHEME)  # files from before the scheme was recorded
        if scheme not in ACTIVATION_SCHEMES:
            raise ModelLoadError(f"{path}: unknown activation scheme {scheme!r}; is it from a newer pipnet-edge?")
        model = cls.prepare(create_model(spec), scheme=scheme)
        model.load_qat_state(state)
        model.sync_weight_grids()
        return model.eval()

    @torch.no_grad()
    def sync_weight_grids(self) -> int:
        """Set every weight fake-quantizer's grid (scale, zero point) to its observer's, the grid the export writes.

        QAT files written by pipnet-edge <= 0.1.0 hold the grids of torch's fused fake-quant kernel, which differ from
        the exported ones (:func:`~pipnet_edge.quantization.quantizer.export_grid_weights`); after this call the
        fake-quant model computes what its INT8 artifacts compute. Returns the number of quantizers set.
        """
        from torchao.quantization.pt2e.fake_quantize import FakeQuantize

        n = 0
        for m in self.graph.modules():
            if type(m) is FakeQuantize and m.is_per_channel:  # the weights' (export_grid_weights)
                scale, zero_point = m.calculate_qparams()
                m.scale.resize_(scale.shape).copy_(scale)
                m.zero_point.resize_(zero_point.shape).copy_(zero_point)
                n += 1
        return n


def is_qat_file(path: str | Path) -> bool:
    path = Path(path)
    if path.suffix != ".safetensors" or not path.is_file():
        return False
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return (f.metadata() or {}).get("format") == QAT_FORMAT
    except Exception:
        return False
