"""Put a trained model into ``pipnet_edge/assets`` as a bundled model (run from the repository root).

    python scripts/bundle_model.py --model default --float runs/mbv2/final.safetensors \
        --qat runs/mbv2-qat/qat.safetensors --tflite-int8 exports/pipnet_mbv2_300w68_tflite-int8.tflite

Float weights are stored as float16 safetensors (landmarks move < 0.02 px), the QAT model in
float32 (float16 weights would move its INT8 landmarks by ~1 px), the full-INT8 TFLite as exported.
"""

from __future__ import annotations

import argparse
import shutil
import sys

import torch

from pipnet_edge.assets import ASSETS_DIR, CARDS, write_manifest
from pipnet_edge.models.checkpoint import load_model, save_model
from pipnet_edge.quantization import QATModel

LICENCE = "trained on 300W (iBUG) images: non-commercial research use only"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default="default", choices=sorted(CARDS), help="which bundled model to replace")
    p.add_argument("--float", required=True)
    p.add_argument("--qat", required=True)
    p.add_argument("--tflite-int8", required=True)
    args = p.parse_args()
    model = load_model(args.float)
    model.spec.extra["licence"] = LICENCE
    files = CARDS[args.model].files  # role -> file name
    save_model(model, ASSETS_DIR / files["fp16"], dtype=torch.float16)
    QATModel.load(args.qat).save(ASSETS_DIR / files["qat"])
    shutil.copyfile(args.tflite_int8, ASSETS_DIR / files["int8"])
    write_manifest()  # the SHA-256 of every bundled file, checked when a file is first opened
    for name in files.values():
        print(f"{name}: {(ASSETS_DIR / name).stat().st_size / 1e6:.2f} MB")
    print(f"now measure the figures of CARDS[{args.model!r}] in pipnet_edge/assets/registry.py again (each has its command)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
