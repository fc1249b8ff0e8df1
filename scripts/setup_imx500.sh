#!/usr/bin/env bash
# Sony IMX500 (Raspberry Pi AI Camera) tools for `python -m pipnet_edge.export --target imx500`, installed on demand,
# outside scripts/setup.sh and CI (about 1.5 GB in all), each in its own virtual environment because their pins clash
# (imx500-converter pins mct-quantizers~=1.6, model-compression-toolkit 2.6 needs ~=1.7):
#
#   .venv-mct      Sony's Model Compression Toolkit (MCT) 2.6.1 on the CPU build of torch 2.13.0: quantizes the model
#                  for the IMX500, runs the quantized model in simulation, exports its ONNX
#   .venv-imxconv  imx500-converter[pt] 3.19.2 (`imxconv-pt`): MCT's ONNX -> packerOut.zip for the chip
#
# System requirement: a Java 17 runtime on PATH for imxconv-pt (Debian / Ubuntu: apt-get install
# openjdk-17-jre-headless); checked first. pipnet-edge never imports either tool: export drives them by subprocess.
# Other places: PIPNET_EDGE_MCT_VENV / PIPNET_EDGE_IMXCONV_VENV (export reads the same variables); another torch
# spec: PIPNET_EDGE_TORCH. Every version is pinned in scripts/imx500-{mct,imxconv}-requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
MCT_VENV=${PIPNET_EDGE_MCT_VENV:-.venv-mct}
IMXCONV_VENV=${PIPNET_EDGE_IMXCONV_VENV:-.venv-imxconv}

if ! command -v java >/dev/null 2>&1; then
    echo "error: imxconv-pt needs a Java 17 runtime on PATH (Debian / Ubuntu: sudo apt-get install openjdk-17-jre-headless)" >&2
    exit 1
fi
java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
if [ "${java_major:-0}" != 17 ]; then
    echo "warning: imxconv-pt 3.19 is made for Java 17; found Java ${java_major:-?} ($(command -v java))" >&2
fi

echo "== $MCT_VENV: model-compression-toolkit (MCT) on CPU torch"
[ -x "$MCT_VENV/bin/python" ] || "$PY" -m venv "$MCT_VENV"
"$MCT_VENV/bin/python" -m pip install -q --upgrade pip
"$MCT_VENV/bin/python" -m pip install -q "${PIPNET_EDGE_TORCH:-torch==2.13.0}"
"$MCT_VENV/bin/python" -m pip install -q -r scripts/imx500-mct-requirements.txt
# imports MCT as the export does (with its torchvision workaround) and prints the versions
"$MCT_VENV/bin/python" pipnet_edge/converters/imx500_mct.py check

echo "== $IMXCONV_VENV: imx500-converter[pt] (imxconv-pt)"
[ -x "$IMXCONV_VENV/bin/python" ] || "$PY" -m venv "$IMXCONV_VENV"
"$IMXCONV_VENV/bin/python" -m pip install -q --upgrade pip
"$IMXCONV_VENV/bin/python" -m pip install -q -r scripts/imx500-imxconv-requirements.txt
"$IMXCONV_VENV/bin/imxconv-pt" --version

echo "IMX500 tools ready: python -m pipnet_edge.export --target imx500 --model lite --calib TRAINING_FACES --out DIR"
