"""Metrics and the evaluate CLI: NME equals a hand computation."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from pipnet_edge import get_scheme
from pipnet_edge.metrics import summarize


def test_nme_by_hand():
    truth = np.zeros((2, 68, 2))
    truth[:, :, 0] = np.arange(68)
    truth[0, 36], truth[0, 45] = (0, 0), (50, 0)  # inter-ocular 50 px
    truth[1, 36], truth[1, 45] = (0, 0), (0, 100)  # inter-ocular 100 px
    pred = truth.copy()
    pred[0] += (3, 4)  # every point 5 px off -> 10 %
    pred[1, :34] += (6, 8)  # half the points 10 px off -> 5 % on average
    s = summarize(pred, truth, get_scheme("300w-68"))
    assert s.nme == pytest.approx((10 + 5) / 2)
    assert s.failure_rate == 0.0  # face 0 sits exactly at 0.10, which is not above the threshold
    assert s.per_face == pytest.approx([10.0, 5.0])


def test_failure_rate_and_auc():
    truth = np.random.default_rng(0).uniform(0, 100, size=(4, 68, 2))
    truth[:, 36], truth[:, 45] = (0, 0), (100, 0)
    pred = truth.copy()
    for i, off in enumerate([0, 5, 11, 20]):  # NME 0 %, 5 %, 11 %, 20 %
        pred[i] += (off, 0)
    s = summarize(pred, truth, get_scheme("300w-68"))
    assert s.failure_rate == 50.0
    # CED: face 0 counts from 0, face 1 from 0.05 -> AUC = (1.0 + 0.5) / 4
    assert s.auc == pytest.approx(0.375, abs=2e-3)


def test_aflw_box_normalisation():
    truth = np.zeros((1, 19, 2))
    truth[0, :, 0] = np.linspace(0, 40, 19)
    truth[0, :, 1] = np.linspace(0, 90, 19)  # box 40 x 90 -> sqrt = 60
    pred = truth + (0, 6)
    assert summarize(pred, truth, get_scheme("aflw-19")).nme == pytest.approx(10.0)


def test_evaluate_cli_on_a_checkpoint_equals_hand_computed_nme(synthetic_faces, tmp_path):
    import torch

    from pipnet_edge import ModelSpec
    from pipnet_edge.data.annotations import load_300w_folder
    from pipnet_edge.evaluation import open_predictor, predict_faces
    from pipnet_edge.models import create_model
    from pipnet_edge.models.checkpoint import save_model

    torch.manual_seed(0)
    spec = ModelSpec.create("300w-68", np.random.default_rng(0).uniform(size=(68, 2)), backbone="mobilenet_v3_small", input_size=64)
    model = create_model(spec).eval()
    with torch.no_grad():
        model.x_layer.bias.fill_(0.3)
    ckpt = save_model(model, tmp_path / "m.safetensors")
    out = tmp_path / "eval.json"
    r = subprocess.run(
        [sys.executable, "-m", "pipnet_edge.evaluate", "--model", str(ckpt), "--data", str(synthetic_faces), "--limit", "2", "--json", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads(out.read_text())
    recs = load_300w_folder(synthetic_faces)[:2]
    pred = predict_faces(open_predictor(ckpt), recs).points
    by_hand = [
        np.mean([np.hypot(*(pred[f][i] - recs[f].points[i])) for i in range(68)]) / np.hypot(*(recs[f].points[36] - recs[f].points[45])) * 100
        for f in range(2)
    ]
    assert summary["faces"] == 2
    assert summary["nme_percent"] == pytest.approx(np.mean(by_hand), abs=1e-3)
    assert summary["per_face_percent"] == pytest.approx(by_hand, abs=1e-3)
