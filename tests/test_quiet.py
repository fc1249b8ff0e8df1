"""Quiet by default: creating a Landmarker prints nothing; native log lines go to the log at DEBUG."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipnet_edge.runtime.backends.quiet import VERBOSE_ENV, capture_stderr_fd, quiet_native

pytestmark = pytest.mark.torch_free

ROOT = Path(__file__).resolve().parents[1]

_SCRIPT = """
import cv2
from pipnet_edge.runtime import Landmarker
lm = Landmarker()
faces = lm.detect(cv2.imread({photo!r}), color_order="BGR")
assert len(faces) >= 1, len(faces)
lm.close()
"""


def _run(env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in (VERBOSE_ENV, "TF_CPP_MIN_LOG_LEVEL")}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", _SCRIPT.format(photo=str(ROOT / "docs" / "group.jpg"))],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_creating_a_landmarker_and_detecting_prints_nothing():
    pytest.importorskip("ai_edge_litert")
    proc = _run({})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == "", (proc.stdout, proc.stderr)


def test_the_verbose_variable_lets_the_native_lines_through():
    pytest.importorskip("ai_edge_litert")
    proc = _run({VERBOSE_ENV: "1"})
    assert proc.returncode == 0, proc.stderr
    assert "XNNPACK" in proc.stderr, proc.stderr


def _native(text: str) -> None:
    os.write(2, text.encode())  # below Python's sys.stderr, as C++ writes it


def test_quiet_native_keeps_info_lines_off_fd2_and_passes_the_rest(capfd, monkeypatch):
    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    with quiet_native("TFLite"):
        _native("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        _native("I0000 00:00:1700000000.000000  123 absl.cc:1] noise\n")
        _native("ERROR: something real\n")
    err = capfd.readouterr().err
    assert "XNNPACK" not in err and "absl" not in err
    assert "ERROR: something real" in err


def test_quiet_native_at_debug_logs_the_lines(capfd, caplog, monkeypatch):
    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    caplog.set_level(logging.DEBUG, logger="pipnet_edge.runtime")
    with quiet_native("TFLite"):
        _native("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    assert "XNNPACK" not in capfd.readouterr().err
    assert any("TFLite: INFO: Created TensorFlow Lite XNNPACK" in m for m in caplog.messages), caplog.messages


def test_quiet_native_does_nothing_when_verbose(capfd, monkeypatch):
    monkeypatch.setenv(VERBOSE_ENV, "1")
    with quiet_native("TFLite"):
        _native("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    assert "XNNPACK" in capfd.readouterr().err


def test_capture_replays_on_error_and_nests(capfd):
    with pytest.raises(RuntimeError):
        with capture_stderr_fd() as outer:
            _native("INFO: before the failure\n")
            with capture_stderr_fd() as inner:  # joins the outer capture
                _native("inner line\n")
            raise RuntimeError("boom")
    assert inner.text == ""
    assert "before the failure" in outer.text and "inner line" in outer.text
    err = capfd.readouterr().err
    assert "before the failure" in err and "inner line" in err  # written back because the block raised
    _native("after\n")
    assert capfd.readouterr().err == "after\n"  # descriptor 2 restored
