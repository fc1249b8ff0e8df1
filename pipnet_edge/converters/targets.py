"""The table of export targets. One row per target drives argument checks, CLI help, the README table and dispatch.

Each :class:`Target` row carries its builder. An :class:`ExportContext` (one per export run) holds
what the targets are made from and builds what several targets share at most once per run: the
quantized graph (every INT8 target), the float ONNX graph (``onnx``, ``openvino``,
``openvino-fp16``) and the INT8 QDQ ONNX graph (``onnx-int8``, ``openvino-int8``).

The public entry point is :func:`pipnet_edge.export.export`.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ExportError
from ..runtime.artifact import FORMATS, METADATA_KEY, artifact_size, encode_metadata
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
    "imx500": (),  # Sony's tools live in their own virtual environments: checked by the target's tool_check
}
# file suffixes of formats only an NPU runs (no runtime backend here, so not in runtime.artifact.FORMATS)
_NPU_SUFFIXES = {"imx500": ".zip"}
INT8_TOOLCHAIN = ("torchao", "litert_torch")
# the pip extra that installs a module a target needs (default: "export")
_EXTRA_OF_MODULE = {"ethosu": "ethos-u", "onnxruntime_qnn": "qnn"}


# --------------------------------------------------------------------------- builders
# builder(ctx, target, path, io_dtype, metadata) -> the path written, or (path, ExportRecord fields such as
# compiler_report) for NPU targets


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
    from .tflite import export_tflite
    from .tflite_flatbuffer import add_metadata

    if target.int8:
        path.write_bytes(ctx.int8_tflite(io_dtype))
        add_metadata(path, METADATA_KEY, metadata.encode())
        return path
    return export_tflite(ctx.require_float_model(target.name), path, metadata, fp16=target.precision == "fp16")


def _build_qnn_context(ctx: ExportContext, target: Target, path: Path, io_dtype: str, metadata: str) -> tuple[Path, dict]:
    """The run's INT8 QDQ ONNX compiled ahead of time by onnxruntime-qnn for the HTP of ``ctx.qnn_soc``."""
    from .onnx import save_onnx, set_onnx_metadata
    from .qnn import compile_qnn_context

    src = path.with_suffix(".int8.tmp.onnx")
    try:
        save_onnx(ctx.onnx_graph(True), src, metadata)
        report = compile_qnn_context(src, path, ctx.qnn_soc)
    finally:
        src.unlink(missing_ok=True)
    report = {"compiler": f"onnxruntime-qnn {report.get('onnxruntime_qnn')} (QNN SDK {report.get('qnn_sdk')})", **report}
    set_onnx_metadata(path, _with_npu(metadata, {
        "vendor": "Qualcomm", "accelerator": f"Hexagon HTP ({report.get('soc') or report['soc_model']})",
        "execution_provider": "QNNExecutionProvider", **report}))
    return path, {"compiler_report": report}


def _build_imx500(ctx: ExportContext, target: Target, path: Path, io_dtype: str, metadata: str) -> tuple[Path, dict]:
    """Sony IMX500: MCT post-training quantization of the float model on the run's calibration crops, MCT's ONNX,
    ``imxconv-pt``; ``packerOut.zip`` in a folder named after the artifact, with our metadata beside it."""
    from .imx500 import build_imx500

    return build_imx500(ctx, target, path, metadata)


def _with_npu(metadata: str, npu: dict) -> str:
    """``metadata`` (an artifact's JSON) with ``export["npu"]``: the NPU compiler's report, which the runtime reads."""
    doc = json.loads(metadata)
    doc["export"]["npu"] = npu
    return json.dumps(doc, separators=(",", ":"))


def _build_ethos_u(ctx: ExportContext, target: Target, path: Path, io_dtype: str, metadata: str) -> tuple[Path, dict]:
    """The run's full-INT8 TFLite compiled by Vela; Vela's report goes into the metadata and the record."""
    from .tflite_flatbuffer import add_metadata
    from .vela import ETHOS_U_CONFIGS, ETHOS_U_DELEGATE, compile_vela

    src = path.with_suffix(".int8.tmp.tflite")
    try:
        src.write_bytes(ctx.int8_tflite(io_dtype))
        report = compile_vela(src, path, ETHOS_U_CONFIGS[target.name])
    finally:
        src.unlink(missing_ok=True)
    add_metadata(path, METADATA_KEY, _with_npu(metadata, {"vendor": "Arm", "delegate": ETHOS_U_DELEGATE, **report}).encode())
    if report["cpu_operators"]:
        log.warning("%s: Vela left %s operator(s) on the CPU: %s", target.name, report["cpu_operators"],
                    "; ".join(report["cpu_operator_reasons"][:4]))
    return path, {"compiler_report": report}


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
    builder: Callable[[ExportContext, Target, Path, str, str], Path | tuple[Path, dict]] = field(repr=False, compare=False)
    group: str = "all"  # the name that selects it with its kin: "all" (the core targets), "ethos-u", "qnn", "imx500"
    modules: tuple[str, ...] = ()  # Python modules the builder needs beyond its format's toolchain
    # the NPU vendor's own toolkit quantizes it from the float model and the calibration faces (not our PT2E graph)
    vendor_quantized: bool = False
    # checks tools outside this Python (other virtual environments, Java) before any work; raises ExportError
    tool_check: Callable[[], object] | None = field(default=None, repr=False, compare=False)

    @property
    def int8(self) -> bool:
        return self.precision == "int8"

    @property
    def suffix(self) -> str:
        return _NPU_SUFFIXES[self.format] if self.format in _NPU_SUFFIXES else FORMATS[self.format].suffix

    @property
    def pt2e(self) -> bool:
        """Made from the run's one PT2E quantized graph (every INT8 target but the vendor-quantized ones)."""
        return self.int8 and not self.vendor_quantized

    @property
    def requires(self) -> tuple[str, ...]:
        """Python modules the builder needs (INT8: the PT2E quantizer is litert-torch's, on torchao)."""
        return tuple(dict.fromkeys(_TOOLCHAINS[self.format] + (INT8_TOOLCHAIN if self.pt2e else ()) + self.modules))

    def file_name(self, stem: str, io_dtype: str, variant: str = "") -> str:
        io = f"_{io_dtype}io" if self.int8 and io_dtype != self.io_dtypes[0] else ""
        return f"{stem}_{self.name}{'_' + variant if variant else ''}{io}{self.suffix}"


def _check_imx500_tools():
    from .imx500 import check_imx500_tools  # subprocesses only: Sony's tools are never imported here

    return check_imx500_tools()


def _ethos_u_configs():
    from .vela import ETHOS_U_CONFIGS  # the table only: Vela itself is imported when a target is built

    return ETHOS_U_CONFIGS.values()


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
        *(Target(c.name, "tflite", "int8", ("int8", "uint8"), "tflite + Ethos-U delegate", c.description, _build_ethos_u,
                 group="ethos-u", modules=("ethosu",)) for c in _ethos_u_configs()),
        Target("qnn-context", "onnx", "int8", ("float32",), "onnxruntime-qnn (HTP)",
               "Qualcomm Hexagon NPU: the INT8 ONNX compiled ahead of time into a QNN context binary for one Snapdragon "
               "SoC (--qnn-soc, default SM8650), batch 1", _build_qnn_context, group="qnn",
               modules=("onnxruntime", "onnxruntime_qnn")),
        Target("imx500", "imx500", "int8", ("uint8",), "Sony IMX500 (Raspberry Pi AI Camera)",
               "Sony IMX500 on the Raspberry Pi AI Camera: MCT post-training quantization (IMX500 TPC, SDSP 3.18) of the "
               "float model on --calib faces, imxconv-pt -> packerOut.zip (+ memory report, our metadata beside it); "
               "tools from scripts/setup_imx500.sh", _build_imx500, group="imx500", vendor_quantized=True,
               tool_check=_check_imx500_tools),
    )
}
# names that select several targets: "all" the core eight (installed by the export extra), then each NPU family
# (a family of one target, such as "imx500", is selected by the target's own name)
TARGET_GROUPS: dict[str, tuple[str, ...]] = {
    g: tuple(t.name for t in TARGETS.values() if t.group == g)
    for g in dict.fromkeys(t.group for t in TARGETS.values()) if g not in TARGETS
}


def _choices() -> str:
    return f"{', '.join(TARGETS)}, or a group: {', '.join(TARGET_GROUPS)}"


def get_target(name: str) -> Target:
    if name not in TARGETS:
        raise ExportError(f"unknown target {name!r}; choose from: {_choices()}")
    return TARGETS[name]


def resolve_targets(names: str | list[str] | tuple[str, ...]) -> list[str]:
    """Target names in order, groups (``"all"``, ``"ethos-u"`` ...: :data:`TARGET_GROUPS`) expanded, duplicates dropped.

    Raises:
        ExportError: an unknown name, or none at all.
    """
    if isinstance(names, str):
        names = [names]
    out: list[str] = []
    for n in names:
        out += list(TARGET_GROUPS[n]) if n in TARGET_GROUPS else [get_target(n).name]
    if not out:
        raise ExportError(f"no target given; choose from: {_choices()}")
    return list(dict.fromkeys(out))


def check_toolchains(names: list[str]) -> None:
    """Raise :class:`ExportError` naming the missing module when a target's converter is not installed (and what
    is missing of the tools a target drives outside this Python, with the command that installs them)."""
    for name in names:
        for module in TARGETS[name].requires:
            if importlib.util.find_spec(module) is None:
                extra = _EXTRA_OF_MODULE.get(module, "export")
                raise ExportError(f"target {name} needs the Python module {module!r}: pip install 'pipnet-edge[{extra}]'")
        if TARGETS[name].tool_check is not None:
            TARGETS[name].tool_check()


def targets_markdown() -> str:
    rows = ["| target | group | format | precision | I/O dtypes | runs on | what |", "|---|---|---|---|---|---|---|"]
    for t in TARGETS.values():
        rows.append(f"| `{t.name}` | {t.group} | {t.format} | {t.precision} | {', '.join(t.io_dtypes)} | {t.runtime} | "
                    f"{t.description} |")
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
        integer_check: for INT8 targets, the full-integer check the artifact passed
            (:class:`~pipnet_edge.converters.full_integer.IntegerCheck` as a dict).
        compiler_report: for NPU targets, the NPU compiler's report (Vela: operators on NPU / CPU, estimated
            inference time, SRAM and flash / DRAM use, MACs), also stored in the artifact's metadata.
    """

    target: str
    path: Path
    size_bytes: int
    seconds: float
    io_dtype: str
    quantization: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None
    integer_check: dict[str, Any] | None = None
    compiler_report: dict[str, Any] | None = None

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
        for key in ("integer_check", "compiler_report"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
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
    qnn_soc: str | int = "SM8650"  # the Snapdragon SoC the qnn-context target compiles for
    # the accuracy check the run ends with: labelled faces (a path), None (the bundled check set) or "none"; targets
    # whose network runs only in a vendor's simulation (imx500) run it there on the check's crops and leave a
    # predictor factory in ``simulated`` (target name -> () -> Landmarker) for the check to use
    check_data: str | None = None
    data_limit: int = 100
    simulated: dict = field(default_factory=dict, repr=False)
    _qgraph: object | None = field(default=None, repr=False)
    _onnx: dict = field(default_factory=dict, repr=False)  # int8 (bool) -> onnx.ModelProto without metadata
    _tflite_int8: dict = field(default_factory=dict, repr=False)  # io_dtype -> (full-INT8 .tflite bytes, IntegerCheck)
    _onnx_check: object | None = field(default=None, repr=False)  # the INT8 QDQ ONNX graph's IntegerCheck

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

    def int8_tflite(self, io_dtype: str) -> bytes:
        """The run's full-INT8 TFLite (no metadata yet) with ``io_dtype`` I/O: converted once, shared by ``tflite-int8``
        and every Ethos-U target. It has passed the full-integer check.

        Raises:
            ExportError: the converted graph is not full-integer.
        """
        if io_dtype not in self._tflite_int8:
            from .full_integer import check_tflite
            from .tflite import export_tflite_int8

            with tempfile.TemporaryDirectory(prefix="pipnet-tflite-") as tmp:
                path = Path(tmp) / "int8.tflite"
                export_tflite_int8(self.qgraph(), path, None, io_dtype)
                check = check_tflite(path)
                if not check.ok:
                    raise _not_full_integer(f"INT8 TFLite ({io_dtype} I/O)", check)
                self._tflite_int8[io_dtype] = path.read_bytes(), check
        return self._tflite_int8[io_dtype][0]

    def integer_check(self, fmt: str, io_dtype: str):
        """The full-integer check the run's INT8 graph of ``fmt`` passed (TFLite: before any NPU compiler; ONNX and
        OpenVINO: the QDQ ONNX graph both are made from).

        Raises:
            ExportError: the graph is not full-integer.
        """
        from .full_integer import check_onnx_qdq

        if fmt == "tflite":
            self.int8_tflite(io_dtype)
            return self._tflite_int8[io_dtype][1]
        if self._onnx_check is None:
            self._onnx_check = check_onnx_qdq(self.onnx_graph(True))
        if not self._onnx_check.ok:
            raise _not_full_integer("INT8 QDQ ONNX", self._onnx_check)
        return self._onnx_check

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
    return encode_metadata(ctx.spec(target.pt2e), export)


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
    variant = str(ctx.qnn_soc).lower() if target.group == "qnn" else ""
    path = ctx.out_dir / target.file_name(ctx.stem, io, variant)
    t0 = time.time()
    quantization = ctx.qgraph().info if target.pt2e else None
    metadata = _metadata(ctx, target, io, {"quantization": quantization} if target.pt2e else {})
    check = _integer_check(ctx, target, io) if target.pt2e else None  # before anything is written
    built = target.builder(ctx, target, path, io, metadata)
    path, extra = built if isinstance(built, tuple) else (built, {})
    files = extra.pop("files", None)  # an NPU format's files (no runtime format to ask)
    quantization = extra.pop("quantization", quantization)  # a vendor-quantized target's own account
    seconds = time.time() - t0
    size = sum(Path(f).stat().st_size for f in files) if files else artifact_size(path)
    log.info("%-14s -> %s (%.2f MB, %.1f s)", name, path, size / 1e6, seconds)
    return ExportRecord(name, Path(path), size, round(seconds, 2), io, quantization, integer_check=check, **extra)


def _not_full_integer(what: str, check) -> ExportError:
    shown = "\n  ".join(check.problems[:8]) + (f"\n  ... {len(check.problems) - 8} more" if len(check.problems) > 8 else "")
    return ExportError(f"{what}: the converted graph is not full-integer ({len(check.problems)} float operator(s) or "
                       f"tensor(s)), so an NPU would run part of it on the CPU; nothing written:\n  {shown}")


def _integer_check(ctx: ExportContext, target: Target, io_dtype: str) -> dict[str, Any]:
    """The full-integer check the target's INT8 graph passes (the export is refused when it does not)."""
    try:
        check = ctx.integer_check(target.format, io_dtype)
    except ExportError as exc:
        raise ExportError(f"{target.name}: {exc}") from None
    log.info("%-14s full-integer: %d of %d operators integer%s", target.name, check.integer_operators, check.operators,
             f", {check.edge_operators} at the I/O edge" if check.edge_operators else "")
    return check.to_dict()
