"""The checks of scripts/device_install_check.sh: the device wheel's contents, and a device install's landmarks.

Run by the shell script, once per step (each subcommand prints one summary line and exits non-zero on failure):

* ``wheel WHEEL``: list what the wheel carries; refuse a wheel over 12 MB, one that carries float or QAT weights
  (``*_fp16.safetensors``, ``*_qat.safetensors``: training and export only), or one that misses an INT8 model, a
  detector, ``SHA256SUMS`` or a licence (:func:`wheel_problems`; ``tests/test_packaging.py`` applies the same rule).
* ``reference --onnx FILE --out JSON`` (the development install): the landmarks of ``docs/group.jpg`` for each device
  case, on the same backend and the same YuNet engine as the device venv will use.
* ``device CASE --onnx FILE --reference JSON --out JSON`` (inside a clean venv holding only the wheel and its
  dependencies): torch is not importable, pipnet_edge comes from the venv, the backend and YuNet engine are the
  expected ones, the faces are the reference's (paired by box IoU) and their points are within 1 px on average.
* ``training`` (an editable install): the float and QAT weights resolve and match ``SHA256SUMS``.

This file imports only the standard library at its top: the device venvs have numpy, OpenCV and one backend.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zipfile
from pathlib import Path

MAX_WHEEL_MB = 12.0
MAX_MEAN_PX = 1.0  # mean point distance to the development install's points, over every face
MIN_IOU = 0.5  # a device face and a reference face are the same face when their boxes overlap this much
ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "docs" / "group.jpg"

# case -> (what a device installs besides the wheel, model, backend, YuNet engine)
CASES: dict[str, dict] = {
    "a": {"extra": "tflite", "model": "bundled", "backend": "tflite", "yunet": "opencv",
          "what": "numpy + OpenCV + ai-edge-litert, the bundled default INT8 TFLite"},
    "b": {"extra": "onnxruntime", "model": "onnx", "backend": "onnxruntime", "yunet": "onnxruntime",
          "what": "numpy + OpenCV + onnxruntime, the default model as INT8 ONNX"},
    "c": {"extra": None, "model": "onnx", "backend": "opencv", "yunet": "opencv",
          "what": "numpy + OpenCV alone (backend='opencv'), the default model as INT8 ONNX"},
}

# what the device wheel must carry (paths inside the wheel), and what it must not
REQUIRED = (
    "pipnet_edge/assets/SHA256SUMS",
    "pipnet_edge/assets/pipnet_mbv2_300w68_int8.tflite",
    "pipnet_edge/assets/pipnet_lite_300w68_int8.tflite",
    "pipnet_edge/assets/detectors/yunet/face_detection_yunet_2023mar.onnx",
    "pipnet_edge/assets/detectors/yunet/LICENSE",
    "pipnet_edge/assets/detectors/blazeface/face_detection_short_range.tflite",
    "pipnet_edge/assets/detectors/blazeface/face_detection_full_range_sparse.tflite",
    "pipnet_edge/assets/detectors/blazeface/face_detection_short_range_int8.tflite",
    "pipnet_edge/assets/detectors/blazeface/LICENSE",
    "pipnet_edge/runtime/landmarker.py",
)
FORBIDDEN_SUFFIXES = ("_fp16.safetensors", "_qat.safetensors")


def wheel_problems(wheel: str | Path, max_mb: float = MAX_WHEEL_MB) -> list[str]:
    """What is wrong with a device wheel (empty when nothing): its size, float/QAT weights inside, files missing."""
    wheel = Path(wheel)
    problems = []
    size_mb = wheel.stat().st_size / 1e6
    if size_mb > max_mb:
        problems.append(f"the wheel is {size_mb:.2f} MB, over {max_mb:g} MB")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    shipped = sorted(n for n in names if n.endswith(FORBIDDEN_SUFFIXES))
    if shipped:
        problems.append(f"training/export weights in the device wheel: {', '.join(shipped)}")
    missing = [n for n in REQUIRED if n not in names]
    if missing:
        problems.append(f"missing from the wheel: {', '.join(missing)}")
    return problems


def _wheel(args) -> int:
    wheel = Path(args.wheel)
    with zipfile.ZipFile(wheel) as z:
        infos = z.infolist()
    code = sum(i.compress_size for i in infos if i.filename.endswith(".py"))
    print(f"{wheel.name}: {wheel.stat().st_size / 1e6:.2f} MB, {len(infos)} files "
          f"({sum(i.filename.endswith('.py') for i in infos)} .py files, {code / 1e6:.2f} MB compressed); the rest:")
    for i in sorted(infos, key=lambda i: -i.compress_size):
        if not i.filename.endswith(".py"):
            print(f"  {i.compress_size / 1e6:7.3f} MB  ({i.file_size / 1e6:7.3f} MB unpacked)  {i.filename}")
    problems = wheel_problems(wheel, args.max_mb)
    for p in problems:
        print(f"FAIL: {p}")
    if not problems:
        print(f"wheel OK: <= {args.max_mb:g} MB, no *_fp16 / *_qat safetensors, INT8 models, detectors, "
              "SHA256SUMS and licences present")
    return 1 if problems else 0


def _run_case(case: str, onnx: str | None, in_device_venv: bool) -> dict:
    """The landmarks of the photo for one case, and what ran them."""
    import cv2

    from pipnet_edge.runtime import Landmarker

    spec = CASES[case]
    model = None if spec["model"] == "bundled" else onnx
    if model is None and spec["model"] != "bundled":
        raise SystemExit(f"case {case} needs --onnx")
    if in_device_venv:
        detector = "yunet"  # as a device user would: the default front end, its engine chosen by what is installed
    else:
        from pipnet_edge.runtime.detectors.yunet import YuNetFaceDetector

        detector = YuNetFaceDetector(engine=spec["yunet"])  # the engine the device venv will end up with
    image = cv2.imread(str(PHOTO))
    if image is None:
        raise SystemExit(f"cannot read {PHOTO}")
    t0 = time.perf_counter()
    with Landmarker(model, backend=spec["backend"], detector=detector) as lm:
        t1 = time.perf_counter()
        result = lm.detect(image, color_order="BGR")
        t2 = time.perf_counter()
        backend = type(lm.backend).__name__
        engine = getattr(lm.detector, "engine", None)
    return {"case": case, "backend": backend, "yunet_engine": engine, "load_s": round(t1 - t0, 3),
            "detect_s": round(t2 - t1, 3),
            "faces": [{"box": [float(v) for v in f.box], "score": float(f.score),
                       "points": [[float(x), float(y)] for x, y in f.points]} for f in result]}


def _reference(args) -> int:
    ref = {case: _run_case(case, args.onnx, in_device_venv=False) for case in CASES}
    Path(args.out).write_text(json.dumps(ref))
    print("reference (development install): " + ", ".join(
        f"({c}) {len(r['faces'])} faces [{r['backend']}, YuNet on {r['yunet_engine']}]" for c, r in ref.items()))
    return 0


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def compare_faces(faces: list[dict], ref: list[dict]) -> dict:
    """Pair ``faces`` with ``ref`` by box IoU (best pairs first, IoU >= MIN_IOU) and measure their point distances."""
    import numpy as np

    pairs = sorted(((_iou(f["box"], r["box"]), i, j) for i, f in enumerate(faces) for j, r in enumerate(ref)), reverse=True)
    used_f, used_r, matched = set(), set(), []
    for iou, i, j in pairs:
        if iou >= MIN_IOU and i not in used_f and j not in used_r:
            used_f.add(i), used_r.add(j)
            d = np.linalg.norm(np.asarray(faces[i]["points"]) - np.asarray(ref[j]["points"]), axis=1)
            matched.append({"iou": round(iou, 4), "mean_px": float(d.mean()), "max_px": float(d.max())})
    means = [m["mean_px"] for m in matched]
    return {"faces": len(faces), "reference_faces": len(ref), "paired": len(matched),
            "unpaired": len(faces) - len(matched), "missed": len(ref) - len(matched),
            "mean_px": float(np.mean(means)) if means else float("nan"),
            "worst_face_mean_px": max(means, default=float("nan")),
            "max_px": max((m["max_px"] for m in matched), default=float("nan")), "pairs": matched}


def _device(args) -> int:
    import importlib.util
    import os

    failures = []
    if importlib.util.find_spec("torch") is not None:
        failures.append("torch is importable in the device venv")
    import pipnet_edge

    where = Path(pipnet_edge.__file__).resolve()
    if not str(where).startswith(str(Path(sys.prefix).resolve())):
        failures.append(f"pipnet_edge was imported from {where}, not from the venv {sys.prefix}")
    spec = CASES[args.case]
    got = _run_case(args.case, args.onnx, in_device_venv=True)
    if "torch" in sys.modules:
        failures.append("running the Landmarker imported torch")
    want_backend = {"tflite": "TFLiteBackend", "onnxruntime": "OnnxRuntimeBackend", "opencv": "OpenCVBackend"}[spec["backend"]]
    if got["backend"] != want_backend:
        failures.append(f"backend {got['backend']}, expected {want_backend}")
    if got["yunet_engine"] != spec["yunet"]:
        failures.append(f"YuNet ran on {got['yunet_engine']}, expected {spec['yunet']}")
    ref = json.loads(Path(args.reference).read_text())
    cmp = compare_faces(got["faces"], ref[args.case]["faces"])
    cross = compare_faces(got["faces"], ref["a"]["faces"])  # beside the development install's bundled TFLite
    if not ref[args.case]["faces"]:
        failures.append("the reference found no face")
    if cmp["unpaired"] or cmp["missed"]:
        failures.append(f"faces differ from the reference: {cmp['faces']} found, {cmp['reference_faces']} in the "
                        f"reference, {cmp['paired']} paired by IoU >= {MIN_IOU}")
    if not cmp["mean_px"] <= MAX_MEAN_PX:
        failures.append(f"points {cmp['mean_px']:.3f} px from the development install on average (bound {MAX_MEAN_PX} px)")
    # the fp16 / QAT weights are not on a device: the registry says so, and how a training install gets them
    from pipnet_edge.assets import get_card
    from pipnet_edge.errors import ModelLoadError

    try:
        get_card("default").path("fp16")
        failures.append("the float weights are in the device install")
    except ModelLoadError as exc:
        if "training install" not in str(exc):
            failures.append(f"ModelLoadError for the absent float weights does not say how to get them: {exc}")
    import cv2
    import numpy as np

    versions = {"python": sys.version.split()[0], "numpy": np.__version__, "opencv": cv2.__version__}
    for pkg in ("ai_edge_litert", "onnxruntime"):
        if importlib.util.find_spec(pkg) is not None:
            from importlib.metadata import version

            versions[pkg] = version({"ai_edge_litert": "ai-edge-litert"}.get(pkg, pkg))
    record = {**got, "what": spec["what"], "versions": versions, "vs_reference": cmp, "vs_dev_bundled_tflite": cross,
              "failures": failures, "pipnet_edge": str(where), "env_pythonpath": os.environ.get("PYTHONPATH", "")}
    record.pop("faces")
    if args.out:
        Path(args.out).write_text(json.dumps(record, indent=1))
    print(f"({args.case}) {spec['what']}: {', '.join(f'{k} {v}' for k, v in versions.items())}")
    print(f"    {got['backend']}, YuNet on {got['yunet_engine']}: {cmp['faces']} faces ({cmp['paired']} paired with the "
          f"development install's {cmp['reference_faces']}); points {cmp['mean_px']:.4f} px from it on average "
          f"(worst face {cmp['worst_face_mean_px']:.4f}, worst point {cmp['max_px']:.3f}); beside the development "
          f"install's bundled TFLite {cross['mean_px']:.3f} px; load {got['load_s']:.2f} s, detect {got['detect_s']:.2f} s")
    for f in failures:
        print(f"    FAIL: {f}")
    if not failures:
        print("    OK: torch not importable, faces found, within 1 px of the development install")
    return 1 if failures else 0


def _training(args) -> int:
    from pipnet_edge.assets import ASSETS_DIR, CARDS

    failures = []
    for card in CARDS.values():
        for role in ("fp16", "qat", "int8"):
            try:
                card.path(role)  # verified against SHA256SUMS
            except Exception as exc:  # noqa: BLE001 - reported
                failures.append(f"{card.name}-{role}: {exc}")
    print(f"training install (editable, assets read from {ASSETS_DIR}): "
          + ("float, QAT and INT8 weights of every bundled model present and verified" if not failures else ""))
    for f in failures:
        print(f"    FAIL: {f}")
    return 1 if failures else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("wheel", help="list the wheel and check the device rule")
    w.add_argument("wheel")
    w.add_argument("--max-mb", type=float, default=MAX_WHEEL_MB)
    r = sub.add_parser("reference", help="the development install's landmarks of the photo, per case")
    r.add_argument("--onnx", required=True)
    r.add_argument("--out", required=True)
    d = sub.add_parser("device", help="inside a device venv: run a case and compare with the reference")
    d.add_argument("case", choices=sorted(CASES))
    d.add_argument("--onnx")
    d.add_argument("--reference", required=True)
    d.add_argument("--out")
    sub.add_parser("training", help="an editable install has the float and QAT weights")
    args = p.parse_args(argv)
    return {"wheel": _wheel, "reference": _reference, "device": _device, "training": _training}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
