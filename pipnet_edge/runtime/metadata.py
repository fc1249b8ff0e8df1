"""Artifact metadata: the ModelSpec and export settings stored inside every exported file.

One JSON document under the key :data:`METADATA_KEY`, stored as

* ONNX: a ``metadata_props`` entry;
* OpenVINO IR: ``rt_info/pipnet_edge/metadata`` in the ``.xml`` (read here with the standard
  library's XML parser, no OpenVINO needed);
* TFLite: a ``Model.metadata`` entry (name + buffer) in the flatbuffer, which every TFLite
  interpreter ignores; read here by walking the flatbuffer with ``struct``.

Reading needs nothing beyond the standard library (and onnxruntime or onnx for ``.onnx``).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelLoadError, SpecError
from ..spec import ModelSpec

__all__ = ["METADATA_KEY", "ArtifactInfo", "encode_metadata", "decode_metadata", "read_artifact_info"]

METADATA_KEY = "pipnet_edge"
FORMAT = "pipnet-edge/artifact"


@dataclass(frozen=True)
class ArtifactInfo:
    """What an artifact says about itself.

    ``export`` holds the export settings: ``target``, ``precision`` (fp32 / fp16 / int8),
    ``io_dtype``, ``input_layout`` (NHWC), ``output_layout`` (NHWC), ``input_range``
    ([0, 255] raw RGB pixels), ``calibration`` (source, count, seed) or ``qat``, tool versions.
    """

    spec: ModelSpec
    export: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return str(self.export.get("target", "?"))

    @property
    def precision(self) -> str:
        return str(self.export.get("precision", "fp32"))


def encode_metadata(spec: ModelSpec, export: dict[str, Any]) -> str:
    return json.dumps({"format": FORMAT, "spec": spec.to_dict(), "export": export}, separators=(",", ":"))


def decode_metadata(text: str | bytes, source: str = "artifact") -> ArtifactInfo:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{source}: pipnet-edge metadata is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or "spec" not in data:
        raise ModelLoadError(f"{source}: metadata is not pipnet-edge artifact metadata")
    try:
        spec = ModelSpec.from_dict(data["spec"])
    except SpecError as exc:
        raise ModelLoadError(f"{source}: invalid model spec in metadata: {exc}") from None
    return ArtifactInfo(spec, dict(data.get("export") or {}))


# --------------------------------------------------------------------------- readers
def _read_onnx(path: Path) -> str | None:
    try:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.log_severity_level = 3
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        return sess.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    except ImportError:
        pass
    except Exception as exc:
        raise ModelLoadError(f"{path} is not a loadable ONNX model: {exc}") from None
    try:
        import onnx
    except ImportError:
        raise ModelLoadError("reading .onnx metadata needs onnxruntime or onnx: pip install 'pipnet-edge[onnxruntime]'") from None
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ModelLoadError(f"{path} is not a loadable ONNX model: {exc}") from None
    return next((p.value for p in model.metadata_props if p.key == METADATA_KEY), None)


def _read_openvino(path: Path) -> str | None:
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(str(path)).getroot()
    except ET.ParseError as exc:
        raise ModelLoadError(f"{path} is not an OpenVINO IR .xml file: {exc}") from None
    if root.tag != "net":
        raise ModelLoadError(f"{path} is not an OpenVINO IR .xml file (root element <{root.tag}>)")
    node = root.find(f"rt_info/{METADATA_KEY}/metadata")
    if node is not None:
        return node.get("value")
    return None


def read_tflite_metadata(data: bytes, name: str = METADATA_KEY) -> bytes | None:
    """Find ``Model.metadata[name]`` in a TFLite flatbuffer (schema fields by index)."""
    try:
        u32 = lambda o: struct.unpack_from("<I", data, o)[0]  # noqa: E731
        i32 = lambda o: struct.unpack_from("<i", data, o)[0]  # noqa: E731

        def field(table: int, idx: int) -> int | None:
            vt = table - i32(table)
            vlen = struct.unpack_from("<H", data, vt)[0]
            if 4 + 2 * idx >= vlen:
                return None
            off = struct.unpack_from("<H", data, vt + 4 + 2 * idx)[0]
            return table + off if off else None

        def deref(pos: int) -> int:
            return pos + u32(pos)

        def vector(pos: int) -> tuple[int, int]:
            v = deref(pos)
            return v + 4, u32(v)

        root = u32(0)
        md_pos, bufs_pos = field(root, 6), field(root, 4)  # Model.metadata, Model.buffers
        if md_pos is None or bufs_pos is None:
            return None
        start, count = vector(md_pos)
        for i in range(count):
            md = deref(start + 4 * i)
            name_pos = field(md, 0)
            if name_pos is None:
                continue
            s, n = vector(name_pos)
            if data[s : s + n].decode("utf-8", "replace") != name:
                continue
            bpos = field(md, 1)
            bidx = u32(bpos) if bpos is not None else 0
            bstart, _ = vector(bufs_pos)
            buf = deref(bstart + 4 * bidx)
            off_pos = field(buf, 1)
            if off_pos is not None and struct.unpack_from("<Q", data, off_pos)[0] > 1:  # large-model layout
                o = struct.unpack_from("<Q", data, off_pos)[0]
                size = struct.unpack_from("<Q", data, field(buf, 2))[0]
                return data[o : o + size]
            ds, dn = vector(field(buf, 0))
            return data[ds : ds + dn]
    except (struct.error, TypeError, IndexError) as exc:
        raise ModelLoadError(f"not a valid TFLite flatbuffer ({exc})") from None
    return None


def _read_tflite(path: Path) -> str | None:
    data = path.read_bytes()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelLoadError(f"{path} is not a TFLite model (no TFL3 identifier); is the file truncated or corrupt?")
    try:
        raw = read_tflite_metadata(data)
    except ModelLoadError as exc:
        raise ModelLoadError(f"{path}: {exc}") from None
    return None if raw is None else raw.decode("utf-8")


def read_artifact_info(path: str | Path) -> ArtifactInfo:
    """Spec + export settings of an exported ``.onnx``, ``.xml`` (OpenVINO) or ``.tflite`` file."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"model file {path} does not exist")
    if path.stat().st_size == 0:
        raise ModelLoadError(f"model file {path} is empty")
    suffix = path.suffix.lower()
    readers = {".onnx": _read_onnx, ".xml": _read_openvino, ".tflite": _read_tflite}
    if suffix not in readers:
        raise ModelLoadError(f"{path}: unsupported model format {suffix!r}; expected .tflite, .onnx or .xml (OpenVINO IR)")
    text = readers[suffix](path)
    if text is None:
        raise ModelLoadError(
            f"{path} carries no pipnet-edge metadata ({METADATA_KEY!r}); export it with `python -m pipnet_edge.export` "
            "so the runtime knows its landmarks, input size and neighbour tables"
        )
    return decode_metadata(text, str(path))
