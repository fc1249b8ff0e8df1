"""The artifact contract: what every exported model file holds and how it is read, in one place.

Converters write it, the runtime and evaluation read it; nothing here needs torch.

* I/O names: input :data:`INPUT_NAME` ``(B, S, S, 3)`` RGB pixels in ``[0, 255]`` (float32, or
  int8/uint8 in full-INT8 TFLite), channels last; outputs :data:`HEAD_NAMES`, channels last
  ``(B, H, W, C)``.
* Metadata: one JSON document (the :class:`~pipnet_edge.spec.ModelSpec` + export settings) under
  the key :data:`METADATA_KEY`, stored as

  * ONNX: a ``metadata_props`` entry;
  * OpenVINO IR: ``rt_info/pipnet_edge/metadata`` in the ``.xml`` (read with the standard
    library's XML parser, no OpenVINO needed);
  * TFLite: a ``Model.metadata`` entry (name + buffer) in the flatbuffer, which every TFLite
    interpreter ignores; read by walking the flatbuffer with ``struct``.

* Formats: :data:`FORMATS`, one row per file format (suffix, side files, the backends that run
  it, the metadata reader); the runtime, converters and evaluation all look formats up here.
* Model bytes: an artifact's content held in memory (an Android asset, a member of a zip file, a
  decrypted bundle) is recognised from the content, never from a name (:func:`format_of_content`):
  TFLite by its ``TFL3`` file identifier, ONNX as a protobuf ``ModelProto``, OpenVINO IR as a
  ``(xml_bytes, bin_bytes)`` pair. The metadata readers take a path or such content.

Reading needs nothing beyond the standard library, for every format.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import ModelLoadError, SpecError
from ..spec import ModelSpec

__all__ = [
    "INPUT_NAME", "HEAD_NAMES", "METADATA_KEY", "ArtifactFormat", "FORMATS", "ARTIFACT_SUFFIXES", "format_of",
    "artifact_files", "artifact_size", "ArtifactInfo", "encode_metadata", "decode_metadata", "read_artifact_info",
    "ModelBytes", "ModelContent", "is_model_content", "as_model_content", "format_of_content", "content_label",
    "resolve_runtime_model",
]

INPUT_NAME = "image"
HEAD_NAMES = ("score", "offset_x", "offset_y", "nb_x", "nb_y")
METADATA_KEY = "pipnet_edge"
FORMAT = "pipnet-edge/artifact"

ModelBytes = bytes | bytearray | memoryview
# a model held in memory: one file's bytes (.tflite, .onnx), or OpenVINO IR's (xml_bytes, bin_bytes)
ModelContent = bytes | tuple[bytes, bytes]
BYTES_SOURCE = "model bytes"  # how error messages name in-memory content (a path names a file)


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
    """The :class:`ArtifactInfo` in a metadata JSON document; ``source`` names its file in errors.

    Raises:
        ModelLoadError: not JSON, not pipnet-edge metadata, or an invalid model spec.
    """
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
# Each reader takes a path, or the content in memory (bytes; OpenVINO IR: an (xml, bin) pair).
def _subject(src: Path | ModelContent) -> tuple[str, str]:
    """How a message names ``src``, and the verb that agrees: ``("m.onnx", "is")`` / ``("model bytes", "are")``."""
    return (str(src), "is") if isinstance(src, Path) else (BYTES_SOURCE, "are")


def _read_onnx(src: Path | bytes) -> str | None:
    """The metadata entry of an ONNX ``ModelProto``, read off its protobuf fields: no onnxruntime, onnx or model
    load needed (OpenCV-only devices read it too, and the backend then loads the model once)."""
    what, be = _subject(src)
    data = src.read_bytes() if isinstance(src, Path) else src
    try:
        for number, wire, value in _protobuf_fields(data):
            if number != 14 or wire != 2 or value is None:  # ModelProto.metadata_props: {1: key, 2: value}
                continue
            entry = {n: bytes(v) for n, w, v in _protobuf_fields(value) if w == 2 and v is not None}
            if entry.get(1, b"").decode("utf-8", "replace") == METADATA_KEY:
                return entry.get(2, b"").decode("utf-8")
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{what} {be} not a loadable ONNX model: {exc}") from None
    return None


def _read_openvino(src: Path | tuple[bytes, bytes]) -> str | None:
    import xml.etree.ElementTree as ET

    what, be = _subject(src)
    kind = "an OpenVINO IR .xml file" if isinstance(src, Path) else "OpenVINO IR (.xml content)"
    try:
        root = ET.parse(str(src)).getroot() if isinstance(src, Path) else ET.fromstring(src[0])
    except ET.ParseError as exc:
        raise ModelLoadError(f"{what} {be} not {kind}: {exc}") from None
    if root.tag != "net":
        raise ModelLoadError(f"{what} {be} not {kind} (root element <{root.tag}>)")
    node = root.find(f"rt_info/{METADATA_KEY}/metadata")
    if node is not None:
        return node.get("value")
    return None


def read_tflite_metadata(data: bytes, name: str = METADATA_KEY) -> bytes | None:
    """Find ``Model.metadata[name]`` in a TFLite flatbuffer (schema fields by index); ``None`` when absent.

    Raises:
        ModelLoadError: the flatbuffer is truncated or corrupt.
    """
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


def _read_tflite(src: Path | bytes) -> str | None:
    what, be = _subject(src)
    data = src.read_bytes() if isinstance(src, Path) else src
    if len(data) < 8 or data[4:8] != b"TFL3":
        kind = "the file" if isinstance(src, Path) else "the content"
        raise ModelLoadError(f"{what} {be} not a TFLite model (no TFL3 identifier); is {kind} truncated or corrupt?")
    try:
        raw = read_tflite_metadata(data)
    except ModelLoadError as exc:
        raise ModelLoadError(f"{what}: {exc}") from None
    return None if raw is None else raw.decode("utf-8")


@dataclass(frozen=True)
class ArtifactFormat:
    """One model file format: how it is named, what comes with it, what runs it, how its metadata is read."""

    name: str  # onnx | openvino | tflite
    suffix: str
    backends: tuple[str, ...]  # the runtime backends that run it; the first is what backend="auto" picks
    read_metadata: Callable[[Path | ModelContent], str | None]  # a path, or the content in memory
    side_files: tuple[str, ...] = ()  # suffixes of files that must sit next to it (OpenVINO's weights .bin)
    description: str = ""


FORMATS: dict[str, ArtifactFormat] = {
    f.name: f
    for f in (
        ArtifactFormat("tflite", ".tflite", ("tflite",), _read_tflite, (), "TFLite flatbuffer"),
        ArtifactFormat("onnx", ".onnx", ("onnxruntime", "opencv"), _read_onnx, (), "ONNX"),
        ArtifactFormat("openvino", ".xml", ("openvino",), _read_openvino, (".bin",), "OpenVINO IR (.xml + .bin)"),
    )
}
ARTIFACT_SUFFIXES = tuple(f.suffix for f in FORMATS.values())


def format_of(path: str | Path) -> ArtifactFormat:
    """The :class:`ArtifactFormat` of a model file, by suffix.

    Raises:
        ModelLoadError: the suffix is not an artifact format.
    """
    suffix = Path(path).suffix.lower()
    for f in FORMATS.values():
        if f.suffix == suffix:
            return f
    raise ModelLoadError(
        f"{path}: unsupported model format {suffix!r}; expected "
        + ", ".join(f"{f.suffix} ({f.description})" for f in FORMATS.values())
    )


# --------------------------------------------------------------------------- model bytes
# ModelProto's top-level fields: number -> protobuf wire type (0 varint, 2 length-delimited)
_ONNX_MODEL_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while shift < 64:
        if pos >= len(data):
            raise IndexError("varint runs past the end")
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7
    raise ValueError("varint too long")


def _protobuf_fields(data):
    """``(field number, wire type, value)`` of each top-level protobuf field, without copying: ``int`` for
    varints, a ``memoryview`` slice for length-delimited fields, ``None`` for fixed-width ones. A length-delimited
    field cut short is yielded with ``None``, then ``IndexError`` is raised; ``ValueError`` on an invalid wire type."""
    view, pos = memoryview(data), 0
    while pos < len(view):
        key, pos = _varint(view, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(view, pos)
        elif wire == 2:
            length, pos = _varint(view, pos)
            value = view[pos : pos + length] if pos + length <= len(view) else None
            pos += length
        elif wire in (1, 5):
            value, pos = None, pos + (8 if wire == 1 else 4)
        else:
            raise ValueError(f"protobuf wire type {wire} of field {number} is not valid here")
        yield number, wire, value
        if pos > len(view):
            raise IndexError(f"field {number} runs past the end (truncated?)")


def _looks_like_onnx(data: bytes) -> bool:
    """A cheap sniff for a serialized ONNX ``ModelProto``: its top-level protobuf fields are
    ModelProto's, with their wire types, starting at byte 0. Content cut short still counts (the
    loader then says what is wrong with it); the loader is the real check."""
    fields = 0
    try:
        for number, wire, _ in _protobuf_fields(data):
            if _ONNX_MODEL_FIELDS.get(number) != wire:
                return False
            fields += 1
    except IndexError:  # truncated inside a field
        return fields > 0
    except ValueError:
        return False
    return fields > 0


def _looks_like_openvino_xml(data: bytes) -> bool:
    head = bytes(data[:512]).lstrip(b"\xef\xbb\xbf \t\r\n")
    return (head.startswith(b"<?xml") and b"<net" in head) or head.startswith(b"<net")


def _as_bytes(data: ModelBytes) -> bytes:
    return data if type(data) is bytes else memoryview(data).tobytes()


def is_model_content(model: Any) -> bool:
    """Whether ``model`` is a model held in memory (bytes-like, or an OpenVINO ``(xml, bin)`` pair) rather than a path or name."""
    return isinstance(model, (bytes, bytearray, memoryview)) or (
        isinstance(model, tuple) and any(isinstance(m, (bytes, bytearray, memoryview)) for m in model)
    )


def as_model_content(model: ModelBytes | tuple[ModelBytes, ModelBytes]) -> ModelContent:
    """In-memory model content as immutable :class:`bytes` (``bytearray`` / ``memoryview`` copied once;
    ``bytes`` kept as is), an OpenVINO IR pair as ``(xml_bytes, bin_bytes)``.

    Raises:
        ModelLoadError: a tuple that is not two bytes-like objects.
    """
    if isinstance(model, tuple):
        if len(model) != 2 or not all(isinstance(m, (bytes, bytearray, memoryview)) for m in model):
            kinds = ", ".join(type(m).__name__ for m in model)
            raise ModelLoadError(
                f"a model given as a tuple is OpenVINO IR content, (xml_bytes, bin_bytes); got ({kinds}). "
                "To load files, pass the .xml path (its .bin next to it)"
            )
        return _as_bytes(model[0]), _as_bytes(model[1])
    return _as_bytes(model)


def format_of_content(content: ModelContent | ModelBytes) -> ArtifactFormat:
    """The :class:`ArtifactFormat` of a model held in memory, recognised from the content itself:
    TFLite by its ``TFL3`` file identifier (bytes 4..8), ONNX as a protobuf ``ModelProto`` (a cheap
    sniff; loading it is the real check), OpenVINO IR as an ``(xml_bytes, bin_bytes)`` pair.

    Raises:
        ModelLoadError: empty content, content of no artifact format (truncated, compressed or
            encrypted?), or OpenVINO IR ``.xml`` content without its weights.
    """
    content = as_model_content(content)
    if isinstance(content, tuple):
        xml, _ = content
        if not xml:
            raise ModelLoadError(f"{BYTES_SOURCE} are empty (the OpenVINO IR .xml content)")
        if not _looks_like_openvino_xml(xml):
            raise ModelLoadError(
                f"{BYTES_SOURCE}: a (xml_bytes, bin_bytes) pair is for OpenVINO IR, but the first item is not "
                "OpenVINO IR .xml content; pass a .tflite or .onnx file's bytes on their own"
            )
        return FORMATS["openvino"]
    if not content:
        raise ModelLoadError(f"{BYTES_SOURCE} are empty (0 B)")
    if content[4:8] == b"TFL3":
        return FORMATS["tflite"]
    if _looks_like_openvino_xml(content):
        raise ModelLoadError(
            f"{BYTES_SOURCE} hold OpenVINO IR .xml content, which needs its weights (.bin) too: "
            "pass the .xml path (its .bin next to it), or model=(xml_bytes, bin_bytes)"
        )
    if _looks_like_onnx(content):
        return FORMATS["onnx"]
    raise ModelLoadError(
        f"{BYTES_SOURCE} ({len(content)} B) are neither a TFLite model (no 'TFL3' identifier at bytes 4..8) nor an "
        "ONNX model (protobuf ModelProto); is the content truncated, still compressed or encrypted? "
        "To load a file, pass its path (str or Path)"
    )


def content_label(content: ModelContent | ModelBytes, fmt: ArtifactFormat | None = None) -> str:
    """How logs and reports name a model held in memory, e.g. ``"<bytes 4821944 B, tflite>"``.

    Raises:
        ModelLoadError: content of no artifact format (when ``fmt`` is not given).
    """
    content = as_model_content(content)
    fmt = fmt or format_of_content(content)
    size = sum(len(c) for c in content) if isinstance(content, tuple) else len(content)
    return f"<bytes {size} B, {fmt.name}>"


def artifact_files(path: str | Path) -> list[Path]:
    """The files one artifact consists of: the model file and its side files (OpenVINO's ``.bin``).

    Raises:
        ModelLoadError: the suffix is not an artifact format.
    """
    path = Path(path)
    return [path] + [path.with_suffix(s) for s in format_of(path).side_files]


def artifact_size(path: str | Path) -> int:
    """Bytes on disk of an artifact, side files included.

    Raises:
        ModelLoadError: the suffix is not an artifact format.
        OSError: a file of the artifact is missing.
    """
    return sum(p.stat().st_size for p in artifact_files(path))


def read_artifact_info(model: str | Path | ModelBytes | tuple[ModelBytes, ModelBytes]) -> ArtifactInfo:
    """Spec + export settings of an exported ``.onnx``, ``.xml`` (OpenVINO) or ``.tflite`` artifact.

    Args:
        model: the artifact's path (``str`` or ``Path``; the format by suffix), or its content in
            memory: a ``.tflite`` or ``.onnx`` file's ``bytes`` / ``bytearray`` / ``memoryview``
            (the format recognised from the content), or OpenVINO IR's ``(xml_bytes, bin_bytes)``.

    Raises:
        ModelLoadError: the file is missing or empty, not an artifact format, corrupt, or carries no
            pipnet-edge metadata (or invalid metadata); likewise for content in memory.
    """
    if is_model_content(model):
        content = as_model_content(model)
        text = format_of_content(content).read_metadata(content)
        what, verb = BYTES_SOURCE, "carry"
    else:
        path = Path(model)
        if not path.is_file():
            raise ModelLoadError(f"model file {path} does not exist")
        if path.stat().st_size == 0:
            raise ModelLoadError(f"model file {path} is empty")
        text = format_of(path).read_metadata(path)
        what, verb = str(path), "carries"
    if text is None:
        raise ModelLoadError(
            f"{what} {verb} no pipnet-edge metadata ({METADATA_KEY!r}); export it with `python -m pipnet_edge.export` "
            "so the runtime knows its landmarks, input size and neighbour tables"
        )
    return decode_metadata(text, what)


def resolve_runtime_model(model) -> Path | ModelContent:
    """What the runtime opens for a ``model`` option: a bundled model's file (``None``: the default), a path that
    exists, or in-memory content (a file's ``bytes``, or OpenVINO's ``(xml, bin)``).

    Raises:
        InputError: a ``model`` of the wrong type.
        ModelLoadError: a file that does not exist, or a bundled name of torch weights (``"default-fp16"``, ...).
    """
    import os

    from ..assets.registry import resolve_model
    from ..errors import InputError

    if is_model_content(model) or isinstance(model, tuple):
        return as_model_content(model)
    if model is not None and not isinstance(model, (str, os.PathLike)):
        raise InputError(f"model must be a path, a bundled model name, the model's bytes or None; got {type(model).__name__}")
    return resolve_model(model, roles=("int8",)).path
