"""The benchmarks' timing helper: call counts, statistics, per-stage times (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from pipnet_edge.errors import InputError
from pipnet_edge.evaluation.timing import TimingStats, time_calls


def test_from_samples_statistics() -> None:
    ms = [5.0, 1.0, 3.0, 2.0, 4.0, 100.0, 6.0, 7.0, 8.0, 9.0]
    s = TimingStats.from_samples(ms)
    assert s.runs == 10
    assert s.median_ms == pytest.approx(np.median(ms))
    assert s.p90_ms == pytest.approx(np.percentile(ms, 90))
    assert s.mean_ms == pytest.approx(np.mean(ms))
    assert s.samples_ms == tuple(ms)  # call order kept
    assert s.result is None and s.stages == {}
    assert s.to_dict(1) == {"median_ms": 5.5, "p90_ms": round(float(np.percentile(ms, 90)), 1), "mean_ms": 14.5, "runs": 10}
    with pytest.raises(InputError):
        TimingStats.from_samples([])


def test_time_calls_counts_warmup_and_keeps_the_first_result() -> None:
    calls = []

    def fn() -> int:
        calls.append(len(calls))
        return len(calls)

    t = time_calls(fn, runs=4, warmup=3)
    assert len(calls) == 7
    assert t.runs == 4 and len(t.samples_ms) == 4
    assert t.result == 4  # the first timed call is the 4th call
    assert all(v >= 0 for v in t.samples_ms)
    assert min(t.samples_ms) <= t.median_ms <= t.p90_ms <= max(t.samples_ms)
    assert time_calls(fn, runs=1, warmup=0).runs == 1
    for bad in ({"runs": 0}, {"runs": 1, "warmup": -1}):
        with pytest.raises(InputError):
            time_calls(fn, **bad)


def test_time_calls_measures_time() -> None:
    import time

    t = time_calls(lambda: time.sleep(0.005), runs=3, warmup=0)
    assert t.median_ms >= 4.5 and t.mean_ms >= 4.5


def test_time_calls_stages_from_the_timing_dict() -> None:
    n = {"calls": 0}

    def fn(timing: dict) -> str:
        n["calls"] += 1
        assert timing == {}  # a fresh dict per call
        timing["model_ms"] = timing.get("model_ms", 0.0) + 2.0
        timing["model_ms"] += 1.0  # accumulated within a call, as the Landmarker does for two model runs
        if n["calls"] % 2:
            timing["detect_ms"] = 10.0
        return "done"

    t = time_calls(fn, runs=4, warmup=1, stages=True)
    assert n["calls"] == 5 and t.result == "done"
    assert list(t.stages) == ["model_ms", "detect_ms"]
    assert t.stages["model_ms"].samples_ms == (3.0, 3.0, 3.0, 3.0)
    # calls 2..5 timed: 'detect_ms' written on calls 3 and 5 only; the others count 0 ms
    assert t.stages["detect_ms"].samples_ms == (0.0, 10.0, 0.0, 10.0)
    assert t.stages["detect_ms"].mean_ms == 5.0


def test_time_calls_with_a_landmarker_stage_dict() -> None:
    """The real producer of stage dicts: a detector-less Landmarker over a fake backend."""
    from pipnet_edge.runtime import Landmarker
    from pipnet_edge.runtime.artifact import HEAD_NAMES, ArtifactInfo
    from pipnet_edge.runtime.backends import Backend
    from pipnet_edge.spec import ModelSpec

    mean_face = np.random.default_rng(0).uniform(0.3, 0.7, (68, 2))
    spec = ModelSpec.create("300w-68", mean_face, input_size=64, net_stride=32, num_nb=4)

    class Zeros(Backend):
        name = "zeros"

        def run(self, images):
            m, n, nb = spec.map_size, spec.num_points, spec.num_nb
            return {k: np.zeros((len(images), m, m, c), np.float32) for k, c in zip(HEAD_NAMES, (n, n, n, n * nb, n * nb))}

    from pathlib import Path

    lm = Landmarker.from_backend(Zeros(Path("zeros.tflite"), ArtifactInfo(spec)), detector=None)
    image = np.zeros((120, 160, 3), np.uint8)
    t = time_calls(lambda timing: lm.detect(image, boxes=[[40, 30, 100, 90]], timing=timing), runs=3, warmup=1, stages=True)
    assert set(t.stages) == {"crop_ms", "model_ms", "decode_ms", "warp_ms"}
    assert len(t.result.faces) == 1
    for i, total in enumerate(t.samples_ms):  # every stage lies inside its call
        assert sum(s.samples_ms[i] for s in t.stages.values()) <= total
