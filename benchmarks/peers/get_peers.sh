#!/usr/bin/env bash
# Provision the benchmarks' peers (optional extras, never dependencies of pipnet-edge):
#   1. into the Python environment (see below): dlib-bin + face-recognition-models (pip), and MediaPipe's
#      face_landmark.tflite extracted into CACHE_DIR (benchmarks.peers.landmarkers, for the artifacts suite);
#   2. CACHE_DIR/mp-venv: a separate venv with mediapipe==0.10.14 for the end_to_end suite's
#      FaceMesh PIPELINE (benchmarks/peers/pipelines.py runs it as a subprocess worker). mediapipe pins
#      opencv-contrib-python and protobuf<5, which clash with pipnet-edge's opencv-python-headless and
#      protobuf, so it never goes into the project's venv.
# Usage: bash benchmarks/peers/get_peers.sh [CACHE_DIR]      (default CACHE_DIR: benchmarks/.peers;
#        PYTHON=... to pick the interpreter; NO_MP_VENV=1 skips step 2)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# interpreter: $PYTHON, else the active venv's, else the project's .venv, else `python`
if [ -n "${PYTHON:-}" ]; then python="$PYTHON"
elif [ -n "${VIRTUAL_ENV:-}" ]; then python="$VIRTUAL_ENV/bin/python"
elif [ -x "$root/.venv/bin/python" ]; then python="$root/.venv/bin/python"
else python=python; fi
echo "installing the peers for $python"
cache="$(mkdir -p "${1:-$root/benchmarks/.peers}" && cd "${1:-$root/benchmarks/.peers}" && pwd)"
mp_version="0.10.14"
"$python" -m pip install -r "$here/requirements.txt"
cd "$root"  # the benchmarks package is imported from the repository root
"$python" -m benchmarks.peers.landmarkers --fetch --cache-dir "$cache"
"$python" -c "
from benchmarks.peers.landmarkers import load_peers
for p in load_peers(cache_dir='$cache'):
    print('ok:', p)
"
if [ -z "${NO_MP_VENV:-}" ]; then
    mp_venv="$cache/mp-venv"
    if [ ! -x "$mp_venv/bin/python" ]; then
        # a venv made from inside a venv is based on the same base interpreter (Python 3.8-3.12 for 0.10.14)
        "$python" -m venv "$mp_venv"
    fi
    "$mp_venv/bin/python" -m pip install --quiet --upgrade pip
    "$mp_venv/bin/python" -m pip install "mediapipe==$mp_version"
    "$mp_venv/bin/python" -c "import mediapipe as mp; mp.solutions.face_mesh.FaceMesh(static_image_mode=True).close(); print('ok: mediapipe', mp.__version__, 'FaceMesh pipeline in $mp_venv')"
fi
