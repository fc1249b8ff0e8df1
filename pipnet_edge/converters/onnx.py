"""ONNX export: ``torch.onnx.export`` (dynamo) -> onnxslim -> one self-contained file.

Float: the :class:`EdgePIPNet` wrapper (normalisation inside the graph).
INT8: the PT2E quantized graph exported as QDQ (QuantizeLinear / DequantizeLinear around
int8 weights and activations), which onnxruntime runs with integer kernels and OpenVINO
reads as FakeQuantize.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from ..models.edge import EdgePIPNet
from ..runtime.artifact import HEAD_NAMES, INPUT_NAME, METADATA_KEY

__all__ = [
    "build_onnx_module", "save_onnx", "set_onnx_metadata", "float_onnx_module", "export_onnx", "export_onnx_module", "fold_weight_quantization",
    "fold_constant_clips", "activations_to_uint8", "clips_to_quantized_domain",
]

log = logging.getLogger("pipnet_edge.export")
OPSET = 18


def build_onnx_module(module: torch.nn.Module, input_size: int, slim: bool = True):
    """The ONNX graph (a ``ModelProto``, no metadata yet) of a module taking ``image`` (B, S, S, 3)
    and returning the five named heads: ``torch.onnx.export`` (dynamo) -> onnxslim -> int8 weights.

    This is the expensive step; an export run builds it once per precision and writes it with
    :func:`save_onnx` for every target made from it.
    """
    x = torch.rand(2, input_size, input_size, 3) * 255
    batch = torch.export.Dim("batch", min=1, max=4096)
    program = torch.onnx.export(
        module, (x,), dynamo=True, input_names=[INPUT_NAME], output_names=list(HEAD_NAMES),
        opset_version=OPSET, dynamic_shapes={"image": {0: batch}}, external_data=False, verbose=False,
    )
    model = program.model_proto
    if slim:
        import onnxslim

        model = onnxslim.slim(model)
    folded = fold_weight_quantization(model) + fold_constant_clips(model)
    if folded:
        log.info("stored %d quantized weight tensors as int8 initializers", folded)
        moved = activations_to_uint8(model)
        log.info("re-expressed %d activation zero points as uint8 (u8 activations / s8 weights)", moved)
        clips = clips_to_quantized_domain(model)
        log.info("moved %d activation clips (ReLU6) into the quantized domain", clips)
    return model


def save_onnx(model, path: Path, metadata: str) -> Path:
    """Write a graph from :func:`build_onnx_module` as one self-contained file carrying ``metadata``.

    Replaces the graph's metadata entries, so one graph can be saved again with another target's metadata.
    """
    import onnx

    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, metadata
    model.producer_name = "pipnet-edge"
    onnx.checker.check_model(model)
    onnx.save(model, str(path), save_as_external_data=False)
    return path


def set_onnx_metadata(model, metadata: str):
    """Replace the ``pipnet_edge`` metadata entry, leaving the other entries: of an ``onnx.ModelProto`` (in memory,
    returned) or of the ``.onnx`` file at a path (rewritten, the path returned)."""
    import onnx

    proto = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model))
    kept = [(p.key, p.value) for p in proto.metadata_props if p.key != METADATA_KEY]
    del proto.metadata_props[:]
    for key, value in [(METADATA_KEY, metadata), *kept]:
        proto.metadata_props.add(key=key, value=value)
    if proto is model:
        return proto
    onnx.save(proto, str(model), save_as_external_data=False)
    return model


def export_onnx_module(module: torch.nn.Module, path: Path, input_size: int, metadata: str, slim: bool = True) -> Path:
    """Export a module taking ``image`` (B, S, S, 3) and returning the five named heads."""
    return save_onnx(build_onnx_module(module, input_size, slim), path, metadata)


def float_onnx_module(model) -> torch.nn.Module:
    """What the float ONNX of a PIPNet is exported from (normalisation in the graph, exact w.r.t. torch)."""
    return EdgePIPNet(model.eval(), fold_normalization=False).eval()


def export_onnx(model, path: Path, metadata: str) -> Path:
    """Float ONNX of a PIPNet (normalisation in the graph, exact w.r.t. torch)."""
    return export_onnx_module(float_onnx_module(model), path, model.spec.input_size, metadata)


def _fold_constant_nodes(model, compute) -> int:
    """Replace every node for which ``compute(node, initializers)`` returns an array by that array (an initializer
    under the node's output name); the initializers nothing reads any more are dropped. Returns how many were folded."""
    from onnx import numpy_helper

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    keep, folded = [], 0
    for node in graph.node:
        value = compute(node, inits)
        if value is None:
            keep.append(node)
            continue
        graph.initializer.append(numpy_helper.from_array(value, node.output[0]))
        folded += 1
    if folded:
        del graph.node[:]
        graph.node.extend(keep)
        _prune_initializers(graph)
    return folded


def fold_weight_quantization(model) -> int:
    """Replace ``QuantizeLinear(float initializer)`` by the int8 initializer it computes.

    PT2E graphs keep weights in float with a QuantizeLinear in front (litert-torch needs
    that form); storing the int8 values instead makes the file ~4x smaller and is what
    onnxruntime's own quantizer emits. Values are identical (same rounding and clipping).
    """
    import numpy as np
    from onnx import numpy_helper

    def quantized(node, inits):
        if node.op_type != "QuantizeLinear" or len(node.input) < 3 or not all(n in inits for n in node.input[:3]):
            return None
        w = numpy_helper.to_array(inits[node.input[0]]).astype(np.float64)
        scale = numpy_helper.to_array(inits[node.input[1]]).astype(np.float64)
        zp_arr = numpy_helper.to_array(inits[node.input[2]])
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        if scale.ndim == 1 and scale.size > 1:
            shape = [1] * w.ndim
            shape[axis] = scale.size
            scale = scale.reshape(shape)
            zp = zp_arr.astype(np.float64).reshape(shape)
        else:
            zp = zp_arr.astype(np.float64)
        info = np.iinfo(zp_arr.dtype)
        return np.clip(np.rint(w / scale) + zp, info.min, info.max).astype(zp_arr.dtype)

    return _fold_constant_nodes(model, quantized)


def activations_to_uint8(model) -> int:
    """Express int8 activation Q/DQ pairs as uint8 with zero point + 128: the same real values.

    onnxruntime's x86 integer kernels run u8 activations x s8 weights about 2x faster than
    s8 x s8 (measured here); the quantization grid, and so every output, is unchanged.
    Weight DequantizeLinear nodes (int8 initializers) are left alone.
    """
    import numpy as np
    from onnx import TensorProto, numpy_helper

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    new_names: dict[str, str] = {}

    def u8_zero_point(name: str) -> str | None:
        t = inits.get(name)
        if t is None or t.data_type != TensorProto.INT8:
            return None
        if name not in new_names:
            z = numpy_helper.to_array(t).astype(np.int16) + 128
            new = name + "_u8"
            graph.initializer.append(numpy_helper.from_array(z.astype(np.uint8), new))
            new_names[name] = new
        return new_names[name]

    # tensors computed from constants only (weights, also when the exporter left a small
    # constant subgraph such as Clip(Round(w / s)) in front of a weight's DequantizeLinear)
    constant = set(inits)
    for node in graph.node:  # nodes are topologically sorted
        if node.op_type == "Constant" or (node.input and all(i in constant for i in node.input if i)):
            constant.update(node.output)
    changed = 0
    for node in graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear") or len(node.input) < 3:
            continue
        if node.input[0] in constant:  # a weight: keep int8
            continue
        new = u8_zero_point(node.input[2])
        if new is not None:
            node.input[2] = new
            changed += 1
    used = {n for node in graph.node for n in node.input}
    for t in [t for t in graph.initializer if t.name not in used]:
        graph.initializer.remove(t)
    if changed:  # intermediate type annotations said int8; let the runtime infer them again
        del graph.value_info[:]
    return changed


def _prune_initializers(graph) -> None:
    used = {n for node in graph.node for n in node.input}
    for t in [t for t in graph.initializer if t.name not in used]:
        graph.initializer.remove(t)


def fold_constant_clips(model) -> int:
    """Replace ``Clip`` nodes whose inputs are all initializers by the tensor they compute.

    The exporter leaves each per-channel weight quantization's range check as
    ``Clip(int8 weights, -127, 127)`` on constants (onnxslim folds the rest). onnxruntime folds it
    when a session starts, but OpenCV's DNN cannot read a Clip on constants at all; the values are
    unchanged (``np.clip`` with the node's own bounds).
    """
    import numpy as np
    from onnx import numpy_helper

    def clipped(node, inits):
        if node.op_type != "Clip" or not node.input or not all(i in inits for i in node.input if i):
            return None
        x = numpy_helper.to_array(inits[node.input[0]])
        bound = [numpy_helper.to_array(inits[i]) if i else None for i in list(node.input[1:3]) + [""] * (3 - len(node.input))]
        return np.clip(x, bound[0], bound[1]).astype(x.dtype)

    return _fold_constant_nodes(model, clipped)


def clips_to_quantized_domain(model) -> int:
    """``DequantizeLinear(s, z) -> Clip(lo, hi) -> QuantizeLinear(s, z)`` becomes ``Clip(q(lo), q(hi))`` on the
    quantized tensor itself: exactly the same values.

    PT2E quantizes each convolution's output and gives the ReLU6 after it the same scale and zero
    point, so the exported graph runs every ReLU6 in float between a dequantize and a quantize,
    which onnxruntime cannot fuse (measured on the default model, 1 thread: 35 float Clips, 5.0 ms
    vs 3.3 ms with the clip on the uint8 tensor, outputs bit-identical). With equal parameters,
    ``Q(clip(DQ(q)))`` is ``q`` clamped to ``[z + round(lo / s), z + round(hi / s)]``, which is what
    the new node computes.
    """
    import numpy as np
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    def const(name: str):
        return numpy_helper.to_array(inits[name]) if name in inits else None

    replace: dict[int, object] = {}  # id(QuantizeLinear) -> new Clip
    drop: set[int] = set()
    for clip in graph.node:
        if clip.op_type != "Clip" or len(clip.input) < 2 or clip.input[0] in inits:
            continue
        dq = producer.get(clip.input[0])
        users = consumers.get(clip.output[0], [])
        if dq is None or dq.op_type != "DequantizeLinear" or len(users) != 1 or users[0].op_type != "QuantizeLinear":
            continue
        q = users[0]
        if len(consumers.get(dq.output[0], [])) != 1 or len(dq.input) < 3 or len(q.input) < 3:
            continue
        s1, z1, s2, z2 = const(dq.input[1]), const(dq.input[2]), const(q.input[1]), const(q.input[2])
        if any(v is None for v in (s1, z1, s2, z2)) or s1.size != 1 or not (np.array_equal(s1, s2) and np.array_equal(z1, z2)):
            continue
        lo = const(clip.input[1]) if clip.input[1] else None
        hi = const(clip.input[2]) if len(clip.input) > 2 and clip.input[2] else None
        if (clip.input[1] and lo is None) or (len(clip.input) > 2 and clip.input[2] and hi is None):
            continue
        scale, zero, info = float(s1), int(z1), np.iinfo(z1.dtype)
        qlo = info.min if lo is None else max(info.min, zero + int(np.rint(float(lo) / scale)))
        qhi = info.max if hi is None else min(info.max, zero + int(np.rint(float(hi) / scale)))
        names = (f"{clip.name}_qmin", f"{clip.name}_qmax")
        for name, value in zip(names, (qlo, qhi)):
            graph.initializer.append(numpy_helper.from_array(np.array(value, dtype=z1.dtype), name))
        replace[id(q)] = helper.make_node("Clip", [dq.input[0], *names], [q.output[0]], name=f"{clip.name}_quantized")
        drop |= {id(dq), id(clip)}
    if not replace:
        return 0
    nodes = [replace.get(id(n), n) for n in graph.node if id(n) not in drop]
    del graph.node[:]
    graph.node.extend(nodes)
    _prune_initializers(graph)
    del graph.value_info[:]
    return len(replace)
