"""Is an INT8 artifact integer all the way through? The check every INT8 export passes before it is called INT8.

An NPU compiler (Arm's Vela, Qualcomm's QNN) runs integer operators only: one float32 tensor inside the graph
sends its operator, and the (de)quantize ops around it, to the CPU. So:

* **TFLite** (:func:`check_tflite`): no float32 tensor, and no QUANTIZE / DEQUANTIZE, except at the model's
  edges when float (or uint8) I/O was asked for: a QUANTIZE reading a graph input, a QUANTIZE / DEQUANTIZE
  writing a graph output, and the float32 I/O tensors themselves.
* **ONNX QDQ** (:func:`check_onnx_qdq`): every Conv and Add reads only DequantizeLinear outputs and its output
  is read only by QuantizeLinear (directly, or through a Clip that stays between the two), so each runs as an
  integer kernel; no float op sits between two quantized ones.

Both return an :class:`IntegerCheck`; ``export`` raises :class:`~pipnet_edge.errors.ExportError` with its
``problems`` when an INT8 target fails it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["IntegerCheck", "check_tflite", "check_onnx_qdq"]


@dataclass(frozen=True)
class IntegerCheck:
    """The outcome of a full-integer check.

    Attributes:
        format: ``"tflite"`` or ``"onnx"``.
        operators: operators in the graph (ONNX: the compute operators, Conv / Add ..., not the Q/DQ nodes).
        integer_operators: operators that compute on integers only (the rest are the problems, or the edge ops).
        edge_operators: QUANTIZE / DEQUANTIZE at the graph's edges (float or uint8 I/O).
        problems: one line per operator or tensor that is not integer, naming it.
    """

    format: str
    operators: int
    integer_operators: int
    edge_operators: int = 0
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"full_integer": self.ok, "operators": self.operators, "integer_operators": self.integer_operators,
                "edge_operators": self.edge_operators, "problems": list(self.problems)}


def check_tflite(path: str | Path) -> IntegerCheck:
    """Full-integer check of a ``.tflite`` file (read with the schema that ships in ai-edge-litert)."""
    from ai_edge_litert import schema_py_generated as fb
    from ai_edge_litert.tools import flatbuffer_utils as fbu

    names = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
    type_names = {v: k for k, v in vars(fb.TensorType).items() if not k.startswith("_")}
    model = fbu.read_model(str(path))
    ops = problems = edge = 0
    lines: list[str] = []
    for sg in model.subgraphs:
        inputs, outputs = set(sg.inputs), set(sg.outputs)
        edge_tensors: set[int] = set()
        for i, op in enumerate(sg.operators):
            ops += 1
            code = fbu.get_builtin_code_from_operator_code(model.operatorCodes[op.opcodeIndex])
            name = names.get(code, str(code))
            op_in = [t for t in op.inputs if t >= 0]
            op_out = [t for t in op.outputs if t >= 0]
            if name == "QUANTIZE" and (set(op_in) <= inputs or set(op_out) <= outputs):
                edge += 1
                edge_tensors.update(t for t in op_in + op_out if t in inputs or t in outputs)
                continue
            if name == "DEQUANTIZE" and set(op_out) <= outputs:
                edge += 1
                edge_tensors.update(op_out)
                continue
            if name in ("QUANTIZE", "DEQUANTIZE"):
                lines.append(f"operator {i} {name} inside the graph")
                problems += 1
                continue
            floats = [t for t in op_in + op_out if sg.tensors[t].type in (fb.TensorType.FLOAT32, fb.TensorType.FLOAT16)]
            if floats:
                lines.append(f"operator {i} {name} has float tensor(s) "
                             + ", ".join(f"{_tensor_name(sg.tensors[t])} ({type_names[sg.tensors[t].type]})" for t in floats))
                problems += 1
        for t in set(inputs) | set(outputs):
            ten = sg.tensors[t]
            if ten.type in (fb.TensorType.FLOAT32, fb.TensorType.FLOAT16) and t not in edge_tensors:
                lines.append(f"graph input/output {_tensor_name(ten)} is {type_names[ten.type]} with no quantize op at the edge")
    return IntegerCheck("tflite", ops, ops - problems - edge, edge, tuple(lines))


def _tensor_name(t) -> str:
    """The tensor's name, shortened to its last path component (converters write module paths)."""
    name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
    return name.rstrip(";").rsplit("/", 1)[-1][-60:]


# ops that only move or clamp int8 values when they sit between a DequantizeLinear and a QuantizeLinear
_PASS_THROUGH = ("Clip", "Relu", "MaxPool", "Transpose", "Reshape", "Pad")
_COMPUTE = ("Conv", "Add", "ConvTranspose", "MatMul", "Gemm", "Mul", "Concat", "AveragePool", "GlobalAveragePool")


def check_onnx_qdq(model) -> IntegerCheck:
    """Full-integer check of a QDQ ONNX graph (an ``onnx.ModelProto`` or a path)."""
    import onnx

    if isinstance(model, (str, Path)):
        model = onnx.load(str(model), load_external_data=False)
    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    consumers: dict[str, list] = defaultdict(list)
    for n in g.node:
        for i in n.input:
            consumers[i].append(n)
    graph_outputs = {o.name for o in g.output}

    def reads_dq(tensor: str, depth: int = 0) -> bool:
        p = producer.get(tensor)
        if p is None:
            return False
        if p.op_type == "DequantizeLinear":
            return True
        return depth < 3 and p.op_type in _PASS_THROUGH and reads_dq(p.input[0], depth + 1)

    def feeds_q(tensor: str, depth: int = 0) -> bool:
        users = consumers.get(tensor, [])
        if not users or tensor in graph_outputs:
            return False
        return all(u.op_type == "QuantizeLinear" or (depth < 3 and u.op_type in _PASS_THROUGH and feeds_q(u.output[0], depth + 1))
                   for u in users)

    lines = []
    compute = 0
    for n in g.node:
        if n.op_type not in _COMPUTE:
            continue
        compute += 1
        activations = [i for i in n.input[:2 if n.op_type == "Add" else 1] if i]
        bad_in = [i for i in activations if not reads_dq(i)]
        bad_out = [o for o in n.output[:1] if not feeds_q(o)]
        if bad_in or bad_out:
            what = []
            if bad_in:
                what.append("input(s) " + ", ".join(bad_in) + " not from a DequantizeLinear")
            if bad_out:
                what.append("output " + ", ".join(bad_out) + " not read by QuantizeLinear only")
            lines.append(f"{n.op_type} {n.name or n.output[0]}: " + "; ".join(what))
    return IntegerCheck("onnx", compute, compute - len(lines), 0, tuple(lines))
