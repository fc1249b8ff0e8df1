"""Training: the loss goes down, checkpoints round trip, resume continues, DDP runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from pipnet_edge.data.annotations import load_300w_folder
from pipnet_edge.models.checkpoint import load_model, load_training_state, read_spec
from pipnet_edge.training.trainer import TrainConfig, train

SMALL = dict(backbone="mobilenet_v3_small", input_size=64, batch_size=4, progress=False, threads=1)


def test_a_few_steps_lower_the_loss(synthetic_faces, tmp_path):
    from pipnet_edge.data.dataset import FaceDataset
    from pipnet_edge.models import create_model
    from pipnet_edge.training.loss import pipnet_loss
    from pipnet_edge.training.normalize import normalize_batch
    from pipnet_edge.training.trainer import build_spec

    torch.manual_seed(0)
    cfg = TrainConfig(data=str(synthetic_faces), **SMALL)
    recs = load_300w_folder(synthetic_faces)
    spec = build_spec(cfg, recs)
    model = create_model(spec)
    batch = torch.utils.data.default_collate([FaceDataset(recs, spec)[i] for i in range(4)])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(8):
        loss, _ = pipnet_loss(model(normalize_batch(batch["image"], spec)), batch["cell"], batch["offset"], batch["nb_offset"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0], losses


def test_train_cli_writes_checkpoint_and_resume_continues(synthetic_faces, tmp_path):
    out = tmp_path / "run"
    cfg = TrainConfig(data=str(synthetic_faces), out=str(out), epochs=2, seed=3, val_data=str(synthetic_faces), val_every=1, **SMALL)
    final = train(cfg)
    assert final.name == "final.safetensors"
    hist = [json.loads(l) for l in (out / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in hist] == [1, 2]
    assert all(h["val_nme"] > 0 for h in hist)
    state = load_training_state(out / "last.pt")
    assert state["epoch"] == 1
    spec = read_spec(final)
    assert spec.backbone == "mobilenet_v3_small" and spec.input_size == 64
    model = load_model(final)
    torch.testing.assert_close(model.cls_layer.weight, state["model"]["cls_layer.weight"])

    # resume: continues at epoch 3 from the saved optimizer state, same spec
    cfg2 = TrainConfig(data=str(synthetic_faces), out=str(out), epochs=3, resume=str(out / "last.pt"), **SMALL)
    train(cfg2)
    hist = [json.loads(l) for l in (out / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in hist] == [1, 2, 3]
    assert load_training_state(out / "last.pt")["epoch"] == 2
    assert read_spec(out / "final.safetensors") == spec


def test_train_cli_errors_are_clear(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "pipnet_edge.train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 2 and "neither a folder" in r.stderr
    r = subprocess.run([sys.executable, "-m", "pipnet_edge.train", "--data", str(tmp_path), "--qat"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--init" in r.stderr


@pytest.mark.slow
def test_ddp_two_gloo_processes_run_a_step(synthetic_faces, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
        "-m", "pipnet_edge.train", "--data", str(synthetic_faces), "--out", str(tmp_path / "ddp"),
        "--backbone", "mobilenet_v3_small", "--input-size", "64", "--batch-size", "2", "--epochs", "1",
        "--max-steps", "1", "--device", "cpu", "--threads", "1", "--no-progress",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2 process(es)" in r.stderr
    assert (tmp_path / "ddp" / "final.safetensors").exists()
