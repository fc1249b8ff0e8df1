"""Wall-clock timing of repeated calls: the one timing loop of the benchmarks and scripts.

::

    from pipnet_edge.evaluation.timing import time_calls

    t = time_calls(lambda: lm.predict_crops(crops), runs=100, warmup=10)
    t.median_ms, t.p90_ms, t.mean_ms, t.runs       # statistics of the timed calls
    t.result                                       # what the first timed call returned

    # per stage, from the runtime's own timing dict (Landmarker.detect / predict_crops fill it)
    t = time_calls(lambda timing: lm.detect(image, timing=timing), runs=20, stages=True)
    t.stages["model_ms"].median_ms, t.stages["crop_ms"].p90_ms

Times are ``time.perf_counter`` milliseconds around each call, untimed warm-up calls first; the
p90 is numpy's linear-interpolated 90th percentile. Numpy only: usable on a device without torch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["TimingStats", "time_calls"]


@dataclass(frozen=True)
class TimingStats:
    """Statistics of timed calls, in milliseconds.

    Attributes:
        median_ms: median time per call.
        p90_ms: 90th percentile (linear interpolation).
        mean_ms: mean time per call.
        runs: how many calls were timed.
        samples_ms: every timed call's time, in call order.
        result: the return value of the first timed call (``None`` for statistics made from samples).
        stages: with ``time_calls(..., stages=True)``: one :class:`TimingStats` per key the calls wrote into
            their timing dict (e.g. ``"model_ms"``, ``"decode_ms"``); a call that did not write a key counts 0 ms.
    """

    median_ms: float
    p90_ms: float
    mean_ms: float
    runs: int
    samples_ms: tuple[float, ...] = field(default=(), repr=False)
    result: Any = field(default=None, repr=False, compare=False)
    stages: dict[str, TimingStats] = field(default_factory=dict, repr=False)

    @classmethod
    def from_samples(cls, samples_ms: Sequence[float], result: Any = None,
                     stages: dict[str, TimingStats] | None = None) -> TimingStats:
        """Statistics of the given per-call times (ms).

        Raises:
            InputError: no samples.
        """
        ms = np.asarray(samples_ms, np.float64).ravel()
        if ms.size == 0:
            raise InputError("timing statistics need at least one sample")
        return cls(float(np.median(ms)), float(np.percentile(ms, 90)), float(ms.mean()), int(ms.size),
                   tuple(float(v) for v in ms), result, dict(stages or {}))

    def to_dict(self, digits: int = 3) -> dict[str, float | int]:
        """``{"median_ms", "p90_ms", "mean_ms", "runs"}``, rounded to ``digits`` decimals (for JSON reports)."""
        return {"median_ms": round(self.median_ms, digits), "p90_ms": round(self.p90_ms, digits),
                "mean_ms": round(self.mean_ms, digits), "runs": self.runs}


def time_calls(fn: Callable[..., Any], runs: int = 100, warmup: int = 10, *, stages: bool = False) -> TimingStats:
    """Call ``fn`` ``warmup`` times untimed, then ``runs`` times, each timed on its own.

    Args:
        fn: ``fn()``; with ``stages=True``, ``fn(timing)`` where ``timing`` is a fresh dict per call that
            ``fn`` fills with milliseconds per stage, as :meth:`Landmarker.detect
            <pipnet_edge.runtime.Landmarker.detect>` and :meth:`~pipnet_edge.runtime.Landmarker.predict_crops`
            do with their ``timing=`` argument.
        runs: timed calls (at least 1).
        warmup: untimed calls before them (0 or more).
        stages: collect the per-stage times into :attr:`TimingStats.stages`.

    Returns:
        :class:`TimingStats` of the whole calls; ``result`` is the first timed call's return value.

    Raises:
        InputError: ``runs`` below 1 or ``warmup`` below 0.
    """
    runs, warmup = int(runs), int(warmup)
    if runs < 1:
        raise InputError(f"runs must be at least 1, got {runs}")
    if warmup < 0:
        raise InputError(f"warmup must be 0 or more, got {warmup}")
    for _ in range(warmup):
        if stages:
            fn({})
        else:
            fn()
    samples: list[float] = []
    per_call: list[dict[str, float]] = []
    first: Any = None
    for i in range(runs):
        timing: dict[str, float] = {}
        t0 = time.perf_counter()
        got = fn(timing) if stages else fn()
        samples.append((time.perf_counter() - t0) * 1000.0)
        if i == 0:
            first = got
        per_call.append(timing)
    by_stage: dict[str, TimingStats] = {}
    if stages:
        keys = list(dict.fromkeys(k for t in per_call for k in t))
        by_stage = {k: TimingStats.from_samples([t.get(k, 0.0) for t in per_call]) for k in keys}
    return TimingStats.from_samples(samples, first, by_stage)
