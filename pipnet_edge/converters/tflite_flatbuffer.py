"""Post-processing of ``.tflite`` flatbuffers with the schema that ships in ai-edge-litert.

* :func:`add_metadata`: append a ``Model.metadata`` entry (name + buffer). TFLite
  interpreters ignore unknown metadata, so the file stays valid everywhere.
* :func:`change_io_types`: turn a full-INT8 model's int8 input/output tensors into uint8 (the
  same real values, zero point + 128) or float32, by adding QUANTIZE / DEQUANTIZE ops at the
  boundary and re-pointing the signature. litert-torch emits int8 I/O only, and TF's
  ``modify_model_interface`` is a no-op on such models (it only rewrites float boundaries).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["add_metadata", "change_io_types", "io_dtypes"]


def _schema():
    from ai_edge_litert import schema_py_generated as fb
    from ai_edge_litert.tools import flatbuffer_utils as fbu

    return fb, fbu


def add_metadata(path: str | Path, name: str, data: bytes) -> None:
    """Add (or replace) metadata ``name`` in the file at ``path``, in place."""
    fb, fbu = _schema()
    model = fbu.read_model(str(path))
    model.metadata = model.metadata or []
    arr = np.frombuffer(data, dtype=np.uint8).copy()
    for md in model.metadata:
        if (md.name.decode() if isinstance(md.name, bytes) else md.name) == name:
            model.buffers[md.buffer].data = arr
            break
    else:
        buf = fb.BufferT()
        buf.data = arr
        model.buffers.append(buf)
        md = fb.MetadataT()
        md.name = name
        md.buffer = len(model.buffers) - 1
        model.metadata.append(md)
    fbu.write_model(model, str(path))


def _opcode_index(model, fb, fbu, builtin) -> int:
    for i, oc in enumerate(model.operatorCodes):
        if fbu.get_builtin_code_from_operator_code(oc) == builtin:
            return i
    oc = fb.OperatorCodeT()
    oc.builtinCode = builtin
    oc.deprecatedBuiltinCode = min(builtin, 127)
    oc.version = 2 if builtin == fb.BuiltinOperator.QUANTIZE else 1
    model.operatorCodes.append(oc)
    return len(model.operatorCodes) - 1


def _boundary_tensor(fb, sg, old_idx: int, new_type) -> int:
    old = sg.tensors[old_idx]
    t = fb.TensorT()
    t.shape = list(old.shape)
    t.shapeSignature = list(old.shapeSignature) if old.shapeSignature is not None else None
    t.type = new_type
    t.name = old.name
    old.name = (old.name if isinstance(old.name, bytes) else old.name.encode()) + b"_int8"
    t.buffer = 0
    if new_type == fb.TensorType.UINT8:
        q = fb.QuantizationParametersT()
        q.scale = list(old.quantization.scale)
        q.zeroPoint = [int(z) + 128 for z in old.quantization.zeroPoint]
        q.quantizedDimension = 0
        t.quantization = q
    sg.tensors.append(t)
    return len(sg.tensors) - 1


def change_io_types(path: str | Path, input_type: str = "uint8", output_type: str = "uint8") -> None:
    """Rewrite int8 I/O tensors to ``uint8`` / ``float32`` (``int8`` leaves them), in place."""
    fb, fbu = _schema()
    types = {"uint8": fb.TensorType.UINT8, "float32": fb.TensorType.FLOAT32}
    model = fbu.read_model(str(path))
    q_op = _opcode_index(model, fb, fbu, fb.BuiltinOperator.QUANTIZE)
    dq_op = _opcode_index(model, fb, fbu, fb.BuiltinOperator.DEQUANTIZE)
    for sg_i, sg in enumerate(model.subgraphs):
        remap: dict[int, int] = {}

        def rewrite(tensors, new_type: str, is_input: bool):
            """New boundary tensors for the int8 ones, and the ops converting between them."""
            kept, ops = [], []
            for ti in tensors:
                if sg.tensors[ti].type != fb.TensorType.INT8 or new_type == "int8":
                    kept.append(ti)
                    continue
                nt = _boundary_tensor(fb, sg, ti, types[new_type])
                op = fb.OperatorT()
                # input: uint8/float -> int8 is a QUANTIZE; output: int8 -> uint8 re-quantizes, int8 -> float dequantizes
                op.opcodeIndex = q_op if is_input or new_type == "uint8" else dq_op
                op.inputs, op.outputs = ([nt], [ti]) if is_input else ([ti], [nt])
                ops.append(op)
                kept.append(nt)
                remap[ti] = nt
            return kept, ops

        new_inputs, head_ops = rewrite(sg.inputs, input_type, is_input=True)
        new_outputs, tail_ops = rewrite(sg.outputs, output_type, is_input=False)
        sg.operators = head_ops + list(sg.operators) + tail_ops
        sg.inputs, sg.outputs = new_inputs, new_outputs
        for sd in model.signatureDefs or []:
            if sd.subgraphIndex != sg_i:
                continue
            for tm in list(sd.inputs or []) + list(sd.outputs or []):
                tm.tensorIndex = remap.get(tm.tensorIndex, tm.tensorIndex)
    fbu.write_model(model, str(path))


def io_dtypes(path: str | Path) -> tuple[list[str], list[str]]:
    """Numpy dtype names of the signature's input and output tensors."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner()
    ins = [np.dtype(d["dtype"]).name for d in runner.get_input_details().values()]
    outs = [np.dtype(d["dtype"]).name for d in runner.get_output_details().values()]
    return ins, outs
