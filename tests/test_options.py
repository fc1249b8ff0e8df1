"""``LandmarkerOptions`` and ``RunningMode``, and the Landmarker split by concern (options, tracking, live stream,
front end each a module a newcomer can read alone)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipnet_edge.errors import InputError
from pipnet_edge.runtime import LandmarkerOptions, RunningMode

pytestmark = pytest.mark.torch_free  # runs without torch: the aarch64 stage selects it (-m torch_free)

RUNTIME = Path(__file__).resolve().parents[1] / "pipnet_edge" / "runtime"


@pytest.mark.parametrize("mode", ["image", "video", RunningMode.VIDEO, RunningMode.LIVE_STREAM])
def test_running_mode_is_the_enum_and_equals_its_string(mode):
    cb = (lambda *a: None) if str(mode) == "live_stream" else None
    o = LandmarkerOptions(running_mode=mode, result_callback=cb)
    assert isinstance(o.running_mode, RunningMode) and o.running_mode == str(mode) and o.running_mode == RunningMode(mode)
    assert f"{o.running_mode}" == RunningMode(mode).value  # prints as its value in messages


def test_unknown_running_mode_is_refused():
    with pytest.raises(InputError, match="running_mode must be one of image, video, live_stream"):
        LandmarkerOptions(running_mode="stream")


def test_landmarker_module_stays_readable():
    lines = len((RUNTIME / "landmarker.py").read_text().splitlines())
    assert lines <= 350, f"runtime/landmarker.py has {lines} lines: move a concern into its own module"
    for module in ("options.py", "tracking.py", "live_stream.py", "front_end.py"):
        assert (RUNTIME / module).is_file(), module
