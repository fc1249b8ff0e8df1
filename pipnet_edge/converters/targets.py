"""The table of export targets. One row per target drives argument checks, CLI help, the README table and dispatch.

Each :class:`Target` row carries its builder. An :class:`ExportContext` (one per export run) holds
what the targets are made from and builds what several targets share at most once per run: the
quantized graph (every INT8 target), the float ONNX graph (``onnx``, ``openvino``,
``openvino-fp16``) and the INT8 QDQ ONNX graph (``onnx-int8``, ``openvino-int8``).

The public entry point is :func:`pipnet_edge.export.export`.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ExportError
from ..runtime.artifact import FORMATS, artifact_size, encode_metadata
from .quiet import import_quietly

__all__ = [
    "Target", "TARGETS", "IO_DTYPES", "INT8_TOOLCHAIN", "get_target", "resolve_targets", "check_toolchains", "targets_markdown",
    "ExportContext", "ExportRecord", "check_io_dtype", "build_target",
]

log = logging.getLogger("pipnet_edge.export")

IO_DTYPES = ("float32", "int8", "uint8")
# Python modules each format's builder imports (INT8 targets add INT8_TOOLCHAIN); checked before any work
_TOOLCHAINS = {
    "onnx": ("onnx", "onnxscript", "onnxslim"),
    "openvino": ("onnx", "onnxscript", "onnxslim", "openvino"),
    "tflite": ("litert_torch",),
}
INT8_TOOLCHAIN = ("torchao", "litert_torch")


# --------------------------------------------------------------------------- builders
# builder(ctx, target, path, io_dtype, metadata) -> path written


def _build_onnx(ctx: ExportContext, target: Target, path: Path, io_dtype: str, metadata: str) -> Path:
    from .onnx import save_onnx

    return save_onnx(ctx.onnx_graph(target.int8), path, metadata)


def _build_openvino(ctx: ExportContext, target: Target, path: Path, io_dtype: str, metadata: str) -> Path:
    from .onnx import save_onnx
    from .openvino import export_openvino

    # via the run's ONNX graph (float, or the QDQ graph: the same graph the onnx targets ship), written
    # with this target's metadata (OpenVINO keeps the ONNX metadata as rt_info "framework")
    tmp = path.with_suffix(".tmp.onnx")
    try:
        save_onnx(ctx.onnx_graph(target.int8), tmp, metadata)
        export_openvino(tmp, path, metadata, fp16=target.precision == "fp16")
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _build_tflite(ctx: ExportContext, target: Target, path: Path, io_dtype: str, metadata: str) -> Path:
    from .tflite import export_tflite, export_tflite_int8

    if target.int8:
        return export_tflite_int8(ctx.qgraph(), path, metadata, io_dtype)
    return export_tflite(ctx.require_float_model(target.name), path, metadata, fp16=target.precision == "fp16")


# --------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Target:
    """One export target: what it makes, what runs it, and the builder that makes it."""

    name: str
    format: str  # a key of runtime.artifact.FORMATS: onnx | openvino | tflite
    precision: str  # fp32 | fp16 | int8
    io_dtypes: tuple[str, ...]  # the first is the default
    runtime: str
    description: str
    builder: Callable[[ExportContext, Target, Path, str, str], Path] = field(repr=False, compare=False)

    @property
    def int8(self) -> bool:
        return self.precision == "int8"

    @property
    def suffix(self) -> str:
        return FORMATS[self.format].suffix

    @property
    def requires(self) -> tuple[str, ...]:
        """Python modules the builder needs (INT8: the PT2E quantizer is litert-torch's, on torchao)."""
        return tuple(dict.fromkeys(_TOOLCHAINS[self.format] + (INT8_TOOLCHAIN if self.int8 else ())))

    def file_name(self, stem: str, io_dtype: str) -> str:
        io = f"_{io_dtype}io" if self.int8 and io_dtype != self.io_dtypes[0] else ""
        return f"{stem}_{self.name}{io}{self.suffix}"


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("onnx", "onnx", "fp32", ("float32",), "onnxruntime", "float32 ONNX (opset 18), simplified with onnxslim",
               _build_onnx),
        Target("onnx-int8", "onnx", "int8", ("float32",), "onnxruntime",
               "INT8 QDQ ONNX: int8 per-channel weights, uint8 activations (ReLU6 in the quantized domain)", _build_onnx),
        Target("openvino", "openvino", "fp32", ("float32",), "openvino", "OpenVINO IR, FP32 weights", _build_openvino),
        Target("openvino-fp16", "openvino", "fp16", ("float32",), "openvino", "OpenVINO IR, FP16-compressed weights",
               _build_openvino),
        Target("openvino-int8", "openvino", "int8", ("float32",), "openvino", "OpenVINO IR with FakeQuantize (INT8 execution)",
               _build_openvino),
        Target("tflite", "tflite", "fp32", ("float32",), "tflite", "float32 TFLite (litert-torch)", _build_tflite),
        Target("tflite-fp16", "tflite", "fp16", ("float32",), "tflite", "TFLite with float16 weights", _build_tflite),
        Target(
            "tflite-int8", "tflite", "int8", ("int8", "uint8", "float32"), "tflite",
            "full-INT8 TFLite: int8 weights + activations, int8/uint8 I/O for NPUs (raw pixels in)", _build_tflite,
        ),
    )
}


def get_target(name: str) -> Target:
    if name not in TARGETS:
        raise ExportError(f"unknown target {name!r}; choose from: {', '.join(TARGETS)} or 'all'")
    return TARGETS[name]


def resolve_targets(names: str | list[str] | tuple[str, ...]) -> list[str]:
    """Target names in order, ``"all"`` expanded, duplicates dropped.

    Raises:
        ExportError: an unknown name, or none at all.
    """
    if isinstance(names, str):
        names = [names]
    out: list[str] = []
    for n in names:
        out += list(TARGETS) if n == "all" else [get_target(n).name]
    if not out:
        raise ExportError(f"no target given; choose from: {', '.join(TARGETS)} or 'all'")
    return list(dict.fromkeys(out))


def check_toolchains(names: list[str]) -> None:
    """Raise :class:`ExportError` naming the missing module when a target's converter is not installed."""
    for name in names:
        for module in TARGETS[name].requires:
            if importlib.util.find_spec(module) is None:
                raise ExportError(f"target {name} needs the Python module {module!r}: pip install 'pipnet-edge[export]'")


def targets_markdown() -> str:
    rows = ["| target | format | precision | I/O dtypes | runs on | what |", "|---|---|---|---|---|---|"]
    for t in TARGETS.values():
        rows.append(f"| `{t.name}` | {t.format} | {t.precision} | {', '.join(t.io_dtypes)} | {t.runtime} | {t.description} |")
    return "\n".join(rows)


# --------------------------------------------------------------------------- one export run
@dataclass(frozen=True)
class ExportRecord:
    """What one exported target produced.

    Attributes:
        target: the target name (a key of :data:`TARGETS`).
        path: the model file (OpenVINO: the ``.xml``; its ``.bin`` sits next to it).
        size_bytes: bytes on disk, side files included.
        seconds: wall time of this target's export.
        io_dtype: the input / output tensor type.
        quantization: for INT8 targets, how the quantized graph was made (``method``: ``qat`` or
            ``ptq``, and for ``ptq`` the ``calibration`` set), as stored in the artifact's metadata.
        summary: the accuracy summary against the reference model when the export was given labelled data.
    """

    target: str
    path: Path
    size_bytes: int
    seconds: float
    io_dtype: str
    quantization: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written by ``--json`` (``quantization`` and ``summary`` only when present)."""
        out: dict[str, Any] = {
            "target": self.target, "path": str(self.path), "size_bytes": self.size_bytes, "seconds": self.seconds,
            "io_dtype": self.io_dtype,
        }
        if self.quantization is not None:
            out["quantization"] = self.quantization
        if self.summary is not None:
            out["summary"] = self.summary
        return out


@dataclass
class ExportContext:
    """What the targets of one export run are made from, and what they share (each built at most once)."""

    float_model: object | None  # PIPNet
    int8_source: object | None  # QATModel or PIPNet (+ calib)
    calib: object | None  # CalibrationSet
    out_dir: Path
    stem: str
    source_info: dict = field(default_factory=dict)
    verbose: bool = False
    _qgraph: object | None = field(default=None, repr=False)
    _onnx: dict = field(default_factory=dict, repr=False)  # int8 (bool) -> onnx.ModelProto without metadata

    def spec(self, int8: bool):
        src = self.int8_source if int8 else self.float_model
        if src is None:
            raise ExportError(f"no {'INT8 source' if int8 else 'float model'} to export for this target")
        return src.spec

    def require_float_model(self, target: str):
        if self.float_model is None:
            raise ExportError(f"target {target} needs the float model (a QAT model only makes INT8 targets)")
        return self.float_model

    def qgraph(self):
        """The one quantized graph every INT8 target of this run is made from."""
        if self._qgraph is None:
            from ..quantization import quantize_model

            if self.int8_source is None:
                raise ExportError("no INT8 source to export for this target")
            self._qgraph = quantize_model(self.int8_source, self.calib)
        return self._qgraph

    def onnx_graph(self, int8: bool):
        """The float or INT8 QDQ ONNX graph of this run: exported once, saved by every target made from it."""
        if int8 not in self._onnx:
            from .onnx import build_onnx_module, float_onnx_module

            if int8:
                q = self.qgraph()
                module, size = q.graph, q.spec.input_size
            else:
                model = self.require_float_model("onnx")
                module, size = float_onnx_module(model), model.spec.input_size
            t0 = time.time()
            self._onnx[int8] = build_onnx_module(module, size)
            log.info("built the %s ONNX graph once for this run (%.1f s)", "INT8 QDQ" if int8 else "float", time.time() - t0)
        return self._onnx[int8]


def _tool_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("torch", "litert-torch", "torchao", "onnx", "onnxslim", "openvino"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def _metadata(ctx: ExportContext, target: Target, io_dtype: str, extra: dict) -> str:
    export = {
        "target": target.name,
        "format": target.format,
        "precision": target.precision,
        "io_dtype": io_dtype,
        "input": {"name": "image", "layout": "NHWC", "range": [0, 255], "color": "RGB"},
        "output_layout": "NHWC",
        "pipnet_edge_version": __version__,
        "tools": _tool_versions(),
        "source": ctx.source_info,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    export.update(extra)
    return encode_metadata(ctx.spec(target.int8), export)


def check_io_dtype(target: Target, io_dtype: str | None) -> str:
    """The I/O dtype ``target`` is exported with (its default when ``None``).

    Raises:
        ExportError: ``io_dtype`` is not one the target supports.
    """
    io = io_dtype or target.io_dtypes[0]
    if io not in target.io_dtypes:
        raise ExportError(f"io_dtype {io} is not available for {target.name}; it supports {', '.join(target.io_dtypes)}")
    return io


def build_target(ctx: ExportContext, name: str, io_dtype: str | None = None) -> ExportRecord:
    """Export one target of the run ``ctx`` into ``ctx.out_dir``."""
    target = get_target(name)
    io = check_io_dtype(target, io_dtype)
    import_quietly(target.requires, ctx.verbose)
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    path = ctx.out_dir / target.file_name(ctx.stem, io)
    t0 = time.time()
    quantization = ctx.qgraph().info if target.int8 else None
    metadata = _metadata(ctx, target, io, {"quantization": quantization} if target.int8 else {})
    path = target.builder(ctx, target, path, io, metadata)
    seconds = time.time() - t0
    size = artifact_size(path)
    log.info("%-14s -> %s (%.2f MB, %.1f s)", name, path, size / 1e6, seconds)
    return ExportRecord(name, Path(path), size, round(seconds, 2), io, quantization)
