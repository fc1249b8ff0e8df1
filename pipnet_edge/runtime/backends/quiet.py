"""Native libraries' log lines kept off the process's stderr (file descriptor 2).

LiteRT's C++ core writes "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." straight to file
descriptor 2 when the first interpreter of a process is built, where Python's ``sys.stderr`` redirection and
logging cannot reach it. :func:`quiet_native` runs such a call with descriptor 2 pointed at a temporary file:
the lines a library says for information (TFLite's ``INFO:`` / ``VERBOSE:`` / ``WARNING:``, absl's ``I0000``
/ ``W0000``) become DEBUG records of the ``pipnet_edge.runtime`` logger (``logging.basicConfig(level=logging.DEBUG)``
shows them); anything else (an error, another thread's output in the meantime) is written back to stderr, and
everything is written back when the call raises.

With ``PIPNET_EDGE_VERBOSE=1`` in the environment it does nothing: the native lines appear as they are.

The export's quieting (``pipnet_edge.converters.quiet``) reuses :func:`capture_stderr_fd`; the runtime never
imports the converters.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator

__all__ = ["VERBOSE_ENV", "capture_stderr_fd", "is_native_info", "quiet_native", "verbose_requested"]

log = logging.getLogger("pipnet_edge.runtime")

VERBOSE_ENV = "PIPNET_EDGE_VERBOSE"

# informational lines of TFLite's minimal logger ("INFO: ...") and of absl / glog ("I0102 12:00:00.000 ...")
_INFO_LINE = re.compile(r"^(?:(?:INFO|VERBOSE|WARNING): |[IW]\d{4} )")

# descriptor 2 is one per process: one capture at a time (a nested capture in the same thread joins the outer one)
_lock = threading.RLock()
_depth = 0


def verbose_requested() -> bool:
    """``True`` when ``PIPNET_EDGE_VERBOSE`` is set to anything but ``""`` / ``0`` / ``false`` / ``no`` / ``off``."""
    return os.environ.get(VERBOSE_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def is_native_info(line: str) -> bool:
    """A native library's informational line (TFLite ``INFO: ...``, absl ``I0000 ...``), not an error."""
    return bool(_INFO_LINE.match(line))


class Captured:
    """What was written to descriptor 2 inside :func:`capture_stderr_fd` (``text`` is set when the block ends)."""

    text: str = ""


@contextlib.contextmanager
def capture_stderr_fd(*, replay_on_error: bool = True) -> Iterator[Captured]:
    """Point file descriptor 2 at a temporary file for the duration of the block; ``.text`` of the yielded
    object holds what was written there. With ``replay_on_error`` the text is written back to stderr when
    the block raises. Captures are serialised across threads; one nested in another (same thread) yields an
    empty capture and leaves the output to the outer one. Where descriptor 2 cannot be duplicated (no
    console), nothing is captured."""
    global _depth
    captured = Captured()
    with _lock:
        if _depth:
            yield captured
            return
        try:
            sys.stderr.flush()
        except (AttributeError, OSError, ValueError):
            pass
        try:
            saved = os.dup(2)
        except OSError:
            yield captured
            return
        _depth += 1
        failed = False
        try:
            with tempfile.TemporaryFile() as sink:
                os.dup2(sink.fileno(), 2)
                try:
                    yield captured
                except BaseException:
                    failed = True
                    raise
                finally:
                    os.dup2(saved, 2)
                    sink.seek(0)
                    captured.text = sink.read().decode("utf-8", "replace")
                    if failed and replay_on_error and captured.text:
                        _write_stderr(captured.text)
        finally:
            os.close(saved)
            _depth -= 1


def _write_stderr(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass


@contextlib.contextmanager
def quiet_native(what: str = "native library") -> Iterator[None]:
    """Run the block with native informational lines on descriptor 2 sent to the log at DEBUG instead (see the
    module's text); ``what`` names the source in those log records. Unless :func:`verbose_requested`.

    Raises:
        whatever the block raises (its captured output written back to stderr first).
    """
    if verbose_requested():
        yield
        return
    with capture_stderr_fd() as captured:
        yield
    lines = captured.text.splitlines(keepends=True)
    other = [line for line in lines if line.strip() and not is_native_info(line)]
    for line in lines:
        if line.strip() and is_native_info(line):
            log.debug("%s: %s", what, line.rstrip())
    if other:
        _write_stderr("".join(other))
