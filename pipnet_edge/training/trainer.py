"""The PIPNet training loop: float training and QAT fine-tuning, single process or DDP.

With ``unlabelled`` set, :func:`pipnet_edge.training.train` runs self-training (:mod:`pipnet_edge.training.self_training`):
rounds of this loop in which every step also takes a batch of pseudo-labelled faces.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, WeightedRandomSampler

from ..data.annotations import FaceRecord, load_faces, stack_points
from ..data.augment import AugmentConfig
from ..data.dataset import FaceDataset
from ..errors import DataError, SpecError
from ..meanface import compute_mean_face
from ..metrics import summarize
from ..models import create_model, load_imagenet_backbone
from ..models.checkpoint import load_training_state, save_model, save_training_state
from ..models.normalization import normalize_batch
from ..spec import CropRule, ModelSpec
from .distributed import is_main, pick_device, setup_distributed
from .loss import distill_loss, neighbor_slot_map, pipnet_loss

__all__ = ["TrainConfig", "UnlabelledFaces", "build_spec", "fit", "split_validation"]

log = logging.getLogger("pipnet_edge.train")


@dataclass
class TrainConfig:
    """Everything a training run needs; saved next to its checkpoints."""

    data: str
    out: str = "runs/train"
    scheme: str = "300w-68"
    backbone: str = "mobilenet_v2"
    pretrained: str | None = None
    init: str | None = None  # start from a float model file (.safetensors / .pt)
    input_size: int = 256
    net_stride: int = 32
    num_nb: int = 10
    crop_scale: float = 1.1
    epochs: int = 60
    batch_size: int = 16
    lr: float = 1e-4
    lr_steps: tuple[int, ...] = (30, 50)
    lr_gamma: float = 0.1
    weight_decay: float = 0.0
    workers: int = 0
    seed: int = 0
    deterministic: bool = False
    val_data: str | None = None
    val_fraction: float = 0.0  # hold out this share of --data (seeded) as the validation set
    val_every: int = 5
    teacher: str | None = None  # float model to distil from (same scheme, map size, num_nb and crop rule)
    distill_weight: float = 0.5  # loss = (1 - w) * ground truth + w * teacher
    resume: str | None = None
    max_steps: int | None = None  # stop early (tests, smoke runs)
    qat: bool = False
    qat_scheme: str = "relu6"  # quantization.quantizer.ACTIVATION_SCHEMES
    device: str = "auto"
    bf16: bool = False  # bfloat16 autocast (about 1.7x faster on CPUs with AVX-512 BF16)
    threads: int | None = None
    progress: bool = True
    augment: dict = field(default_factory=dict)
    # self-training on unlabelled faces (see pipnet_edge.training.self_training); None: plain training
    unlabelled: str | None = None  # MTFL-style five-point list (the held-out split is never trained on)
    unlabelled_ratio: float = 1.0  # pseudo-labelled faces per labelled face in each batch
    unlabelled_weight: float = 1.0  # loss = labelled PIPNet loss + w * pseudo-labelled PIPNet loss
    rounds: int = 1  # self-training rounds
    curriculum: str = "none"  # "none": every unlabelled face each round; "stc": most confident share, growing per round
    curriculum_start: float = 0.5  # the first round's share with "stc"
    confidence: str = "nrm"  # "nrm", "peak" or "both" (see pipnet_edge.training.curriculum)
    fixed_teacher: bool = False  # keep the first teacher in every round (default: the student becomes the next teacher)
    round_init: str = "fresh"  # rounds after the first start from "fresh" (the first round's init) or "previous" (its student)
    round_epochs: int | None = None  # epochs of rounds after the first (lr steps scaled to match); None: epochs
    unlabelled_separate_pass: bool = False  # forward pseudo-labelled faces in their own pass (faster at 256 px on CPUs)
    point_bias: bool = True  # measure the trained model's per-landmark bias on its training faces, store it in the spec
    unlabelled_limit: int | None = None  # use a seeded random subset of this many unlabelled faces (smoke runs, timing)
    pose_balance: float = 0.0  # draw pseudo-labelled faces by pose bin: 0 uniform, 1 every bin alike (curriculum.py)
    anchor: float = 0.0  # move pseudo-labels onto the faces' human five points: 0 off, 1 fully (anchored_labels.py)
    anchor_mode: str = "spline"  # "spline": exactly onto them; "affine": by the least-squares affine map


@dataclass
class UnlabelledFaces:
    """What one self-training round mixes into the labelled batches.

    ``records``: the selected faces, ``points`` being the teacher's pseudo-labels (image pixels)
    and ``box`` the crop box; ``check``: held-out five-point faces (``points`` = the human five
    points) whose five-point NME is reported at validation time, or ``None``.
    """

    records: list[FaceRecord]
    check: list[FaceRecord] | None = None


def _measure_point_bias(cfg: TrainConfig, model, records: list[FaceRecord], val_records: list[FaceRecord] | None) -> None:
    """Measure the trained model's systematic error per landmark on its labelled training faces and put it in
    ``model.spec`` (:mod:`pipnet_edge.calibration.point_bias`); log the validation NME it gives."""
    from ..calibration.point_bias import measure_point_bias, with_point_bias
    from ..evaluation.predictors import torch_predictor
    from ..evaluation.runner import predict_faces

    net = model.eval_model() if cfg.qat else model
    bias = measure_point_bias(torch_predictor(net, "point bias"), records)
    side = model.spec.input_size
    log.info("point bias on %d training faces: mean x %+.3f, y %+.3f px of the %d px crop (largest %.3f px); stored in the spec",
             len(records), bias[:, 0].mean() * side, bias[:, 1].mean() * side, side, np.abs(bias).max() * side)
    model.spec = with_point_bias(model.spec, bias, len(records), cfg.data)
    if val_records is not None:
        val = predict_faces(torch_predictor(net, "validation"), val_records)
        log.info("validation NME with the point bias subtracted: %.4f", summarize(val.points, val.truth, model.spec.scheme).nme)


def build_spec(cfg: TrainConfig, records: list[FaceRecord]) -> ModelSpec:
    """Spec for a new model: mean face and neighbours from the training annotations."""
    mean_face = compute_mean_face(stack_points(records))
    return ModelSpec.create(
        cfg.scheme,
        mean_face,
        backbone=cfg.backbone,
        input_size=cfg.input_size,
        net_stride=cfg.net_stride,
        num_nb=cfg.num_nb,
        crop=CropRule(scale=cfg.crop_scale),
        extra={
            "trained_on": str(cfg.data),
            "training_faces": len(records),
        },
    )


def split_validation(records: list[FaceRecord], fraction: float, seed: int) -> tuple[list[FaceRecord], list[FaceRecord]]:
    """Hold out ``fraction`` of the faces (seeded, so a resumed or repeated run holds out the same ones)."""
    if not 0.0 < fraction < 1.0:
        raise DataError(f"val_fraction must be between 0 and 1, got {fraction}")
    count = int(round(len(records) * fraction))
    if count < 1 or count >= len(records):
        raise DataError(f"val_fraction {fraction} of {len(records)} faces leaves no training or no validation faces")
    order = np.random.default_rng(seed).permutation(len(records))
    held = set(order[:count].tolist())
    return [r for i, r in enumerate(records) if i not in held], [r for i, r in enumerate(records) if i in held]


def _load_teacher(cfg: TrainConfig, spec: ModelSpec, device: torch.device):
    """The frozen float teacher and the map of its neighbour slots onto the student's.

    It must predict on the student's grid (same scheme, map size, num_nb and crop rule);
    neighbour tables may differ slightly (mean faces of slightly different data). With
    ``qat`` the student is the fake-quantized model and a float teacher (typically the
    float model it was prepared from) keeps it close to the float outputs.
    """
    from ..models.checkpoint import load_model
    from ..quantization.qat_model import is_qat_file

    if is_qat_file(cfg.teacher):
        raise SpecError(f"teacher {cfg.teacher} is a QAT checkpoint; distil from a float model (with --qat: usually --init itself)")
    if not 0.0 < cfg.distill_weight <= 1.0:
        raise SpecError(f"--distill-weight must be in (0, 1], got {cfg.distill_weight}")
    teacher = load_model(cfg.teacher)
    t = teacher.spec
    if (t.scheme.name, t.num_points, t.map_size, t.num_nb) != (spec.scheme.name, spec.num_points, spec.map_size, spec.num_nb):
        raise SpecError(
            f"teacher {cfg.teacher} ({t.scheme.name}, {t.map_size}x{t.map_size} map, num_nb {t.num_nb}) does not match the "
            f"student ({spec.scheme.name}, {spec.map_size}x{spec.map_size} map, num_nb {spec.num_nb}): distillation needs the "
            "same scheme, map size and num_nb"
        )
    if t.crop != spec.crop:
        raise SpecError(f"teacher {cfg.teacher} crops faces with {t.crop}, the student with {spec.crop}")
    log.info("distilling from %s (%s, %dx%d input), weight %.2f", cfg.teacher, t.backbone, t.input_size, t.input_size,
             cfg.distill_weight)
    teacher = teacher.to(device).to(memory_format=torch.channels_last).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    slots, mask = neighbor_slot_map(spec.neighbor_array, t.neighbor_array)
    if not mask.all():
        log.info("%d of %d neighbour slots are not in the teacher's table and are not distilled", int((~mask).sum()), mask.size)
    return teacher, (torch.from_numpy(slots).to(device), torch.from_numpy(mask).to(device))


def _lr_at(cfg: TrainConfig, epoch: int) -> float:
    return cfg.lr * cfg.lr_gamma ** sum(epoch >= s for s in cfg.lr_steps)


def _cycle(loader: DataLoader, dataset: FaceDataset, sampler):
    """Batches of ``loader`` forever; each pass re-draws the order and the augmentation."""
    passes = 0
    while True:
        dataset.set_epoch(passes)
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(passes)
        yield from loader
        passes += 1


def _model_input(images: torch.Tensor, spec: ModelSpec, qat: bool, device: torch.device) -> torch.Tensor:
    """A batch of uint8 crops as the model takes it: raw float pixels for the QAT graph (its normalisation is folded
    into the first convolution), normalised otherwise."""
    return images.float().to(device) if qat else normalize_batch(images, spec).to(device)


def fit(cfg: TrainConfig, unlabelled: UnlabelledFaces | None = None) -> Path:
    """One training run (one self-training round when ``unlabelled`` is given); returns the final model file."""
    if cfg.val_fraction and cfg.val_data:
        raise DataError("give either val_data (a labelled folder) or val_fraction (a hold-out of data), not both")
    device = pick_device(cfg.device)
    rank, world = setup_distributed(device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed + rank)
    if cfg.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    out = Path(cfg.out)
    if is_main():
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2, default=str))

    records = load_faces(cfg.data)
    val_records: list[FaceRecord] | None = None
    if cfg.val_fraction:
        records, val_records = split_validation(records, cfg.val_fraction, cfg.seed)
        if is_main():
            (out / "validation_faces.txt").write_text("".join(f"{r.image_path}\n" for r in val_records))
            log.info("holding out %d of %d faces for validation (list in %s)", len(val_records),
                     len(records) + len(val_records), out / "validation_faces.txt")
    start_epoch, state = 0, None
    if cfg.resume:
        state = load_training_state(cfg.resume)
        spec = ModelSpec.from_json(state["spec"])
        start_epoch = int(state["epoch"]) + 1
    elif cfg.init:
        from ..models.checkpoint import read_spec

        spec = read_spec(cfg.init)
    else:
        spec = build_spec(cfg, records)
    if spec.point_bias is not None:  # the bias of the weights we start from: measured again at the end
        spec = spec.replace(point_bias=None)

    if cfg.qat:
        from ..quantization import QATModel

        float_model = create_model(spec)
        if cfg.init:
            from ..models.checkpoint import load_model

            float_model.load_state_dict(load_model(cfg.init).state_dict())
        model = QATModel.prepare(float_model, example_batch=2, scheme=cfg.qat_scheme)
        if state is not None:
            model.load_qat_state(state["model"])
        else:  # start from calibrated ranges rather than the observers' empty state
            calib = FaceDataset(records[:: max(1, len(records) // 128)], spec)
            model.calibrate(
                torch.stack([calib[j]["image"] for j in range(i, min(i + 16, len(calib)))]) for i in range(0, len(calib), 16)
            )
        params = model.parameters()
    else:
        model = create_model(spec)
        if state is not None:
            model.load_state_dict(state["model"])
        elif cfg.init:
            from ..models.checkpoint import load_model

            model.load_state_dict(load_model(cfg.init).state_dict())
        elif cfg.pretrained:
            load_imagenet_backbone(model, cfg.pretrained)
        model = model.to(device).to(memory_format=torch.channels_last)
        params = model.parameters()

    teacher, nb_map = _load_teacher(cfg, spec, device) if cfg.teacher else (None, None)
    optimizer = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if state is not None and "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])
    train_model = model
    if world > 1 and not cfg.qat:
        train_model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    aug = AugmentConfig(**cfg.augment)
    if aug.yaw_prob > 0 and spec.num_points != 68:
        raise SpecError(f"the yaw-like warp (--yaw-prob) turns faces by the 3D mean face of the 68-point 300W scheme; "
                        f"this model has {spec.num_points} points")
    dataset = FaceDataset(records, spec, augment=aug, seed=cfg.seed,
                          teacher_size=teacher.spec.input_size if teacher is not None else None)
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, seed=cfg.seed) if world > 1 else None
    generator = torch.Generator().manual_seed(cfg.seed)
    loader = DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        num_workers=cfg.workers,
        drop_last=True,
        generator=generator,
        persistent_workers=cfg.workers > 0,
    )
    if len(loader) == 0:
        raise DataError(f"{len(dataset)} faces are fewer than one batch of {cfg.batch_size}")
    u_stream = None
    if unlabelled is not None:
        u_batch = max(1, round(cfg.batch_size * cfg.unlabelled_ratio))
        u_dataset = FaceDataset(unlabelled.records, spec, augment=aug, seed=cfg.seed + 7919)
        u_sampler = (DistributedSampler(u_dataset, num_replicas=world, rank=rank, seed=cfg.seed) if world > 1
                     else RandomSampler(u_dataset, generator=torch.Generator().manual_seed(cfg.seed + 1)))
        if cfg.pose_balance > 0:
            if world > 1:
                raise SpecError("--pose-balance draws pseudo-labelled faces with weights; run it in one process")
            from .curriculum import pose_balance_weights

            weights = pose_balance_weights(np.stack([r.points for r in unlabelled.records]), cfg.pose_balance)
            u_sampler = WeightedRandomSampler(torch.from_numpy(weights), num_samples=len(u_dataset), replacement=True,
                                              generator=torch.Generator().manual_seed(cfg.seed + 1))
            log.info("pseudo-labelled faces drawn by pose bin (balance %.2f): the rarest bin's faces %.1fx as often as "
                     "the commonest bin's", cfg.pose_balance, float(weights.max() / weights.min()))
        u_loader = DataLoader(u_dataset, batch_size=u_batch, sampler=u_sampler, num_workers=cfg.workers, drop_last=True)
        if len(u_loader) == 0:
            raise DataError(f"{len(u_dataset)} pseudo-labelled faces are fewer than one batch of {u_batch} "
                            f"(--batch-size {cfg.batch_size} x --unlabelled-ratio {cfg.unlabelled_ratio})")
        u_stream = _cycle(u_loader, u_dataset, u_sampler)
        if cfg.unlabelled_separate_pass and world > 1:
            raise SpecError("--unlabelled-separate-pass runs two backward passes per step; use it in single-process training")
        log.info("mixing %d pseudo-labelled faces into each batch of %d (from %d faces), loss weight %.2f",
                 u_batch, cfg.batch_size, len(u_dataset), cfg.unlabelled_weight)
    if cfg.val_data:
        val_records = load_faces(cfg.val_data)
    check_records = unlabelled.check if unlabelled is not None else None
    if not is_main():
        val_records = check_records = None

    log.info(
        "training %s PIPNet (%d points, num_nb %d, %dx%d) on %d faces, %d epochs, batch %d x %d process(es), device %s%s",
        spec.backbone, spec.num_points, spec.num_nb, spec.input_size, spec.input_size, len(dataset),
        cfg.epochs, cfg.batch_size, world, device, ", QAT" if cfg.qat else "",
    )
    history: list[dict] = list(state.get("history", [])) if state else []
    step = 0
    final = out / ("qat.safetensors" if cfg.qat else "final.safetensors")
    for epoch in range(start_epoch, cfg.epochs):
        lr = _lr_at(cfg, epoch)
        for g in optimizer.param_groups:
            g["lr"] = lr
        dataset.set_epoch(epoch)
        if sampler is not None:
            sampler.set_epoch(epoch)
        if cfg.qat:
            model.train_mode()
        else:
            train_model.train()
        it = loader
        bar = None
        if cfg.progress and is_main():
            from tqdm import tqdm

            bar = it = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", dynamic_ncols=True, mininterval=2.0)
        t0 = time.time()
        sums: dict[str, float] = {}
        seen = 0
        for batch in it:
            images = batch["image"]
            ubatch = next(u_stream) if u_stream is not None else None
            optimizer.zero_grad(set_to_none=True)
            u_separate = None
            if ubatch is not None and cfg.unlabelled_separate_pass:  # its own pass; gradients add up before the step
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16 and not cfg.qat):
                    u_out = train_model(_model_input(ubatch["image"], spec, cfg.qat, device))
                u_loss, u_parts = pipnet_loss(u_out, ubatch["cell"].to(device), ubatch["offset"].to(device),
                                              ubatch["nb_offset"].to(device))
                u_separate = cfg.unlabelled_weight * u_loss
                if not torch.isfinite(u_separate):
                    raise FloatingPointError(f"the pseudo-label loss became {float(u_separate)} at epoch {epoch + 1}; lower --lr")
                u_separate.backward()
                u_separate = u_separate.detach()
                del u_out, u_loss
                ubatch = None
            elif ubatch is not None:  # one forward pass over labelled + pseudo-labelled faces
                images = torch.cat([images, ubatch["image"]])
            x = _model_input(images, spec, cfg.qat, device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16 and not cfg.qat):
                outputs = train_model(x)
            n_lab = batch["image"].shape[0]
            if ubatch is not None:
                u_out = tuple(o[n_lab:] for o in outputs)
                outputs = tuple(o[:n_lab] for o in outputs)
            cell = batch["cell"].to(device)
            loss, parts = pipnet_loss(outputs, cell, batch["offset"].to(device), batch["nb_offset"].to(device))
            if ubatch is not None:
                u_loss, u_parts = pipnet_loss(u_out, ubatch["cell"].to(device), ubatch["offset"].to(device),
                                              ubatch["nb_offset"].to(device))
                loss = loss + cfg.unlabelled_weight * u_loss
                parts.update({f"u_{k}": v for k, v in u_parts.items()})
            if teacher is not None:
                with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
                    soft = teacher(normalize_batch(batch["teacher_image"], teacher.spec).to(device))
                kd, kd_parts = distill_loss(outputs, soft, cell, nb_map=nb_map)
                loss = (1.0 - cfg.distill_weight) * loss + cfg.distill_weight * kd
                parts.update(kd_parts)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {float(loss)} at epoch {epoch + 1}; lower --lr")
            loss.backward()
            optimizer.step()
            if u_separate is not None:
                loss = loss.detach() + u_separate
                parts.update({f"u_{k}": v for k, v in u_parts.items()})
            seen += 1
            for k, v in {"loss": float(loss.detach()), **parts}.items():
                sums[k] = sums.get(k, 0.0) + v
            if bar is not None:
                bar.set_postfix(loss=f"{sums['loss'] / seen:.4f}", lr=f"{lr:.0e}")
            step += 1
            if cfg.max_steps and step >= cfg.max_steps:
                break
        record = {"epoch": epoch + 1, "lr": lr, "seconds": round(time.time() - t0, 1)}
        record.update({k: round(v / max(seen, 1), 5) for k, v in sums.items()})
        if val_records is not None and ((epoch + 1) % cfg.val_every == 0 or epoch + 1 == cfg.epochs):
            # the same crops, decode and metric as `python -m pipnet_edge.evaluate`
            from ..evaluation.predictors import torch_predictor
            from ..evaluation.runner import predict_faces

            val = predict_faces(torch_predictor(model.eval_model() if cfg.qat else model, "validation"), val_records)
            record["val_nme"] = round(summarize(val.points, val.truth, spec.scheme).nme, 4)
        if check_records and ((epoch + 1) % cfg.val_every == 0 or epoch + 1 == cfg.epochs):
            from ..evaluation.predictors import torch_predictor
            from ..evaluation.runner import predict_faces
            from ..five_point import five_point_summary

            check = predict_faces(torch_predictor(model.eval_model() if cfg.qat else model, "validation"), check_records)
            record["val_5pt_nme"] = round(five_point_summary(check.points, check.truth).nme, 4)
        history.append(record)
        if is_main():
            log.info("epoch %d/%d: %s", epoch + 1, cfg.epochs, json.dumps(record))
            with open(out / "history.jsonl", "a") as fh:
                fh.write(json.dumps(record) + "\n")
            model_state = model.qat_state() if cfg.qat else model.state_dict()
            save_training_state(
                out / "last.pt",
                model=model_state,
                optimizer=optimizer.state_dict(),
                epoch=epoch,
                spec=spec.to_json(),
                config=json.dumps(asdict(cfg), default=str),
                history=history,
            )
        if cfg.max_steps and step >= cfg.max_steps:
            break
    if is_main():
        if cfg.point_bias:
            _measure_point_bias(cfg, model, records, val_records)
        if cfg.qat:
            model.save(final)
        else:
            save_model(model, final)
        log.info("saved %s", final)
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return final


def __getattr__(name: str):
    # deprecation shim (one release): train() dispatches to self-training, a layer above this module
    if name == "train":
        import warnings

        warnings.warn("pipnet_edge.training.trainer.train moved to pipnet_edge.training.train", FutureWarning, stacklevel=2)
        from . import train

        return train
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
