"""Self-training: the curriculum's selection, pseudo-labels (round trip, confidences, cache) and smoke runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SHARED, make_synthetic_faces, require

from pipnet_edge.data.annotations import FaceRecord
from pipnet_edge.errors import DataError, SpecError
from pipnet_edge.training import TrainConfig, train
from pipnet_edge.training.curriculum import difficulty_order, round_shares, select_faces

MTFL_LIST = SHARED / "data" / "mtfl" / "train_5pt.txt"
SMALL = {"backbone": "mobilenet_v3_small", "input_size": 64, "batch_size": 4, "progress": False, "threads": 1}


def test_curriculum_takes_easy_faces_first_and_grows_per_round():
    peak = np.array([0.9, 0.2, 0.5, 0.8, 0.1, 0.6])
    spread = np.array([0.01, 0.30, 0.10, 0.02, 0.50, 0.05])  # agrees with the peaks: 0, 3, 5, 2, 1, 4
    assert difficulty_order(peak, spread, "peak").tolist() == [0, 3, 5, 2, 1, 4]
    assert difficulty_order(peak, spread, "nrm").tolist() == [0, 3, 5, 2, 1, 4]
    assert difficulty_order(peak, spread, "both").tolist() == [0, 3, 5, 2, 1, 4]
    # when the two disagree, "both" sums their ranks
    assert difficulty_order(np.array([0.9, 0.8, 0.1]), np.array([0.5, 0.01, 0.02]), "both").tolist() == [1, 0, 2]
    assert difficulty_order(np.array([0.9, 0.8, 0.1]), np.array([0.5, 0.01, 0.02])).tolist() == [1, 2, 0]  # default: nrm

    shares = round_shares("stc", 3, start=0.5)
    assert shares == [0.5, 0.75, 1.0]
    selected = [set(select_faces(peak, spread, s).tolist()) for s in shares]
    assert selected[0] == {0, 3, 5} and selected[0] < selected[1] < selected[2] == set(range(6))
    assert select_faces(peak, spread, 0.5).tolist() == [0, 3, 5]  # easiest first
    assert round_shares("none", 2) == [1.0, 1.0] and round_shares("stc", 1, 0.4) == [0.4]
    assert len(select_faces(peak, spread, 0.01)) == 1
    with pytest.raises(SpecError, match="curriculum"):
        round_shares("cosine", 2)
    with pytest.raises(SpecError, match="rounds"):
        round_shares("stc", 0)
    with pytest.raises(SpecError, match="confidence"):
        difficulty_order(peak, spread, "entropy")


def test_pseudo_labels_round_trip_through_targets_and_decode(tmp_path):
    """A teacher's points -> the dataset's crop and targets -> decode -> image pixels: the same points."""
    import cv2

    from pipnet_edge.data.dataset import FaceDataset
    from pipnet_edge.data.targets import encode, to_dense
    from pipnet_edge.runtime import geometry
    from pipnet_edge.runtime.artifact import HEAD_NAMES
    from pipnet_edge.runtime.decode import DecodeTables, decode, decode_heads
    from pipnet_edge.spec import ModelSpec

    rng = np.random.default_rng(0)
    mean_face = rng.uniform(0.25, 0.75, (68, 2))
    spec = ModelSpec.create("300w-68", mean_face, backbone="mobilenet_v2_s16_c512", input_size=112, net_stride=16, num_nb=5)
    tables = DecodeTables.from_spec(spec)
    cv2.imwrite(str(tmp_path / "face.jpg"), np.zeros((80, 80, 3), np.uint8))
    teacher_points = (mean_face * 50 + 15 + rng.normal(0, 0.5, (68, 2))).astype(np.float32)  # image pixels of an 80-px face
    box = np.array([12.0, 14.0, 66.0, 68.0])  # e.g. from the five points
    item = FaceDataset([FaceRecord(tmp_path / "face.jpg", teacher_points, box)], spec)[0]
    targets = encode(item["points"].numpy(), spec.neighbor_array, spec.map_size)
    np.testing.assert_array_equal(targets.cell, item["cell"].numpy())
    heads = {k: m[None].transpose(0, 2, 3, 1) for k, m in zip(HEAD_NAMES, to_dense(targets, spec.map_size))}
    for use_nrm in (False, True):
        norm, _ = decode(heads, tables, use_nrm=use_nrm)
        back = geometry.apply(geometry.invert(item["matrix"].numpy()), geometry.from_normalized(norm[0], spec.input_size))
        np.testing.assert_allclose(back, teacher_points, atol=1e-3)
    # the confidence STC ranks by: exact targets, the neighbour votes agree; perturbed votes spread
    np.testing.assert_allclose(decode_heads(heads, tables, with_spread=True).spread, 0.0, atol=1e-6)
    noisy = {**heads, "nb_x": heads["nb_x"] + 0.5}
    assert float(decode_heads(noisy, tables, with_spread=True).spread.max()) > 0.05


def _five_point_list(folder, count: int = 8, seed: int = 0):
    """An MTFL-style list of ``count`` random 80-px images."""
    import cv2

    rng = np.random.default_rng(seed)
    (folder / "imgs").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(count):
        cv2.imwrite(str(folder / "imgs" / f"u{i}.jpg"), rng.integers(0, 255, (80, 80, 3), dtype=np.uint8))
        five = np.array([[30, 35], [50, 35], [40, 45], [32, 55], [48, 55]]) + rng.normal(0, 1.5, (5, 2))
        lines.append(f"imgs/u{i}.jpg " + " ".join(f"{v:.2f}" for v in np.r_[five[:, 0], five[:, 1]]))
    (folder / "list.txt").write_text("\n".join(lines) + "\n")
    return folder / "list.txt"


def _tiny_teacher(path):
    from tiny import tiny_model

    from pipnet_edge.models.checkpoint import save_model

    return save_model(tiny_model(), path)


def test_pseudo_labels_are_cached_per_teacher(tmp_path, monkeypatch):
    from pipnet_edge.data.mtfl import face_key, read_five_point_list
    from pipnet_edge.training import pseudo_labels

    recs = read_five_point_list(_five_point_list(tmp_path))
    keys = [face_key(r) for r in recs]
    teacher = _tiny_teacher(tmp_path / "teacher.safetensors")
    labels = pseudo_labels.cached_pseudo_labels(str(teacher), recs, keys, tmp_path / "cache.npz", 68)
    assert labels.points.shape == (8, 68, 2) and labels.peak.shape == labels.spread.shape == (8,)
    assert np.isfinite(labels.points).all() and (labels.spread >= 0).all()
    calls = []
    monkeypatch.setattr(pseudo_labels, "predict_pseudo_labels", lambda *a, **k: calls.append(1))
    again = pseudo_labels.cached_pseudo_labels(str(teacher), recs, keys, tmp_path / "cache.npz", 68)
    assert not calls and np.array_equal(again.points, labels.points) and again.keys == keys
    assert pseudo_labels.PseudoLabels.load(tmp_path / "cache.npz", "another teacher") is None
    with pytest.raises(SpecError, match="points"):
        pseudo_labels.cached_pseudo_labels(str(teacher), recs, keys, tmp_path / "other.npz", 98)


def test_self_training_rounds_on_synthetic_faces(tmp_path):
    """Two STC rounds, the student becoming the teacher, with --val-fraction: 2 steps each."""
    labelled = make_synthetic_faces(tmp_path / "faces")
    unlabelled = _five_point_list(tmp_path / "u")
    teacher = _tiny_teacher(tmp_path / "teacher.safetensors")
    out = tmp_path / "st"
    run = {"data": str(labelled), "out": str(out), "unlabelled": str(unlabelled), "teacher": str(teacher), "curriculum": "stc",
           "rounds": 2, "epochs": 1, "max_steps": 2, "val_fraction": 0.25, "unlabelled_ratio": 0.5, **SMALL}
    final = train(TrainConfig(**run, val_every=1))
    assert final == out / "final.safetensors" and final.is_file()
    rounds = json.loads((out / "rounds.json").read_text())
    assert [r["share"] for r in rounds] == [0.5, 1.0] and [r["faces"] for r in rounds] == [3, 6]  # 2 of 8 held out
    assert rounds[0]["teacher"] == str(teacher) and rounds[1]["teacher"] == str(out / "round1" / "final.safetensors")
    assert (out / "validation_unlabelled.txt").read_text().count("\n") == 2
    hist = json.loads((out / "round2" / "history.jsonl").read_text().splitlines()[-1])
    assert {"u_score", "u_offset", "u_nb", "val_nme", "val_5pt_nme"} <= set(hist)
    assert len((out / "round1" / "selected_faces.txt").read_text().splitlines()) == 3
    # --resume reuses the finished rounds
    train(TrainConfig(**run, resume=str(out)))
    assert len((out / "round2" / "history.jsonl").read_text().splitlines()) == 1
    with pytest.raises(SpecError, match="--qat with --unlabelled fine-tunes a float model"):
        train(TrainConfig(data=str(labelled), out=str(tmp_path / "q"), unlabelled=str(unlabelled), qat=True, **SMALL))
    with pytest.raises(SpecError, match="one round"):
        train(TrainConfig(data=str(labelled), out=str(tmp_path / "q"), unlabelled=str(unlabelled), qat=True, rounds=2,
                          init=str(teacher), **SMALL))
    with pytest.raises(DataError, match="not both"):
        train(TrainConfig(data=str(labelled), out=str(tmp_path / "b"), unlabelled=str(unlabelled), val_fraction=0.2,
                          val_data=str(labelled), **SMALL))
    assert not (tmp_path / "q").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize("separate", [False, True])
def test_qat_keeps_the_pseudo_labelled_faces_in_its_batches(tmp_path, separate):
    """``--qat --unlabelled``: one round whose student is the fake-quantized model, trained on the pseudo-labels and
    distilled from ``--init`` on the labelled faces, in one forward pass or the pseudo-labelled faces' own."""
    from tiny import tiny_model

    from pipnet_edge.models.checkpoint import save_model
    from pipnet_edge.quantization.qat_model import is_qat_file

    labelled = make_synthetic_faces(tmp_path / "faces")
    unlabelled = _five_point_list(tmp_path / "u")
    init = save_model(tiny_model(backbone="tiny_residual_test"), tmp_path / "init.safetensors")
    out = tmp_path / "qst"
    final = train(TrainConfig(data=str(labelled), out=str(out), unlabelled=str(unlabelled), teacher=str(init),
                              init=str(init), qat=True, epochs=1, max_steps=2, lr=1e-5, val_fraction=0.25, val_every=1,
                              unlabelled_separate_pass=separate, point_bias=False, progress=False, threads=1,
                              batch_size=4, unlabelled_ratio=0.5))
    assert final == out / "qat.safetensors" and is_qat_file(final)
    hist = json.loads((out / "round1" / "history.jsonl").read_text().splitlines()[-1])
    assert hist["u_score"] >= 0.0 and hist["u_offset"] > 0.0 and hist["kd_offset"] > 0.0  # both terms were computed
    assert np.isfinite(hist["val_nme"]) and np.isfinite(hist["val_5pt_nme"])  # validated as the fake-quantized model
    config = json.loads((out / "round1" / "config.json").read_text())
    assert config["qat"] and config["teacher"] == str(init)  # the round distils from --init


def test_train_unlabelled_cli_smoke_on_mtfl_both_model_families(tmp_path):
    """`python -m pipnet_edge.train --unlabelled`: the bundled default model labels 8 real MTFL faces; 2 steps per student
    (the lite one on labels anchored to the faces' five points)."""
    from pipnet_edge.train import main

    listing = require(MTFL_LIST, "MTFL five-point faces")
    labelled = make_synthetic_faces(tmp_path / "faces", count=4)
    families = {
        "lite": ["--backbone", "mobilenet_v2_s16_c512", "--input-size", "112", "--net-stride", "16", "--num-nb", "5"],
        "default": ["--backbone", "mobilenet_v2", "--input-size", "256", "--net-stride", "32", "--num-nb", "10"],
    }
    for name, arch in families.items():
        out = tmp_path / name
        rc = main(["--data", str(labelled), "--unlabelled", str(listing), "--unlabelled-limit", "8", "--out", str(out), *arch,
                   "--batch-size", "2", "--epochs", "1", "--max-steps", "2", "--threads", "1", "--no-progress",
                   "--lowres-prob", "0.5", *(["--unlabelled-separate-pass"] if name == "default" else ["--anchor", "1"])])
        assert rc == 0 and (out / "final.safetensors").is_file()
        rounds = json.loads((out / "rounds.json").read_text())
        assert rounds[0]["teacher"] == "default-fp16" and rounds[0]["faces"] == 8 and rounds[0]["share"] == 1.0
        # the cache was made once, by the default model, and its points lie on the 80-px faces
        cache = np.load(out / "round1" / "pseudo_labels.npz")
        assert cache["points"].shape == (8, 68, 2) and 0 < float(np.median(cache["points"])) < 80
        assert "u_score" in json.loads((out / "round1" / "history.jsonl").read_text())
        if name == "lite":  # --anchor: the pseudo-labels were moved onto the faces' human five points
            anchoring = json.loads((out / "round1" / "anchoring.json").read_text())
            assert anchoring["faces"] == 8 and anchoring["strength"] == 1.0 and len(anchoring["offset"]) == 5


def test_evaluate_five_point_cli(tmp_path, capsys):
    from pipnet_edge.evaluate import main

    teacher = _tiny_teacher(tmp_path / "m.safetensors")
    listing = _five_point_list(tmp_path / "u")
    assert main(["--model", str(teacher), "--five-point", str(listing)]) == 2
    assert "--five-point-all" in capsys.readouterr().err  # none of these faces is in the held-out split
    assert main(["--model", str(teacher), "--five-point", str(listing), "--five-point-all", "--json", str(tmp_path / "s.json")
                 ]) == 0
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["five_point"] and summary["faces"] == 8 and len(summary["per_landmark_percent"]) == 5
    by_pose = {row["pose_proxy"]: row for row in summary["by_pose"]}  # the table by pose proxy, printed and saved
    assert list(by_pose)[-1] == "all" and by_pose["all"]["faces"] == 8 == sum(r["faces"] for r in summary["by_pose"][:-1])
    assert "by pose" in capsys.readouterr().out
    if MTFL_LIST.is_file():  # the bundled lite model on 100 held-out real faces
        args = ["--model", "lite", "--five-point", str(MTFL_LIST), "--limit", "100", "--json", str(tmp_path / "l.json")]
        assert main(args) == 0
        lite = json.loads((tmp_path / "l.json").read_text())
        assert lite["faces"] == 100 and 2.0 < lite["nme_percent"] < 8.0


def test_pose_balance_weights_even_out_the_pose_bins():
    """Balance 1 draws every pose bin alike, 0 every face alike; the bins are those of the pseudo-labels' pose proxy."""
    from pipnet_edge.errors import SpecError
    from pipnet_edge.five_point import POSE_BINS, five_from_68, pose_proxy
    from pipnet_edge.training.curriculum import pose_balance_weights

    base = np.full((68, 2), 50.0)
    base[36:42], base[42:48], base[30] = (30, 40), (70, 40), (50, 58)  # eyes 40 px apart, the nose tip centred
    faces = np.repeat(base[None], 40, axis=0)
    faces[:4, 30, 0] += 15  # four faces with the nose tip pushed sideways: turned
    bins = np.searchsorted(POSE_BINS, pose_proxy(five_from_68(faces)), side="right")
    assert len(set(bins[:4].tolist())) == 1 and bins[0] != bins[4]
    w1 = pose_balance_weights(faces, 1.0)
    assert w1.sum() == pytest.approx(1.0) and w1[:4].sum() == pytest.approx(0.5)  # two bins, half each
    assert np.allclose(pose_balance_weights(faces, 0.0), 1 / 40)
    with pytest.raises(SpecError, match="pose balance"):
        pose_balance_weights(faces, 1.5)


def test_train_cli_checks_pose_balance(tmp_path):
    from pipnet_edge.train import main

    assert main(["--data", str(tmp_path), "--pose-balance", "2"]) == 2
    assert main(["--data", str(tmp_path), "--pose-balance", "0.5"]) == 2  # without --unlabelled
