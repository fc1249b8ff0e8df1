"""The ``"live_stream"`` running mode's worker: one background thread, at most one frame held, frames dropped while busy."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

import numpy as np

from .tracking import check_timestamp

if TYPE_CHECKING:
    from .landmarker import Landmarker

__all__ = ["LiveStreamWorker"]

log = logging.getLogger("pipnet_edge.runtime")


class LiveStreamWorker:
    """Runs :meth:`Landmarker.detect_async` frames through the Landmarker's tracker and hands each result to its
    ``result_callback`` (from this thread); a live stream never queues up latency."""

    def __init__(self, landmarker: Landmarker) -> None:
        self.lm = landmarker
        self._cond = threading.Condition()
        self._pending: tuple[np.ndarray, str, int] | None = None
        self._busy = False
        self._stopped = False
        self._last_ts: int | None = None
        self._thread = threading.Thread(target=self._run, name="pipnet-edge-live-stream", daemon=True)
        self._thread.start()

    def offer(self, image: np.ndarray, order: str, ts: int) -> bool:
        """Take the frame (``True``) unless one is being processed or waiting (``False``: dropped)."""
        with self._cond:
            self._last_ts = check_timestamp(ts, self._last_ts)  # also for frames that will be dropped
            if self._busy or self._pending is not None:
                return False
            self._pending = (image, order, ts)
            self._cond.notify()
            return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                image, order, ts = self._pending
                self._pending = None
                self._busy = True
            try:
                with self.lm._lock:
                    self.lm._check_open()
                    result = self.lm._tracker.step(self.lm, image, order, ts)
                self.lm.options.result_callback(result, image, ts)
            except Exception:  # a failing callback (or a close() meanwhile) must not kill the stream
                log.exception("live-stream frame %d failed", ts)
            finally:
                with self._cond:
                    self._busy = False

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=5)
