#!/usr/bin/env bash
# Device installs, tested: build the wheel, check what it carries (<= 12 MB, no float / QAT weights), install it
# into clean virtual environments the way a device would, and compare each one's landmarks of docs/group.jpg with the
# development install's (README "Install on a device"; docs/development.md). The checks are
# scripts/device_install_check.py; run after scripts/setup.sh (CI: .ci/run, after the tests).
#
#   (a) numpy + OpenCV + ai-edge-litert       pip install "WHEEL[tflite]"       Landmarker()  (bundled INT8 TFLite)
#   (b) numpy + OpenCV + onnxruntime          pip install "WHEEL[onnxruntime]"  Landmarker(INT8 ONNX)
#   (c) numpy + OpenCV alone                  pip install "WHEEL"               Landmarker(INT8 ONNX, backend="opencv")
#   (d) a training install: pip install -e of the source tree has the float and QAT weights
#
# Versions come from the wheel's own requirements (its extras), as on a device. pip's cache (PIP_CACHE_DIR, default
# ~/.cache/pip) makes reruns quick. Settings (environment):
#   PIPNET_EDGE_DEVICE_DIR   work folder (default: build/device-check; emptied first; keeps the wheel, the reference
#                            and results/CASE.json, and the venvs when a case failed)
#   PIPNET_EDGE_DEVICE_KEEP  set: keep the venvs after a passing run too
#   PIPNET_EDGE_DEVICE_ONNX  an INT8 ONNX of the default model to use instead of exporting one
#   PIPNET_EDGE_DEVICE_CACHE where the exported INT8 ONNX is kept between runs, keyed by the package's code, the QAT
#                            weights and the development install's packages (default: ~/.cache/pipnet-edge/device-check)
#   PYTHON                   the interpreter the device venvs are made from (default: python3)
#   DEV_PYTHON               the development install (default: .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0; fi
PY=${PYTHON:-python3}
DEV=${DEV_PYTHON:-$ROOT/.venv/bin/python}
WORK=${PIPNET_EDGE_DEVICE_DIR:-$ROOT/build/device-check}
CHECK=$ROOT/scripts/device_install_check.py
CACHE=${PIPNET_EDGE_DEVICE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pipnet-edge/device-check}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
unset PYTHONPATH
[ -x "$DEV" ] || { echo "no development install at $DEV: run scripts/setup.sh first" >&2; exit 2; }

t_all=$(date +%s.%N)
declare -a STAGES=()
stage() {  # stage NAME COMMAND...: run, time, remember
    local name=$1; shift
    local t0; t0=$(date +%s.%N)
    echo "== $name"
    "$@"
    local s; s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
    STAGES+=("$(printf '%6.1f s  %s' "$s" "$name")")
    printf -- '-- %s: %.1f s\n' "$name" "$s"
}

clean() { rm -rf "$WORK" && mkdir -p "$WORK/src" "$WORK/wheel" "$WORK/results"; }
stage "empty the work folder $WORK" clean

build_wheel() {
    # from a copy of the working tree's files (tracked and untracked, not ignored): no stale build/ folder can slip
    # files into the wheel, and nothing is written into the checkout
    git ls-files -co --exclude-standard -z | while IFS= read -r -d '' f; do if [ -f "$f" ]; then printf '%s\0' "$f"; fi; done \
        | xargs -0 cp --parents -t "$WORK/src"   # (files deleted in the working tree are skipped)
    "$DEV" -m pip wheel "$WORK/src" --no-deps -q -w "$WORK/wheel" 2>"$WORK/wheel.log" \
        || { cat "$WORK/wheel.log" >&2; exit 1; }  # (the log holds setuptools' deprecation notices)
    WHEEL=$(ls "$WORK"/wheel/pipnet_edge-*.whl)
    "$DEV" "$CHECK" wheel "$WHEEL"
}
stage "build the wheel (pip wheel --no-deps) and check its contents" build_wheel

export_onnx() {
    if [ -n "${PIPNET_EDGE_DEVICE_ONNX:-}" ]; then
        ONNX=$PIPNET_EDGE_DEVICE_ONNX; echo "using $ONNX"
        [ -f "$ONNX" ] || { echo "no INT8 ONNX at $ONNX" >&2; exit 1; }
        return
    fi
    # kept between runs under a key of everything the export reads: the package's code, the QAT weights and the
    # development install's packages (its own line left out: it names the commit); a change anywhere re-exports
    local key cached
    key=$( { (cd "$WORK/src" && find pipnet_edge -type f \( -name '*.py' -o -name '*_qat.safetensors' \) -print0 \
                | sort -z | xargs -0 sha256sum); "$DEV" -m pip freeze --all | grep -v -i '^-e\|pipnet'; } \
            | sha256sum | cut -c1-16)
    cached=$CACHE/pipnet_mbv2_300w68_onnx-int8-$key.onnx
    if [ -f "$cached" ]; then
        echo "the INT8 ONNX of this code and these weights is cached: $cached"
    else
        "$DEV" -m pipnet_edge.export --target onnx-int8 --model default --out "$WORK/onnx" --data none \
            >"$WORK/export.log" 2>&1 || { tail -n 40 "$WORK/export.log" >&2; exit 1; }
        grep -E '^\| onnx-int8' "$WORK/export.log" || true
        mkdir -p "$CACHE" && cp "$WORK/onnx/pipnet_mbv2_300w68_onnx-int8.onnx" "$cached.tmp" && mv "$cached.tmp" "$cached"
        find "$CACHE" -name '*.onnx' -mtime +30 -delete   # old keys
    fi
    ONNX=$cached
}
stage "export the default model to INT8 ONNX (development install)" export_onnx

stage "reference landmarks of docs/group.jpg (development install)" \
    "$DEV" "$CHECK" reference --onnx "$ONNX" --out "$WORK/reference.json"

failed=0
device_case() {  # device_case CASE EXTRA
    local case=$1 extra=$2 venv=$WORK/venv-$1
    "$PY" -m venv "$venv"   # no system site packages
    "$venv/bin/python" -m pip install -q "$WHEEL${extra:+[$extra]}"
    (cd "$WORK" && "$venv/bin/python" "$CHECK" device "$case" --onnx "$ONNX" --reference "$WORK/reference.json" \
        --out "$WORK/results/$case.json") || failed=1
}
stage "(a) venv: wheel[tflite], bundled INT8 TFLite" device_case a tflite
stage "(b) venv: wheel[onnxruntime], INT8 ONNX" device_case b onnxruntime
stage "(c) venv: wheel alone, INT8 ONNX on OpenCV's DNN" device_case c ""

training_install() {  # the source tree, editable, in venv (c): numpy and OpenCV are there already
    "$WORK/venv-c/bin/python" -m pip install -q --no-deps -e "$WORK/src" 2>/dev/null
    (cd "$WORK" && "$WORK/venv-c/bin/python" "$CHECK" training) || failed=1
}
stage "(d) training install (pip install -e of the source tree): float and QAT weights" training_install

if [ $failed = 0 ] && [ -z "${PIPNET_EDGE_DEVICE_KEEP:-}" ]; then
    stage "remove the venvs (1 GB; PIPNET_EDGE_DEVICE_KEEP=1 keeps them, a failed run always does)" \
        rm -rf "$WORK/venv-a" "$WORK/venv-b" "$WORK/venv-c" "$WORK/src"
fi
echo "== stages"
printf '%s\n' "${STAGES[@]}"
printf 'device install check: %s in %.1f s (results: %s)\n' "$([ $failed = 0 ] && echo passed || echo FAILED)" \
    "$(awk -v a="$t_all" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" "$WORK/results"
exit $failed
