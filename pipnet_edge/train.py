"""``python -m pipnet_edge.train``: train a PIPNet (float, or QAT fine-tuning with ``--qat``).

Examples::

    # the default model's recipe (MobileNetV2, 300W-68, ImageNet init)
    python -m pipnet_edge.train --data ../shared/data/300w/train \\
        --pretrained ../shared/pretrained/mobilenet_v2-b0353104.pth --out runs/mbv2

    # quantization-aware fine-tuning of that model
    python -m pipnet_edge.train --data ../shared/data/300w/train --init runs/mbv2/final.safetensors \\
        --qat --epochs 3 --lr 1e-5 --out runs/mbv2-qat

    # several GPUs (or CPU processes with gloo)
    torchrun --nproc_per_node 2 -m pipnet_edge.train --data ... --out ...

    # self-training on unlabelled faces (MTFL, minus the held-out 1,000), pseudo-labelled by the bundled
    # default model: 3 rounds of STC (the most confident 50 %, 75 %, 100 %; the student becomes the next teacher)
    python -m pipnet_edge.train --data ../shared/data/300w/train --unlabelled ../shared/data/mtfl/train_5pt.txt \\
        --curriculum stc --rounds 3 --pretrained ../shared/pretrained/mobilenet_v2-b0353104.pth --out runs/mbv2-stc
"""

from __future__ import annotations

import argparse
import logging
import sys

from .errors import PipnetEdgeError
from .models.registry import list_backbones
from .schemes import BUILTIN_SCHEMES


def build_parser() -> argparse.ArgumentParser:
    from . import models  # noqa: F401  (registers backbones)

    p = argparse.ArgumentParser(prog="python -m pipnet_edge.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="folder of image + .pts faces, or a PIPNet list file")
    p.add_argument("--out", default="runs/train", help="output folder (checkpoints, history, config)")
    p.add_argument("--scheme", default="300w-68", choices=sorted(BUILTIN_SCHEMES))
    p.add_argument("--backbone", default="mobilenet_v2", choices=list_backbones())
    p.add_argument("--pretrained", help="torchvision-format ImageNet weights for the backbone")
    p.add_argument("--init", help="start from this float model (.safetensors / .pt); required with --qat")
    p.add_argument("--input-size", type=int, default=256)
    p.add_argument("--net-stride", type=int, default=32)
    p.add_argument("--num-nb", type=int, default=10)
    p.add_argument("--crop-scale", type=float, default=1.1, help="square crop side / landmark box side")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--lr-steps", type=int, nargs="*", default=[30, 50], help="epochs where lr is multiplied by --lr-gamma")
    p.add_argument("--lr-gamma", type=float, default=0.1)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--deterministic", action="store_true", help="use deterministic algorithms (slower)")
    p.add_argument("--val-data", help="labelled folder to report NME on during training (never the test set)")
    p.add_argument("--val-fraction", type=float, default=0.0,
                   help="hold out this share of --data (seeded) for validation, e.g. 0.1; never use the test set")
    p.add_argument("--val-every", type=int, default=5)
    p.add_argument("--resume", help="continue from a last.pt training state "
                   "(with --unlabelled: any value, e.g. the --out folder, continues the rounds in --out)")
    p.add_argument("--max-steps", type=int, help="stop after this many optimizer steps (smoke tests)")
    p.add_argument("--teacher", help="float model to distil from (same scheme, map size and num_nb; e.g. the default model); "
                   "with --qat: a float model (usually --init) the fake-quantized student is distilled from; "
                   "with --unlabelled: the model that pseudo-labels the unlabelled faces (any model file or bundled name, "
                   "default default-fp16)")
    p.add_argument("--distill-weight", type=float, default=0.5, help="loss = (1 - w) * ground truth + w * teacher")
    p.add_argument("--qat", action="store_true", help="quantization-aware fine-tuning of --init")
    p.add_argument("--qat-scheme", choices=["relu6", "shared"], default="relu6",
                   help="QAT: ReLU6 fused into the convolution before it (relu6, default) or sharing its grid "
                        "(shared: litert-torch's own annotation, what models before 2026-11-30 used)")
    u = p.add_argument_group("self-training on unlabelled faces (see pipnet_edge.training.self_training)")
    u.add_argument("--unlabelled", help="MTFL-style five-point list (path x1..x5 y1..y5); its held-out 1,000 are never used")
    u.add_argument("--curriculum", default="none", choices=["none", "stc"],
                   help="none: every unlabelled face each round (plain pseudo-labels); stc: the teacher's most confident share, "
                   "growing per round")
    u.add_argument("--rounds", type=int, default=1, help="self-training rounds")
    u.add_argument("--curriculum-start", type=float, default=0.5, help="stc: share of the unlabelled faces in round 1 (-> 1.0)")
    u.add_argument("--confidence", default="nrm", choices=["nrm", "peak", "both"],
                   help="stc ranking: NRM neighbour agreement (ranks the teacher's errors best), score-map peak, "
                   "or both ranks summed")
    u.add_argument("--unlabelled-ratio", type=float, default=1.0, help="pseudo-labelled faces per labelled face in a batch")
    u.add_argument("--unlabelled-weight", type=float, default=1.0, help="weight of the pseudo-label PIPNet loss")
    u.add_argument("--fixed-teacher", action="store_true",
                   help="every round is labelled by --teacher (default: by the previous student)")
    u.add_argument("--round-init", default="fresh", choices=["fresh", "previous"],
                   help="rounds after the first start like the first (fresh) or from the previous student")
    u.add_argument("--round-epochs", type=int, help="epochs of rounds after the first (default --epochs; lr steps scaled)")
    u.add_argument("--unlabelled-separate-pass", action="store_true",
                   help="forward the pseudo-labelled faces in their own pass (gradients add up; BatchNorm normalises each "
                   "source by itself): 1 pass of 16+16 costs 2.6x a labelled step at 256 px on the 2-core CPU, 2 passes 2.0x")
    u.add_argument("--pose-balance", type=float, default=0.0,
                   help="draw pseudo-labelled faces by pose bin of their pseudo-labels: 0 uniform (default), 1 every bin "
                        "alike (turned faces more often)")
    u.add_argument("--anchor", type=float, default=0.0,
                   help="warp each pseudo-labelled face's 68 points so their five derived points land on the face's "
                        "human five points (plus the schemes' median offset): 0 off (default), 1 fully "
                        "(pipnet_edge/training/anchored_labels.py)")
    u.add_argument("--anchor-mode", default="spline", choices=["spline", "affine"],  # anchored_labels.ANCHOR_MODES
                   help="with --anchor: a thin-plate spline puts the five derived points exactly on the human ones "
                        "(spline), or one least-squares affine map moves the whole face (affine)")
    u.add_argument("--unlabelled-limit", type=int, help="a seeded random subset of this many unlabelled faces (smoke runs)")
    p.add_argument("--flip-prob", type=float, default=0.5,
                   help="augmentation: probability of mirroring a crop and its labels (0 turns flips off; with flips the "
                   "trained model's x bias is measured and subtracted, see --no-point-bias)")
    p.add_argument("--lowres-prob", type=float, default=0.0,
                   help="augmentation: probability of shrinking a crop to 32-72 px and scaling it back (small faces)")
    p.add_argument("--yaw-prob", type=float, default=0.0,
                   help="augmentation: probability of the yaw-like warp that turns a crop's face in 3D (68-point scheme; "
                   "pipnet_edge/data/yaw_warp.py)")
    p.add_argument("--max-yaw", type=float, default=35.0,
                   help="with --yaw-prob: the largest turn in degrees, drawn uniformly in [-max, max] (default 35)")
    p.add_argument("--no-point-bias", action="store_true",
                   help="do not measure the trained model's per-landmark bias on its training faces (stored in the spec "
                   "and subtracted by the decode; see pipnet_edge/calibration/point_bias.py)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast for the forward pass (weights stay float32)")
    p.add_argument("--threads", type=int, help="torch intra-op threads")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.qat and not (args.init or args.resume):
        print("error: --qat fine-tunes a trained float model: pass --init MODEL.safetensors", file=sys.stderr)
        return 2
    for name in ("lowres_prob", "flip_prob", "yaw_prob"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            print(f"error: --{name.replace('_', '-')} is a probability in [0, 1], got {getattr(args, name)}", file=sys.stderr)
            return 2
    if not 0.0 <= args.max_yaw < 90.0:
        print(f"error: --max-yaw is in degrees in [0, 90), got {args.max_yaw}", file=sys.stderr)
        return 2
    if not 0.0 <= args.pose_balance <= 1.0:
        print(f"error: --pose-balance is in [0, 1] (0: uniform, 1: every pose bin alike), got {args.pose_balance}",
              file=sys.stderr)
        return 2
    if args.pose_balance and not args.unlabelled:
        print("error: --pose-balance draws pseudo-labelled faces: it needs --unlabelled", file=sys.stderr)
        return 2
    if not 0.0 <= args.anchor <= 1.0:
        print(f"error: --anchor is in [0, 1] (0: the teacher's points, 1: fully on the human five points), got {args.anchor}",
              file=sys.stderr)
        return 2
    if args.anchor and not args.unlabelled:
        print("error: --anchor moves pseudo-labels onto the unlabelled faces' five points: it needs --unlabelled",
              file=sys.stderr)
        return 2
    from .data.augment import AugmentConfig
    from .training import TrainConfig, train

    cfg = TrainConfig(
        data=args.data, out=args.out, scheme=args.scheme, backbone=args.backbone, pretrained=args.pretrained,
        init=args.init, input_size=args.input_size, net_stride=args.net_stride, num_nb=args.num_nb,
        crop_scale=args.crop_scale, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        lr_steps=tuple(args.lr_steps), lr_gamma=args.lr_gamma, workers=args.workers, seed=args.seed,
        deterministic=args.deterministic, val_data=args.val_data, val_fraction=args.val_fraction, val_every=args.val_every, resume=args.resume,
        max_steps=args.max_steps, teacher=args.teacher, distill_weight=args.distill_weight, qat=args.qat, qat_scheme=args.qat_scheme, device=args.device, threads=args.threads, bf16=args.bf16, progress=not args.no_progress,
        augment={k: v for k, v in (("lowres_prob", args.lowres_prob), ("flip_prob", args.flip_prob),
                                   ("yaw_prob", args.yaw_prob), ("max_yaw", args.max_yaw))
                 if v != getattr(AugmentConfig, k) and (k != "max_yaw" or args.yaw_prob > 0)},
        unlabelled=args.unlabelled, unlabelled_ratio=args.unlabelled_ratio, unlabelled_weight=args.unlabelled_weight,
        rounds=args.rounds, curriculum=args.curriculum, curriculum_start=args.curriculum_start, confidence=args.confidence,
        fixed_teacher=args.fixed_teacher, round_init=args.round_init, round_epochs=args.round_epochs,
        unlabelled_limit=args.unlabelled_limit, unlabelled_separate_pass=args.unlabelled_separate_pass,
        pose_balance=args.pose_balance, anchor=args.anchor,
        anchor_mode=args.anchor_mode,
        point_bias=not args.no_point_bias,
    )
    try:
        path = train(cfg)
    except PipnetEdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"model written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
