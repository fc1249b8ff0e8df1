#!/usr/bin/env bash
# Provision the benchmark's peer landmarkers into the ACTIVE Python environment:
#   dlib-bin + face-recognition-models (pip), MediaPipe's face_landmark.tflite (into benchmarks/.peers/).
# Usage: bash benchmarks/get_peers.sh [CACHE_DIR]      (PYTHON=... to pick the interpreter)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python}"
cache="${1:-$here/.peers}"
"$python" -m pip install -r "$here/requirements-peers.txt"
"$python" "$here/peers.py" --fetch --cache-dir "$cache"
"$python" - <<PY
import sys
sys.path.insert(0, "$here")
from peers import load_peers
for p in load_peers(cache_dir="$cache"):
    print("ok:", p)
PY
