"""Training: the loss goes down, checkpoints round trip, resume continues, DDP runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from pipnet_edge import ModelSpec
from pipnet_edge.data.annotations import load_300w_folder
from pipnet_edge.models.checkpoint import load_model, load_training_state, read_spec
from pipnet_edge.training import TrainConfig, train

SMALL = dict(backbone="mobilenet_v3_small", input_size=64, batch_size=4, progress=False, threads=1)


def test_a_few_steps_lower_the_loss(synthetic_faces, tmp_path):
    from pipnet_edge.data.dataset import FaceDataset
    from pipnet_edge.models import create_model
    from pipnet_edge.training.loss import pipnet_loss
    from pipnet_edge.models.normalization import normalize_batch
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
    assert spec.point_bias is not None  # measured on the training faces at the end
    assert ModelSpec.from_json(state["spec"]).point_bias is None  # the training state keeps the unbiased spec
    model = load_model(final)
    torch.testing.assert_close(model.cls_layer.weight, state["model"]["cls_layer.weight"])

    # resume: continues at epoch 3 from the saved optimizer state, same spec
    cfg2 = TrainConfig(data=str(synthetic_faces), out=str(out), epochs=3, resume=str(out / "last.pt"), **SMALL)
    train(cfg2)
    hist = [json.loads(l) for l in (out / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in hist] == [1, 2, 3]
    assert load_training_state(out / "last.pt")["epoch"] == 2
    resumed = read_spec(out / "final.safetensors")  # same spec; the point bias is measured again on the further-trained weights
    assert resumed.point_bias is not None and resumed.point_bias != spec.point_bias
    assert resumed.replace(point_bias=None) == spec.replace(point_bias=None)
    assert resumed.extra["point_bias_from"]["faces"] == len(load_300w_folder(synthetic_faces))


def test_no_point_bias_leaves_the_spec_without_one(synthetic_faces, tmp_path):
    final = train(TrainConfig(data=str(synthetic_faces), out=str(tmp_path / "run"), epochs=1, max_steps=1, point_bias=False, **SMALL))
    assert read_spec(final).point_bias is None


def test_train_cli_errors_are_clear(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "pipnet_edge.train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 2 and "neither a folder" in r.stderr
    r = subprocess.run([sys.executable, "-m", "pipnet_edge.train", "--data", str(tmp_path), "--qat"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--init" in r.stderr
    r = subprocess.run([sys.executable, "-m", "pipnet_edge.train", "--data", str(tmp_path), "--flip-prob", "2"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--flip-prob is a probability" in r.stderr


def test_train_cli_passes_augmentation_changes_only(monkeypatch, tmp_path, capsys):
    import pipnet_edge.training as training
    from pipnet_edge.train import main

    seen = []
    monkeypatch.setattr(training, "train", lambda cfg: seen.append(cfg) or tmp_path / "final.safetensors")
    main(["--data", str(tmp_path), "--out", str(tmp_path / "o"), "--flip-prob", "0", "--no-point-bias"])
    main(["--data", str(tmp_path), "--out", str(tmp_path / "o"), "--lowres-prob", "0.5"])
    main(["--data", str(tmp_path), "--out", str(tmp_path / "o"), "--yaw-prob", "0.5"])
    main(["--data", str(tmp_path), "--out", str(tmp_path / "o"), "--yaw-prob", "0.5", "--max-yaw", "20"])
    main(["--data", str(tmp_path), "--out", str(tmp_path / "o"), "--max-yaw", "20"])  # no warp: nothing to pass
    assert seen[0].augment == {"flip_prob": 0.0} and seen[0].point_bias is False
    assert seen[1].augment == {"lowres_prob": 0.5} and seen[1].point_bias is True
    assert seen[2].augment == {"yaw_prob": 0.5}
    assert seen[3].augment == {"yaw_prob": 0.5, "max_yaw": 20.0}
    assert seen[4].augment == {}
    for bad, msg in ((["--yaw-prob", "2"], "--yaw-prob is a probability"), (["--max-yaw", "95"], "--max-yaw")):
        assert main(["--data", str(tmp_path), "--out", str(tmp_path / "o"), *bad]) == 2
        assert msg in capsys.readouterr().err


def test_the_yaw_warp_needs_the_68_point_scheme(tmp_path):
    """The warp turns faces by the 68-point 3D mean face: another scheme is refused before any training."""
    from conftest import make_synthetic_faces

    from pipnet_edge.errors import SpecError
    from pipnet_edge.training import TrainConfig, train

    data = make_synthetic_faces(tmp_path / "f", count=4, points=98)
    cfg = TrainConfig(data=str(data), out=str(tmp_path / "o"), scheme="wflw-98", epochs=1, max_steps=1,
                      input_size=64, augment={"yaw_prob": 0.5}, progress=False, threads=1)
    with pytest.raises(SpecError, match="68-point"):
        train(cfg)


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


def test_validation_split_is_seeded_and_disjoint(synthetic_faces, tmp_path):
    from pipnet_edge.errors import DataError
    from pipnet_edge.training.trainer import split_validation

    recs = load_300w_folder(synthetic_faces)
    train_a, val_a = split_validation(recs, 0.25, seed=3)
    train_b, val_b = split_validation(recs, 0.25, seed=3)
    assert [r.image_path for r in val_a] == [r.image_path for r in val_b] and len(val_a) == 2
    assert not {r.image_path for r in train_a} & {r.image_path for r in val_a}
    assert len(train_a) + len(val_a) == len(recs)
    with pytest.raises(DataError, match="val_fraction"):
        split_validation(recs, 1.5, seed=0)
    with pytest.raises(DataError, match="not both"):
        train(TrainConfig(data=str(synthetic_faces), out=str(tmp_path / "run"), val_data=str(synthetic_faces), val_fraction=0.25,
                          **SMALL))
    assert not (tmp_path / "run").exists(), "the arguments are checked before anything is written"


def test_distillation_from_a_teacher_with_a_larger_input(synthetic_faces, tmp_path):
    """A 64-px stride-32 teacher teaches a 32-px stride-16 student on the same 2x2 grid."""
    from pipnet_edge.errors import SpecError
    from pipnet_edge.training.loss import distill_loss

    quick = {**SMALL, "epochs": 1, "max_steps": 1}
    teacher = train(TrainConfig(data=str(synthetic_faces), out=str(tmp_path / "t"), **{**quick, "input_size": 64}))
    student = train(TrainConfig(data=str(synthetic_faces), out=str(tmp_path / "s"), teacher=str(teacher), val_fraction=0.25,
                                **{**quick, "backbone": "mobilenet_v2_s16_c128", "input_size": 32, "net_stride": 16}))
    hist = [json.loads(line) for line in (tmp_path / "s" / "history.jsonl").read_text().splitlines()]
    assert {"kd_score", "kd_offset", "kd_nb", "val_nme"} <= set(hist[-1])
    assert read_spec(student).input_size == 32 and (tmp_path / "s" / "validation_faces.txt").read_text().count("\n") == 2
    with pytest.raises(SpecError, match="map size"):  # 32 px at stride 32 is a 1x1 map, the teacher's is 2x2
        train(TrainConfig(data=str(synthetic_faces), out=str(tmp_path / "bad"), teacher=str(teacher), **{**quick, "input_size": 32}))
    # the distillation loss is zero when student and teacher agree, positive otherwise
    outs = tuple(torch.randn(2, c, 2, 2) for c in (68, 68, 68, 680, 680))
    cell = torch.randint(0, 4, (2, 68))
    assert float(distill_loss(outs, outs, cell)[0]) == 0.0
    assert float(distill_loss(outs, tuple(o + 0.1 for o in outs), cell)[0]) > 0.0


def test_teacher_neighbours_are_matched_by_landmark_not_by_slot():
    import numpy as np

    from pipnet_edge.training.loss import distill_loss, neighbor_slot_map

    student = np.array([[1, 2], [0, 2], [1, 0]])
    teacher = np.array([[2, 1], [0, 1], [1, 0]])  # row 0 swapped, row 1 lists 1 where the student has 2
    slots, mask = neighbor_slot_map(student, teacher)
    np.testing.assert_array_equal(slots[0], [1, 0])
    np.testing.assert_array_equal(mask, [[True, True], [True, False], [True, True]])
    # a teacher whose neighbour outputs are the student's, permuted by its table, gives zero loss
    torch.manual_seed(0)
    s_out = tuple(torch.randn(1, c, 2, 2) for c in (3, 3, 3, 6, 6))
    perm = [int(np.nonzero(student[i] == teacher[i, k])[0][0]) if teacher[i, k] in student[i] else 0
            for i in range(3) for k in range(2)]
    rows = [i * 2 + p for i, p in zip(np.repeat(range(3), 2), perm)]
    t_out = s_out[:3] + tuple(o[:, rows] for o in s_out[3:])
    cell = torch.zeros(1, 3, dtype=torch.long)
    loss, _ = distill_loss(s_out, t_out, cell, nb_map=(torch.from_numpy(slots), torch.from_numpy(mask)))
    assert float(loss) < 1e-6
