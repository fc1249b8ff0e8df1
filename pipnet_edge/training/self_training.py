"""Self-training on unlabelled faces: PIPNet's STC (self-training with curriculum) and the plain pseudo-label baseline.

``python -m pipnet_edge.train --data LABELLED --unlabelled LIST ...`` runs ``--rounds`` rounds; round ``k``:

1. the teacher labels every unlabelled training face once, unaugmented, on the crop a labelled face
   gets (cached in ``OUT/round<k>/pseudo_labels.npz``, with its confidences). Round 1's teacher is
   ``--teacher`` (default: the bundled default model's float weights, ``default-fp16``); later
   rounds' teacher is the previous round's student, or the first teacher again with ``--fixed-teacher``.
   With ``--anchor`` the pseudo-labels are then warped onto the faces' human five points
   (:mod:`pipnet_edge.training.anchored_labels`; the offset and moves in ``OUT/round<k>/anchoring.json``);
2. the curriculum (:mod:`pipnet_edge.training.curriculum`) picks the round's faces: ``none`` all of
   them, ``stc`` the most confident share, growing from ``--curriculum-start`` to 1.0 over the rounds
   (``OUT/round<k>/selected_faces.txt``, easiest first);
3. a student trains (:func:`~pipnet_edge.training.trainer.fit`, in ``OUT/round<k>/``) on batches of
   ``--batch-size`` labelled faces plus ``--unlabelled-ratio`` times as many pseudo-labelled ones; its
   loss is the PIPNet loss on the labelled faces plus ``--unlabelled-weight`` times the PIPNet loss
   (score map, offsets, neighbour offsets) against the pseudo-labels. An epoch is one pass over the
   labelled faces. Round 1 starts from ``--pretrained`` / ``--init``; later rounds start there again
   (``--round-init fresh``, as the paper) or from the previous student (``previous``, cheaper with
   ``--round-epochs``).

The pseudo-labels are points in image pixels, so the teacher may differ from the student in input
size, map and neighbour table (the default model teaches the lite model). The five-point faces'
held-out split (:data:`~pipnet_edge.data.mtfl.HELD_OUT_SPLIT`) is never trained on; with
``--val-fraction`` the same share of the unlabelled faces is held out too, and their five-point NME
is reported as ``val_5pt_nme`` next to the labelled ``val_nme``. ``OUT/final.safetensors`` is the last
round's student and ``OUT/rounds.json`` summarises the rounds; ``--resume`` (any value) reuses the
finished rounds in ``--out`` and resumes the unfinished one from its ``last.pt``.

With ``--qat`` (one round, from ``--init``) the student is the fake-quantized model, so the pseudo-labelled faces stay
in the batches of quantization-aware fine-tuning too: it is distilled from ``--init`` on the labelled faces (weight
``--distill-weight``, the QAT recipes' teacher) and trained on the pseudo-labels of the others (``--teacher`` still
names the model that labels them); the result is ``OUT/qat.safetensors``.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from ..data.annotations import FaceRecord
from ..errors import DataError, SpecError
from .anchored_labels import ANCHOR_MODES, anchor_points
from .curriculum import CONFIDENCES, CURRICULA, round_shares, select_faces
from .distributed import is_main, pick_device, setup_distributed
from .pseudo_labels import cached_pseudo_labels
from .trainer import TrainConfig, UnlabelledFaces, fit, split_validation

__all__ = ["DEFAULT_TEACHER", "ROUND_INITS", "round_config", "self_train"]

log = logging.getLogger("pipnet_edge.train")

DEFAULT_TEACHER = "default-fp16"
ROUND_INITS = ("fresh", "previous")


def _check(cfg: TrainConfig) -> None:
    if cfg.qat and cfg.rounds != 1:
        raise SpecError(f"--qat with --unlabelled runs one round (a fake-quantized student cannot teach the next one), "
                        f"got --rounds {cfg.rounds}")
    if cfg.qat and not cfg.init:
        raise SpecError("--qat with --unlabelled fine-tunes a float model: pass --init MODEL.safetensors")
    if cfg.val_fraction and cfg.val_data:
        raise DataError("give either val_data (a labelled folder) or val_fraction (a hold-out of data), not both")
    if cfg.curriculum not in CURRICULA:
        raise SpecError(f"--curriculum must be one of {', '.join(CURRICULA)}, got {cfg.curriculum!r}")
    if cfg.confidence not in CONFIDENCES:
        raise SpecError(f"--confidence must be one of {', '.join(CONFIDENCES)}, got {cfg.confidence!r}")
    if cfg.round_init not in ROUND_INITS:
        raise SpecError(f"--round-init must be one of {', '.join(ROUND_INITS)}, got {cfg.round_init!r}")
    if not cfg.unlabelled_ratio > 0:
        raise SpecError(f"--unlabelled-ratio must be positive, got {cfg.unlabelled_ratio}")
    if not cfg.unlabelled_weight > 0:
        raise SpecError(f"--unlabelled-weight must be positive, got {cfg.unlabelled_weight}")
    if not 0.0 <= cfg.anchor <= 1.0:
        raise SpecError(f"--anchor must be in [0, 1], got {cfg.anchor}")
    if cfg.anchor_mode not in ANCHOR_MODES:
        raise SpecError(f"--anchor-mode must be one of {', '.join(ANCHOR_MODES)}, got {cfg.anchor_mode!r}")
    if cfg.unlabelled_limit is not None and cfg.unlabelled_limit < 1:
        raise SpecError(f"--unlabelled-limit must be at least 1, got {cfg.unlabelled_limit}")
    if cfg.round_epochs is not None and cfg.round_epochs < 1:
        raise SpecError(f"--round-epochs must be at least 1, got {cfg.round_epochs}")
    round_shares(cfg.curriculum, cfg.rounds, cfg.curriculum_start)  # validates rounds and the start share


def round_config(cfg: TrainConfig, k: int, out: Path, previous: Path | None) -> TrainConfig:
    """The training run of round ``k`` (0-based): its folder, epochs, learning-rate steps, initialisation, resume state."""
    epochs = cfg.epochs if k == 0 else (cfg.round_epochs or cfg.epochs)
    lr_steps = cfg.lr_steps if epochs == cfg.epochs else tuple(max(1, round(s * epochs / cfg.epochs)) for s in cfg.lr_steps)
    init, pretrained = cfg.init, cfg.pretrained
    if k > 0 and cfg.round_init == "previous":
        init, pretrained = str(previous), None
    last = out / "last.pt"
    teacher = cfg.init if cfg.qat else None  # QAT: distilled from the float model it starts from (labelled faces)
    return replace(cfg, out=str(out), epochs=epochs, lr_steps=lr_steps, init=init, pretrained=pretrained, teacher=teacher,
                   resume=str(last) if cfg.resume and last.is_file() else None)


def _num_points(cfg: TrainConfig) -> int:
    from ..schemes import get_scheme

    if cfg.init:
        from ..models.checkpoint import read_spec

        return read_spec(cfg.init).num_points
    return get_scheme(cfg.scheme).num_points


def _final_name(cfg: TrainConfig) -> str:
    return "qat.safetensors" if cfg.qat else "final.safetensors"


def _last_history(out: Path) -> dict:
    path = out / "history.jsonl"
    if not path.is_file():
        return {}
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else {}


def _anchored(points: np.ndarray, pool: list[FaceRecord], index: np.ndarray, strength: float, mode: str, rdir: Path
              ) -> tuple[np.ndarray, np.ndarray]:
    """The pseudo-labels anchored to the pool's human five points, and ``index`` without the faces anchoring gave up on."""
    five = np.stack([r.points for r in pool]).astype(np.float64)
    if five.shape[1:] != (5, 2):
        raise DataError(f"--anchor needs five human points per unlabelled face (an MTFL-style list), got {five.shape[1:]}")
    anchored, report = anchor_points(points, five, strength=strength, mode=mode)
    kept = index[report.moves[index] <= report.max_move]
    dropped = len(index) - len(kept)
    if is_main():
        (rdir / "anchoring.json").write_text(json.dumps({**report.to_dict(), "dropped_faces": dropped}, indent=2))
    log.info("pseudo-labels anchored to the human five points (%s, strength %.2f): median move %.3f IOD (p90 %.3f), "
             "convention offset %s; %d face(s) whose teacher points were > %.2f IOD off dropped", mode, strength,
             report.median_move, report.p90_move, report.offset, dropped, report.max_move)
    return anchored, kept


def self_train(cfg: TrainConfig) -> Path:
    """Run the self-training rounds; returns ``OUT/final.safetensors`` (the last round's student)."""
    import torch.distributed as dist

    from ..data.mtfl import face_key, load_unlabelled_faces

    _check(cfg)
    out = Path(cfg.out)
    device = pick_device(cfg.device)
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    pool = load_unlabelled_faces(cfg.unlabelled)
    if cfg.unlabelled_limit:
        keep = np.sort(np.random.default_rng(cfg.seed).permutation(len(pool))[: cfg.unlabelled_limit])
        pool = [pool[i] for i in keep]
    check: list[FaceRecord] | None = None
    if cfg.val_fraction:
        pool, check = split_validation(pool, cfg.val_fraction, cfg.seed)
    keys = [face_key(r) for r in pool]
    shares = round_shares(cfg.curriculum, cfg.rounds, cfg.curriculum_start)
    num_points = _num_points(cfg)
    if is_main():
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2, default=str))
        if check is not None:
            (out / "validation_unlabelled.txt").write_text("".join(f"{face_key(r)}\n" for r in check))
    log.info("self-training on %d unlabelled faces of %s (%s%s), %d round(s), shares %s, %s", len(pool), cfg.unlabelled,
             cfg.curriculum, f", {len(check)} held out for validation" if check else "", cfg.rounds, shares,
             "fixed teacher" if cfg.fixed_teacher else "the student becomes the next teacher")

    summary_path = out / "rounds.json"
    summary: list[dict] = json.loads(summary_path.read_text()) if cfg.resume and summary_path.is_file() else []
    teacher = cfg.teacher or DEFAULT_TEACHER
    final: Path | None = None
    for k in range(cfg.rounds):
        rdir = out / f"round{k + 1}"
        done = next((r for r in summary if r["round"] == k + 1), None)
        if done is not None and (rdir / _final_name(cfg)).is_file():
            log.info("round %d/%d finished earlier (%s): reusing it", k + 1, cfg.rounds, rdir / _final_name(cfg))
        else:
            t0 = time.time()
            rank, world = setup_distributed(device)
            labels = None
            if rank == 0:
                labels = cached_pseudo_labels(teacher, pool, keys, rdir / "pseudo_labels.npz", num_points, device=device,
                                              threads=cfg.threads, progress=cfg.progress)
            if world > 1:
                dist.barrier()
                if rank != 0:
                    labels = cached_pseudo_labels(teacher, pool, keys, rdir / "pseudo_labels.npz", num_points)
            label_seconds = time.time() - t0
            index = (select_faces(labels.peak, labels.spread, shares[k], cfg.confidence) if cfg.curriculum == "stc"
                     else np.arange(len(pool)))
            points = labels.points
            if cfg.anchor > 0:
                points, index = _anchored(labels.points, pool, index, cfg.anchor, cfg.anchor_mode, rdir)
            records = [FaceRecord(pool[i].image_path, points[i], pool[i].box) for i in index]
            if is_main():
                (rdir / "selected_faces.txt").write_text(
                    "".join(f"{keys[i]} {labels.peak[i]:.4f} {labels.spread[i]:.5f}\n" for i in index))
            log.info("round %d/%d: teacher %s, %d of %d faces (share %.2f, %s confidence), mean peak %.3f, NRM spread %.4f",
                     k + 1, cfg.rounds, teacher, len(records), len(pool), shares[k], cfg.confidence,
                     float(labels.peak[index].mean()), float(labels.spread[index].mean()))
            round_cfg = round_config(cfg, k, rdir, final)
            fit(round_cfg, UnlabelledFaces(records, check))
            done = {
                "round": k + 1, "teacher": str(teacher), "share": shares[k], "faces": len(records), "pool": len(pool),
                "mean_peak": round(float(labels.peak[index].mean()), 4),
                "mean_spread": round(float(labels.spread[index].mean()), 5),
                "epochs": round_cfg.epochs, "lr_steps": list(round_cfg.lr_steps), "init": round_cfg.init or round_cfg.pretrained,
                "pseudo_label_seconds": round(label_seconds, 1), "seconds": round(time.time() - t0, 1),
                **{k2: v for k2, v in _last_history(rdir).items() if k2.startswith("val")},
            }
            summary = [r for r in summary if r["round"] != k + 1] + [done]
            if is_main():
                summary_path.write_text(json.dumps(summary, indent=2))
            log.info("round %d/%d done: %s", k + 1, cfg.rounds, json.dumps(done))
        final = rdir / _final_name(cfg)
        if not cfg.fixed_teacher:
            teacher = str(final)
    assert final is not None
    result = out / _final_name(cfg)
    if is_main():
        shutil.copyfile(final, result)
        log.info("saved %s (round %d's student)", result, cfg.rounds)
    return result
