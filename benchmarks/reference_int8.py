"""Reference INT8 artifacts: what each runtime's OWN quantizer makes of our float model.

    python -m benchmarks.reference_int8 --artifacts exports/ --calib ../shared/data/300w/train --out exports/reference

Our INT8 targets all come from one QAT model (``pipnet_edge.quantization``). To see what that costs
each runtime, ``python -m benchmarks artifacts --references CALIB`` builds these beside them in the same run:

* ``*_onnx-int8-ort.onnx``: onnxruntime's ``quantize_static`` on our float ONNX (QDQ, uint8
  activations / int8 per-channel weights, MinMax calibration) — what onnxruntime's docs recommend
  for x86;
* ``*_openvino-int8-nncf.xml``: NNCF's ``nncf.quantize`` (OpenVINO's post-training quantizer,
  default mixed preset) on our float OpenVINO IR.

Both are calibrated on the same ``--count`` training faces (``pipnet_edge.calibration``, seeded),
never on the test set, and carry the float artifact's pipnet-edge metadata (target renamed), so
the runtime and the artifacts suite treat them like ours.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np

from pipnet_edge.calibration import load_calibration_set
from pipnet_edge.runtime.artifact import METADATA_KEY, encode_metadata, read_artifact_info

log = logging.getLogger("reference_int8")


def _metadata(float_path: Path, target: str, tool: str, calib_info: dict) -> str:
    info = read_artifact_info(float_path)
    export = dict(info.export, target=target, precision="int8", reference=True, quantizer=tool, calibration=calib_info)
    return encode_metadata(info.spec, export)


def ort_quantize_static(float_onnx: Path, calib, out: Path) -> Path:
    """onnxruntime ``quantize_static`` (QDQ, u8 activations, s8 per-channel weights) of a float ONNX artifact."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{"image": b.astype(np.float32)} for b in calib.batches(8)])

        def get_next(self):
            return next(self.batches, None)

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "q.onnx"
        quantize_static(str(float_onnx), str(raw), Reader(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)
        model = onnx.load(str(raw))
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, _metadata(float_onnx, "onnx-int8-ort", "onnxruntime.quantize_static", calib.info)
    onnx.save(model, str(out))
    return out


def nncf_quantize(float_xml: Path, calib, out: Path) -> Path:
    """NNCF ``quantize`` (OpenVINO's own post-training INT8) of a float OpenVINO IR artifact."""
    import nncf
    import openvino as ov

    model = ov.Core().read_model(str(float_xml))
    dataset = nncf.Dataset([b.astype(np.float32) for b in calib.batches(1)])
    q = nncf.quantize(model, dataset, subset_size=len(calib))
    q.set_rt_info(_metadata(float_xml, "openvino-int8-nncf", "nncf.quantize", calib.info), [METADATA_KEY, "metadata"])
    ov.save_model(q, str(out))
    return out


def build_references(float_artifacts: list[Path], calib_dir: str, count: int, out_dir: Path, seed: int = 0) -> list[Path]:
    """References for every float ONNX (``*_onnx.onnx``) and float OpenVINO IR (``*_openvino.xml``) given."""
    out_dir.mkdir(parents=True, exist_ok=True)
    made = []
    for path in float_artifacts:
        stem, target = path.stem.rsplit("_", 1)
        if target not in ("onnx", "openvino"):
            continue
        calib = load_calibration_set(calib_dir, read_artifact_info(path).spec, count, seed)
        if target == "onnx":
            made.append(ort_quantize_static(path, calib, out_dir / f"{stem}_onnx-int8-ort.onnx"))
        else:
            made.append(nncf_quantize(path, calib, out_dir / f"{stem}_openvino-int8-nncf.xml"))
        log.info("reference %s from %s (%d calibration faces)", made[-1].name, path.name, len(calib))
    return made


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--artifacts", nargs="+", required=True, help="float *_onnx.onnx / *_openvino.xml files or folders")
    p.add_argument("--calib", required=True, help="calibration faces (training data, never the test set)")
    p.add_argument("--count", type=int, default=64, help="calibration faces (default 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    paths: list[Path] = []
    for a in map(Path, args.artifacts):
        paths += sorted(a.iterdir()) if a.is_dir() else [a]
    made = build_references(paths, args.calib, args.count, Path(args.out), args.seed)
    print(json.dumps([str(m) for m in made], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
