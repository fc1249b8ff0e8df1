"""Qualcomm Hexagon NPU: an INT8 ONNX compiled ahead of time into a QNN context binary for one Snapdragon SoC.

:func:`compile_qnn_context` runs onnxruntime-qnn's HTP backend (``pip install 'pipnet-edge[qnn]'``) on the INT8 QDQ
ONNX with the batch fixed to 1 and CPU fallback disabled, and has it write the compiled graph as an "EP context" ONNX
(``ep.context_enable=1``, ``ep.context_embed_mode=1``): one ``EPContext`` node holding the QNN context binary for
``soc_model``, the model's inputs and outputs, and our metadata. The runtime opens it like any ``.onnx``, with
``Landmarker(path, device=["QNNExecutionProvider"])``, without compiling it again on the device.

onnxruntime-qnn 2.7.0 keeps the source model's ``metadata_props`` (the ``pipnet_edge`` entry) in the context ONNX
and adds ``ep_compatibility_info.QNNExecutionProvider`` (``v2:6:<QNN SDK>:<API>:0:<soc_model>:0:0``) and
``external_dependencies``; the metadata is checked, and written when missing (or when ``metadata`` is given).

SoC names and ids: :data:`~pipnet_edge.runtime.backends.qnn.QNN_SOCS`. On x86-64 Linux compiling takes well under a
second (measured: lite 0.2 s, default 0.6 s) and needs no Qualcomm SDK beyond the wheel.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ..errors import ExportError, InputError, ModelLoadError
from ..runtime.artifact import METADATA_KEY
from ..runtime.backends.qnn import QNN_EP, QNN_EXTRA, QNN_SOCS, configure_qnn, qnn_load_error, soc_model_id

__all__ = ["compile_qnn_context", "QNN_SOCS", "COMPAT_KEY"]

COMPAT_KEY = f"ep_compatibility_info.{QNN_EP}"


def compile_qnn_context(onnx_path: str | Path, out_path: str | Path, soc_model: str | int, *,
                        provider_options: dict[str, Any] | None = None, metadata: str | None = None) -> dict[str, Any]:
    """Compile ``onnx_path`` (an INT8 QDQ ONNX with our metadata) for the HTP of ``soc_model`` into the context
    binary ONNX ``out_path``.

    Args:
        onnx_path: the ``onnx-int8`` artifact (symbolic batch ``batch``, fixed to 1 here) or any ONNX QNN runs whole.
        out_path: the ``.onnx`` to write (by convention ``*_ctx.onnx``); replaced if it exists.
        soc_model: a name in :data:`QNN_SOCS` (``"SM8650"``) or a numeric ``soc_model`` id (``57``; 0: no SoC).
        provider_options: more QNN provider options (e.g. ``htp_graph_finalization_optimization_mode``).
        metadata: the ``pipnet_edge`` metadata JSON to store instead of the source model's.

    Returns:
        ``soc_model`` (id), ``soc`` (name, or None), ``htp_arch`` (0: unknown), ``source_bytes``, ``context_bytes``
        (the written file), ``binary_bytes`` (the QNN context binary inside it), ``compile_s``, ``compatibility``
        (onnxruntime-qnn's compatibility string), ``metadata_copied`` (whether the metadata had to be written),
        ``onnxruntime``, ``onnxruntime_qnn`` and ``qnn_sdk`` versions.

    Raises:
        ExportError: onnxruntime-qnn (or onnx) is not installed, an unknown SoC name, or QNN cannot compile the
            whole model for that SoC (the message names the nodes it cannot run).
    """
    try:
        import onnx
        import onnxruntime as ort
    except ImportError as exc:
        raise ExportError(
            f"compiling a QNN context binary needs onnx and onnxruntime-qnn ({exc.name} missing): {QNN_EXTRA}") from None
    src, out = Path(onnx_path), Path(out_path)
    if not src.is_file():
        raise ExportError(f"{src} does not exist")
    try:
        soc_id = soc_model_id(soc_model)
    except InputError as exc:
        raise ExportError(str(exc)) from None
    soc = next((s for s in QNN_SOCS.values() if s.soc_model == soc_id), None)
    options = {str(k): str(v) for k, v in (provider_options or {}).items()} | {"soc_model": str(soc_id)}

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{os.getpid()}.onnx")
    tmp.unlink(missing_ok=True)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.add_session_config_entry("ep.context_enable", "1")
    so.add_session_config_entry("ep.context_file_path", str(tmp))
    so.add_session_config_entry("ep.context_embed_mode", "1")
    try:
        options = configure_qnn(ort, so, options)
        t0 = time.perf_counter()
        try:
            ort.InferenceSession(str(src), so)
        except Exception as exc:
            precision = _precision(src)
            raise ExportError(f"QNN cannot compile for soc_model {soc_id}: "
                              + str(qnn_load_error(ort, str(src), exc, str(src), precision, options))) from None
        compile_s = time.perf_counter() - t0
        if not tmp.is_file():
            raise ExportError(f"onnxruntime-qnn wrote no context model for {src} (expected {tmp})")
        model = onnx.load(str(tmp))
        ops = sorted({n.op_type for n in model.graph.node})
        if ops != ["EPContext"]:
            raise ExportError(f"the QNN context model of {src} holds {ops}, not one EPContext node: part of it is not on the HTP")
        props = {p.key: p.value for p in model.metadata_props}
        compat = props.get(COMPAT_KEY, "")
        fields = compat.split(":")
        if len(fields) > 5 and fields[5].isdigit() and int(fields[5]) != soc_id:
            raise ExportError(f"onnxruntime-qnn compiled for soc_model {fields[5]}, not {soc_id} ({COMPAT_KEY} = {compat})")
        wanted = metadata if metadata is not None else _source_metadata(onnx, src)
        copied = wanted is not None and props.get(METADATA_KEY) != wanted
        if copied:
            from .onnx import set_onnx_metadata

            onnx.save(set_onnx_metadata(model, wanted), str(tmp))
        os.replace(tmp, out)
    except ModelLoadError as exc:  # onnxruntime-qnn missing or not loadable
        raise ExportError(str(exc)) from None
    finally:
        tmp.unlink(missing_ok=True)
    import onnxruntime_qnn

    binary = next((a.s for n in model.graph.node for a in n.attribute if a.name == "ep_cache_context"), b"")
    return {
        "soc_model": soc_id,
        "soc": soc.name if soc else None,
        "htp_arch": soc.htp_arch if soc else 0,
        "source_bytes": src.stat().st_size,
        "context_bytes": out.stat().st_size,
        "binary_bytes": len(binary),
        "compile_s": round(compile_s, 3),
        "compatibility": compat,
        "metadata_copied": bool(copied),
        "onnxruntime": ort.__version__,
        "onnxruntime_qnn": onnxruntime_qnn.__version__,
        "qnn_sdk": getattr(onnxruntime_qnn.build_and_package_info, "qnn_version", "?"),
    }


def _source_metadata(onnx, src: Path) -> str | None:
    model = onnx.load(str(src), load_external_data=False)
    return next((p.value for p in model.metadata_props if p.key == METADATA_KEY), None)


def _precision(src: Path) -> str:
    from ..runtime.artifact import read_artifact_info

    try:
        return read_artifact_info(src).precision
    except ModelLoadError:
        return "?"
