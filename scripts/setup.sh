#!/usr/bin/env bash
# Create .venv with everything needed to train, export, test and run pipnet-edge.
# The CPU build of torch is installed first: a plain `torch` requirement would pull a multi-GB
# CUDA build on machines without a GPU. Set PIPNET_EDGE_TORCH to choose another torch spec.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q "${PIPNET_EDGE_TORCH:-torch==2.13.0}"
python -m pip install -q -e ".[all]"
python -c "import pipnet_edge, torch; print('pipnet-edge', pipnet_edge.__version__, '| torch', torch.__version__)"
