"""The head_pose benchmark suite: its saved result is what the suite renders and meets issue 27's targets; the suite
runs on a few test faces (skipped without the 300W faces)."""

from __future__ import annotations

import json

import pytest
from conftest import DATA_300W, require

from benchmarks.envelope import read_result, render, result_path

pytestmark = pytest.mark.torch_free  # runs without torch: the aarch64 stage selects it (-m torch_free)


def test_saved_result_renders_and_meets_the_targets():
    path = result_path("head_pose")
    env = read_result(path)
    assert path.with_suffix(".md").read_text() == render(env)
    res = env["results"]
    assert res["faces"] == 554 and res["model"] == "default"
    at_20 = [r for r in res["roll_turned"]["rows"] if abs(r["angle"]) == 20]
    assert len(at_20) == 2 and all(r["roll_error"]["median"] <= 3.0 for r in at_20)
    assert res["mirror"]["faces_over"] > 50 and res["mirror"]["share_pct"] >= 95.0
    assert set(res["pred_vs_labels"]) == {"yaw", "pitch", "roll"}


def test_suite_runs_on_a_few_faces(tmp_path):
    data = require(DATA_300W / "test", "300W test faces")
    from benchmarks.suites import head_pose

    out = tmp_path / "head_pose.json"
    assert head_pose.main(["--data", str(data), "--limit", "3", "--angles", "20", "--threads", "1", "--out", str(out)]) == 0
    env = json.loads(out.read_text())
    assert env["suite"] == "head_pose" and env["results"]["faces"] == 3
    assert [r["angle"] for r in env["results"]["roll_turned"]["rows"]] == [-20, 20]
    assert out.with_suffix(".md").read_text() == render(env)
