"""The table of export targets. It drives argument checks, CLI help, the README table and dispatch."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .. import __version__
from ..errors import ExportError
from ..runtime.metadata import encode_metadata

__all__ = ["Target", "TARGETS", "get_target", "export_one", "ExportContext", "targets_markdown"]

log = logging.getLogger("pipnet_edge.export")


@dataclass(frozen=True)
class Target:
    name: str
    format: str  # onnx | openvino | tflite
    precision: str  # fp32 | fp16 | int8
    suffix: str
    io_dtypes: tuple[str, ...]
    runtime: str
    description: str

    @property
    def int8(self) -> bool:
        return self.precision == "int8"


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("onnx", "onnx", "fp32", ".onnx", ("float32",), "onnxruntime", "float32 ONNX (opset 18), simplified with onnxslim"),
        Target("onnx-int8", "onnx", "int8", ".onnx", ("float32",), "onnxruntime", "INT8 QDQ ONNX: int8 per-channel weights, int8 activations"),
        Target("openvino", "openvino", "fp32", ".xml", ("float32",), "openvino", "OpenVINO IR, FP32 weights"),
        Target("openvino-fp16", "openvino", "fp16", ".xml", ("float32",), "openvino", "OpenVINO IR, FP16-compressed weights"),
        Target("openvino-int8", "openvino", "int8", ".xml", ("float32",), "openvino", "OpenVINO IR with FakeQuantize (INT8 execution)"),
        Target("tflite", "tflite", "fp32", ".tflite", ("float32",), "tflite", "float32 TFLite (litert-torch)"),
        Target("tflite-fp16", "tflite", "fp16", ".tflite", ("float32",), "tflite", "TFLite with float16 weights"),
        Target(
            "tflite-int8", "tflite", "int8", ".tflite", ("int8", "uint8", "float32"), "tflite",
            "full-INT8 TFLite: int8 weights + activations, int8/uint8 I/O for NPUs (raw pixels in)",
        ),
    )
}


def get_target(name: str) -> Target:
    if name not in TARGETS:
        raise ExportError(f"unknown target {name!r}; choose from: {', '.join(TARGETS)} or 'all'")
    return TARGETS[name]


def targets_markdown() -> str:
    rows = ["| target | format | precision | I/O dtypes | runs on | what |", "|---|---|---|---|---|---|"]
    for t in TARGETS.values():
        rows.append(f"| `{t.name}` | {t.format} | {t.precision} | {', '.join(t.io_dtypes)} | {t.runtime} | {t.description} |")
    return "\n".join(rows)


@dataclass
class ExportContext:
    """What the targets are made from; built once per CLI call and reused across targets."""

    float_model: object | None  # PIPNet
    int8_source: object | None  # QATModel or PIPNet (+ calib)
    calib: object | None  # CalibrationSet
    out_dir: Path
    stem: str
    source_info: dict
    _qgraph: object | None = None

    def spec(self, int8: bool):
        src = self.int8_source if int8 else self.float_model
        if src is None:
            raise ExportError("no model to export for this target")
        return src.spec

    def qgraph(self):
        if self._qgraph is None:
            from .quantized import quantize_model

            self._qgraph = quantize_model(self.int8_source, self.calib)
        return self._qgraph


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


def _float_onnx(ctx: ExportContext, target: Target, path: Path, meta: str) -> Path:
    from .onnx import export_onnx

    return export_onnx(ctx.float_model, path, meta)


def _qdq_onnx(ctx: ExportContext, target: Target, path: Path, meta: str) -> Path:
    from .onnx import export_onnx_module

    q = ctx.qgraph()
    return export_onnx_module(q.graph, path, q.spec.input_size, meta)


def _dispatch(ctx: ExportContext, target: Target, path: Path, io_dtype: str) -> tuple[Path, dict]:
    if target.int8:
        q = ctx.qgraph()
        extra = {"quantization": q.info}
    else:
        extra = {}
    meta = _metadata(ctx, target, io_dtype, extra)
    if target.format == "onnx":
        fn: Callable = _qdq_onnx if target.int8 else _float_onnx
        return fn(ctx, target, path, meta), extra
    if target.format == "openvino":
        from .openvino import export_openvino

        # via our own ONNX (float, or the QDQ graph): the same graph the onnx targets ship
        tmp = path.with_suffix(".tmp.onnx")
        try:
            (_qdq_onnx if target.int8 else _float_onnx)(ctx, target, tmp, meta)
            export_openvino(tmp, path, meta, fp16=target.precision == "fp16")
        finally:
            tmp.unlink(missing_ok=True)
        return path, extra
    from .tflite import export_tflite, export_tflite_int8

    if target.int8:
        return export_tflite_int8(ctx.qgraph(), path, meta, io_dtype), extra
    return export_tflite(ctx.float_model, path, meta, fp16=target.precision == "fp16"), extra


def export_one(ctx: ExportContext, name: str, io_dtype: str | None = None) -> dict:
    """Export one target; returns a record with path, size, seconds."""
    target = get_target(name)
    io = io_dtype or target.io_dtypes[0]
    if io not in target.io_dtypes:
        raise ExportError(f"--io-dtype {io} is not available for {name}; it supports {', '.join(target.io_dtypes)}")
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    suffix_io = f"_{io}io" if target.int8 and io != target.io_dtypes[0] else ""
    path = ctx.out_dir / f"{ctx.stem}_{name}{suffix_io}{target.suffix}"
    t0 = time.time()
    path, extra = _dispatch(ctx, target, path, io)
    seconds = time.time() - t0
    size = path.stat().st_size + (path.with_suffix(".bin").stat().st_size if target.format == "openvino" else 0)
    log.info("%-14s -> %s (%.2f MB, %.1f s)", name, path, size / 1e6, seconds)
    return {"target": name, "path": str(path), "size_bytes": size, "seconds": round(seconds, 2), "io_dtype": io, **extra}


def dumps(record: dict) -> str:
    return json.dumps(record, indent=2, default=str)
