"""The maintained benchmark suites: ``python -m benchmarks <suite> [options]`` runs ``benchmarks.suites.<suite>``.

Each suite module has ``main(argv) -> int`` (its command line) and ``render_markdown(envelope) -> str`` (its tables,
rendered from its result file, never written by hand); it writes ``benchmarks/results/<suite>.json`` in the one
envelope of :mod:`benchmarks.envelope` and the ``.md`` beside it.
"""

from __future__ import annotations

# name -> what it measures (``python -m benchmarks`` lists them in this order)
SUITES: dict[str, str] = {
    "artifacts": "speed and NME of every exported artifact (and the peers, the runtimes' own INT8) on GT-box crops",
    "end_to_end": "whole photos and multi-face photos, detector included, beside MediaPipe's and dlib's pipelines",
    "detectors": "YuNet's working size, threshold and smallest face (training faces); its two engines compared",
    "face_presence": "min_face_presence: chosen on training faces and face-free backgrounds, checked on test_full",
    "int8_agreement": "how far apart the INT8 runtimes land, and against the quantized graph's exact semantics",
    "int8_detector": "the full-integer INT8 BlazeFace against the float one it was made from (and Vela's report)",
    "vela_matrix": "Arm Ethos-U: every bundled model on every Vela configuration",
    "qnn_agreement": "Qualcomm Hexagon (onnxruntime-qnn's HTP) vs onnxruntime CPU; which SoCs compile each model",
    "imx500": "Sony IMX500 (Raspberry Pi AI Camera): MCT's quantization in simulation vs our INT8 TFLite; chip memory",
    "large_pose": "faces turned away: NME by pose on held-out in-the-wild faces; do the point scores flag bad points",
    "head_pose": "head pose from the landmarks: roll on turned photos, yaw's sign when mirrored, predicted vs labels",
}

__all__ = ["SUITES", "module_name"]


def module_name(suite: str) -> str:
    """The module of a suite name (``"artifacts"`` -> ``"benchmarks.suites.artifacts"``); ValueError if unknown."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; the suites: {', '.join(SUITES)}")
    return f"benchmarks.suites.{suite}"
