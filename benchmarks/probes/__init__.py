"""One-off probes, kept as the record of how a choice was made; not maintained as suites.

Run one with ``python -m benchmarks.probes.<probe> [options]``; their saved results (in the same envelope as the
suites') are in ``benchmarks/results/probes/``.
"""

from __future__ import annotations

# name -> what it probed
PROBES: dict[str, str] = {
    "architecture_sweep": "INT8 latency of candidate architectures with random weights (how the lite model was sized)",
    "resolution_probe": "what a smaller input crop costs an unchanged model (why lite spends on channels, not pixels)",
    "rotation_probe": "roll alignment from the detector's eye keypoints, on whole photos turned by known angles",
    "point_bias_probe": "a split-trained model's point bias, measured on its training faces, on its held-out ones",
    "int8_sensitivity": "where a QAT model loses accuracy to INT8: fake-quantizers off group by group",
    "five_point_bias": "the constant offset between MTFL's five points and ours (prints; no saved result)",
}

__all__ = ["PROBES"]
