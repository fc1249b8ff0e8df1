"""Qualcomm Hexagon NPU (HTP) through onnxruntime-qnn, for the onnxruntime backend.

``Landmarker(model_int8.onnx, device=["QNNExecutionProvider"])`` (or ``("QNNExecutionProvider", {options})`` for
provider options such as ``soc_model`` or ``htp_performance_mode``) runs the whole model on the HTP or refuses it:

* onnxruntime-qnn (``pip install 'pipnet-edge[qnn]'``, i.e. ``pip install onnxruntime-qnn``) is a plugin execution
  provider: its library is registered with onnxruntime once per process (:func:`register_qnn`) and the session is
  given its devices, with ``backend_path`` the HTP backend (``libQnnHtp.so``) unless the options name another.
* The batch dimension (``batch`` in our exports) is fixed to 1: QNN compiles static shapes only, and with a symbolic
  batch it places every node on the CPU ("Cannot get shape"). The backend then runs faces one at a time.
* CPU fallback is disabled (``session.disable_cpu_ep_fallback``): a model with any node the HTP cannot run is a
  :class:`~pipnet_edge.errors.ModelLoadError` that names those nodes (:func:`qnn_load_error`), never a silent
  partial placement.
* ``soc_model`` may be an id (``57``) or a name in :data:`QNN_SOCS` (``"SM8650"``); onnxruntime-qnn itself treats a
  name it does not know as "unknown SoC" (0) with only a log warning, so names are checked here.
* onnxruntime-qnn 2.7.0 shares one HTP backend per process: a session without ``soc_model`` (or with 0) compiles for
  the SoC of the process's last session that named one (measured: after a session for SW6100, every later session
  without a SoC refused the residual Adds as SW6100 does). A warning is logged when that can happen.
* An ahead-of-time context binary ONNX (``*_ctx.onnx``, one ``EPContext`` node; see
  :func:`pipnet_edge.converters.qnn.compile_qnn_context`) loads the same way, without compiling again.

On x86-64 Linux the HTP backend is Qualcomm's simulator: the same graph and arithmetic, slowly (one CPU thread;
measured on an idle 2-core EPYC: 0.26 s per face for the lite model, 1.1 s for the default one;
``python -m benchmarks qnn_agreement``).
A float model runs on the HTP only in fp16 and only with ``soc_model`` set: without one QNN fails to finalize the graph
(``QNN_COMMON_ERROR_MEM_ALLOC``; measured with onnxruntime-qnn 2.7.0), or compiles it for whatever SoC an earlier session
in the process named, so a float model without ``soc_model`` is refused here. The INT8 ONNX (``onnx-int8``) is the
artifact for this NPU.

Nothing here imports onnxruntime or onnxruntime-qnn at module level.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ...errors import InputError, ModelLoadError

log = logging.getLogger("pipnet_edge.runtime")

__all__ = [
    "QNN_EP", "QNN_EXTRA", "BATCH_DIM", "QnnSoc", "QNN_SOCS", "soc_model_id", "is_qnn", "qnn_provider_options",
    "register_qnn", "configure_qnn", "qnn_load_error", "qnn_library_dir", "context_binary_hint", "is_context_model",
]

QNN_EP = "QNNExecutionProvider"
_ALIASES = (QNN_EP, "QNN")
QNN_EXTRA = "pip install 'pipnet-edge[qnn]' (i.e. pip install onnxruntime-qnn)"
BATCH_DIM = "batch"  # the symbolic batch dimension's name in our exported ONNX (converters.onnx: torch.export.Dim("batch"))


@dataclass(frozen=True)
class QnnSoc:
    """A Snapdragon SoC QNN compiles for: its ``soc_model`` id, Hexagon architecture (0: not known here), product."""

    name: str
    soc_model: int
    htp_arch: int
    product: str
    source: str


# soc_model ids. "ort-qnn": the name -> id table inside onnxruntime-qnn 2.7.0 (QNN SDK 2.51) itself, read back from the
# compatibility info of a context compiled with soc_model=<name> (metadata "ep_compatibility_info.QNNExecutionProvider",
# field 6); "executorch": Qualcomm's QcomChipset table in pytorch/executorch backends/qualcomm/serialization/qc_schema.py
# (onnxruntime-qnn does not know these names; the id is passed). Hexagon architectures from that table and from
# LiteRT's Qualcomm soc_table.h; SC8380XP's v73 from Microsoft Olive ("dsp_arch:v73;soc_model:60").
QNN_SOCS: dict[str, QnnSoc] = {s.name: s for s in (
    QnnSoc("SM8350", 30, 68, "Snapdragon 888", "ort-qnn"),
    QnnSoc("SM8450", 36, 69, "Snapdragon 8 Gen 1", "ort-qnn"),
    QnnSoc("SM8475", 42, 69, "Snapdragon 8+ Gen 1", "ort-qnn"),
    QnnSoc("SM8550", 43, 73, "Snapdragon 8 Gen 2", "ort-qnn"),
    QnnSoc("SM8650", 57, 75, "Snapdragon 8 Gen 3", "ort-qnn"),
    QnnSoc("SM8635", 68, 0, "Snapdragon 8s Gen 3", "ort-qnn"),
    QnnSoc("SM7675", 70, 0, "Snapdragon 7+ Gen 3", "ort-qnn"),
    QnnSoc("SM8750", 69, 79, "Snapdragon 8 Elite", "ort-qnn"),
    QnnSoc("SM8850", 87, 81, "Snapdragon 8 Elite Gen 5", "ort-qnn"),
    QnnSoc("SC8380XP", 60, 73, "Snapdragon X Elite (X1E80100)", "ort-qnn"),
    QnnSoc("SC8480XP", 88, 0, "Snapdragon X2 Elite", "ort-qnn"),
    QnnSoc("SM8845", 97, 81, "", "executorch"),
    QnnSoc("QCM6490", 93, 68, "QCM6490 / QCS6490 (IoT)", "executorch"),
    QnnSoc("QCS9100", 77, 73, "QCS9100 (IoT)", "executorch"),
    QnnSoc("SA8295", 39, 68, "SA8295P (automotive)", "executorch"),
    QnnSoc("SA8255", 52, 73, "SA8255P (automotive)", "executorch"),
    QnnSoc("SA8540", 62, 68, "SA8540P (automotive)", "executorch"),
    QnnSoc("SA8797", 72, 81, "SA8797P (automotive)", "executorch"),
    QnnSoc("SXR1230P", 45, 73, "XR", "executorch"),
    QnnSoc("SXR2230P", 53, 69, "XR", "executorch"),
    QnnSoc("SXR2330P", 75, 79, "XR", "executorch"),
    QnnSoc("SSG2115P", 46, 73, "smart glasses", "executorch"),
    QnnSoc("SSG2125P", 58, 73, "smart glasses", "executorch"),
    QnnSoc("SAR2230P", 95, 81, "AR", "executorch"),
    QnnSoc("SW6100", 96, 81, "wearables", "executorch"),
)}


def soc_model_id(soc: str | int) -> int:
    """The ``soc_model`` id of a SoC name in :data:`QNN_SOCS` (case-insensitive) or of an id (``57``, ``"57"``).

    Raises:
        InputError: a name not in :data:`QNN_SOCS` (onnxruntime-qnn would quietly compile for "unknown SoC").
    """
    if isinstance(soc, bool):
        raise InputError(f"soc_model must be a SoC name or a non-negative id, got {soc!r}")
    if isinstance(soc, int) or (isinstance(soc, str) and soc.strip().isdigit()):
        if int(soc) < 0:
            raise InputError(f"soc_model must be a non-negative id, got {soc!r}")
        return int(soc)
    name = str(soc).strip().upper()
    if name not in QNN_SOCS:
        raise InputError(f"unknown soc_model {soc!r}; known SoCs: {', '.join(QNN_SOCS)} (or pass the numeric id)")
    return QNN_SOCS[name].soc_model


def is_qnn(provider: Any) -> bool:
    name = provider[0] if isinstance(provider, (tuple, list)) and provider else provider
    return isinstance(name, str) and name in _ALIASES


def qnn_provider_options(providers) -> dict[str, str] | None:
    """The QNN provider options when ``providers`` asks for QNN (else ``None``), as strings, ``soc_model`` as an id.

    Accepts ``["QNNExecutionProvider"]``, ``[("QNNExecutionProvider", {options})]`` and the flattened
    ``["QNNExecutionProvider", {options}]`` that ``Landmarker(device=("QNNExecutionProvider", {...}))`` passes.

    Raises:
        InputError: QNN listed beside other providers (QNN runs the whole model or refuses it), or a bad option.
    """
    if not providers:
        return None
    items: list[tuple[Any, dict]] = []
    for p in providers:
        if isinstance(p, dict) and items and not items[-1][1]:
            items[-1] = (items[-1][0], p)  # ["QNNExecutionProvider", {options}]: the options of the name before
        elif isinstance(p, (tuple, list)) and len(p) == 2 and isinstance(p[1], dict):
            items.append((p[0], dict(p[1])))
        else:
            items.append((p, {}))
    if not any(is_qnn(name) for name, _ in items):
        return None
    if len(items) > 1:
        others = [str(name) for name, _ in items if not is_qnn(name)]
        raise InputError(
            f"{QNN_EP} runs the whole model on the Hexagon NPU or refuses it (CPU fallback is disabled); "
            f"do not list it beside {', '.join(others) or 'itself'}"
        )
    opts = {str(k): str(v) for k, v in items[0][1].items()}
    if "soc_model" in opts:
        opts["soc_model"] = str(soc_model_id(items[0][1]["soc_model"]))
    return opts


def qnn_library_dir() -> str:
    """The folder of onnxruntime-qnn's libraries.

    Raises:
        ModelLoadError: onnxruntime-qnn is not installed.
    """
    try:
        import onnxruntime_qnn
    except ImportError:
        raise ModelLoadError(f"{QNN_EP} (Qualcomm Hexagon NPU) needs onnxruntime-qnn: {QNN_EXTRA}") from None
    return onnxruntime_qnn.LIB_DIR_FULL_PATH


def _lib(name: str) -> str:
    return f"{name}.dll" if os.name == "nt" else f"lib{name}.so"


_lock = threading.Lock()
_last_soc: str | None = None  # the soc_model of this process's last QNN session that named one (QNN keeps it)


def register_qnn(ort) -> list:
    """Register onnxruntime-qnn's plugin execution provider with ``ort`` (once per process); its EP devices.

    Raises:
        ModelLoadError: onnxruntime-qnn is not installed, or onnxruntime cannot load it (e.g. too old an onnxruntime).
    """
    lib_dir = qnn_library_dir()
    with _lock:
        devices = [d for d in ort.get_ep_devices() if d.ep_name == QNN_EP]
        if not devices:
            if not hasattr(ort, "register_execution_provider_library"):
                raise ModelLoadError(f"onnxruntime {ort.__version__} cannot load plugin execution providers; {QNN_EXTRA}")
            try:
                ort.register_execution_provider_library(QNN_EP, os.path.join(lib_dir, _lib("onnxruntime_providers_qnn")))
            except Exception as exc:
                if "already registered" not in str(exc):
                    raise ModelLoadError(
                        f"onnxruntime {ort.__version__} cannot register onnxruntime-qnn ({lib_dir}): {exc}") from None
            devices = [d for d in ort.get_ep_devices() if d.ep_name == QNN_EP]
    if not devices:
        raise ModelLoadError(f"onnxruntime-qnn is registered but offers no {QNN_EP} device")
    return devices


def is_context_model(model: str | bytes) -> bool:
    """Whether an ONNX file (path) or content holds an ``EPContext`` node (an ahead-of-time compiled context binary).

    The graph's nodes come before the weights in the serialized model (and an EPContext node's op type before its
    binary), so the first 64 KiB tell."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        head = bytes(model[: 1 << 16])
    else:
        with open(model, "rb") as f:
            head = f.read(1 << 16)
    return b"EPContext" in head


def configure_qnn(ort, so, options: dict[str, str], *, precision: str | None = "int8",
                  source: str = "the model") -> dict[str, str]:
    """Set up ``so`` (an ``ort.SessionOptions``) for QNN: the plugin's devices with ``options`` (``backend_path``
    defaults to the HTP backend), the batch fixed to 1, CPU fallback disabled. Returns the provider options used.

    Raises:
        ModelLoadError: onnxruntime-qnn is missing, or a float model (``precision`` fp32 / fp16; ``None``: a context
            binary, nothing left to compile) without ``soc_model``.
    """
    devices = register_qnn(ort)
    if precision in ("fp32", "fp16") and options.get("soc_model", "0") == "0":
        # Measured (onnxruntime-qnn 2.7.0): QNN fails to finalize a float graph without a SoC
        # (QNN_COMMON_ERROR_MEM_ALLOC), unless an earlier session in the process set one; refused here, every time.
        raise ModelLoadError(
            f"{source} is a {precision} model: the Hexagon NPU runs float models only in fp16, and QNN compiles them only "
            "for a named SoC: pass soc_model, e.g. device=[('QNNExecutionProvider', {'soc_model': 'SM8650'})], "
            "or use the onnx-int8 export (the NPU's integer path)"
        )
    global _last_soc
    soc = options.get("soc_model", "0")
    if soc == "0" and _last_soc not in ("0", None):
        log.warning("onnxruntime-qnn compiles a session without soc_model for the SoC of this process's last session "
                    "that named one (soc_model %s); name the SoC to be sure", _last_soc)
    if soc != "0":
        _last_soc = soc
    opts = dict(options)
    if "backend_path" not in opts and "backend_type" not in opts:
        opts["backend_path"] = os.path.join(qnn_library_dir(), _lib("QnnHtp"))
    so.add_free_dimension_override_by_name(BATCH_DIM, 1)
    so.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
    so.add_provider_for_devices(devices, opts)
    return opts


def _unplaced_nodes(ort, model, options: dict[str, str]) -> Counter | None:
    """Nodes QNN leaves to the CPU: the session built again with fallback allowed (``None`` when that fails too)."""
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.add_session_config_entry("session.record_ep_graph_assignment_info", "1")
    so.add_free_dimension_override_by_name(BATCH_DIM, 1)
    # with fallback allowed QNN would also leave the graph's input Quantize / output Dequantize to the CPU by default
    so.add_provider_for_devices(register_qnn(ort), {"offload_graph_io_quantization": "0", **options})
    try:
        session = ort.InferenceSession(model, so)
        assigned = session.get_provider_graph_assignment_info()
    except Exception:
        return None
    return Counter((n.op_type, n.name) for g in assigned if g.ep_name != QNN_EP for n in g.get_nodes())


def qnn_load_error(ort, model, exc: Exception, source: str, precision: str, options: dict[str, str]) -> ModelLoadError:
    """A :class:`ModelLoadError` for a model the HTP refused: what QNN said, which nodes it cannot run, and why."""
    text = str(exc).strip()
    msg = f"{source} cannot run on the Hexagon NPU ({QNN_EP}, CPU fallback disabled)"
    if "EPContext" in text and "backend" in text.lower():
        return ModelLoadError(f"{msg}: its QNN context binary does not load here: {text}")
    nodes = _unplaced_nodes(ort, model, options) if "fallback" in text.lower() else None
    if nodes:
        ops = Counter(op for op, _ in nodes)
        names = [name for _, name in list(nodes)[:6]]
        msg += (f": QNN cannot run {sum(ops.values())} node(s): "
                + ", ".join(f"{op} x{n}" for op, n in ops.most_common()) + f" ({', '.join(names)}, ...)")
        soc = options.get("soc_model")
        if soc and soc != "0":
            msg += f"; soc_model {soc} may lack these operators (QNN validates ops per SoC): try another soc_model"
    else:
        msg += f": {text}"
    if precision in ("fp32", "fp16"):
        msg += (f". This is a {precision} model: the HTP runs float models only in fp16 and only with provider option "
                "soc_model set, e.g. device=[('QNNExecutionProvider', {'soc_model': 'SM8650'})]; export onnx-int8 for the NPU")
    return ModelLoadError(msg)


def context_binary_hint(text: str) -> str:
    """A hint for a model onnxruntime could not load because it holds a QNN context binary (an ``EPContext`` node)."""
    if "EPContext" not in text:
        return ""
    return f" (it holds a QNN context binary compiled for a Snapdragon NPU: open it with device=['{QNN_EP}'], {QNN_EXTRA})"
