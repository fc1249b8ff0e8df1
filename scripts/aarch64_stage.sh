#!/usr/bin/env bash
# aarch64 stage: run the torch-free tests and compare the runtime's landmarks with x86, in an
# emulated Debian bookworm arm64 userland (Python 3.11, as on Raspberry Pi OS) under qemu-user.
#
#   sudo scripts/aarch64_stage.sh [--rebuild]     (--rebuild: ignore the caches)
#
# Needs Linux x86_64, root (debootstrap, chroot, mounts), apt (qemu-user-static, debootstrap and
# binfmt-support are installed when missing), the x86 .venv of scripts/setup.sh (it exports the
# ONNX models and computes the reference), and a Debian mirror + PyPI on a cold build.
#
# The arm64 rootfs (~0.5 GB) is built once into $PIPNET_EDGE_CACHE, keyed by STAGE_VERSION, the
# Debian package list and scripts/aarch64-requirements.txt; the exported models too, keyed by
# the package's sources and the x86 venv. Caches unused for 7 days are removed.
#
# Environment:
#   PIPNET_EDGE_CACHE          cache folder (default /var/cache/pipnet-edge)
#   PIPNET_EDGE_QEMU_CPU       emulated CPU: cortex-a72 (Raspberry Pi 4, default) or cortex-a76 (Pi 5)
#   PIPNET_EDGE_SHARED         shared folder with data/300w/train (default: ../shared of the repo)
#   PIPNET_EDGE_DEBIAN_MIRROR  Debian mirror (default: the host's bookworm source, else deb.debian.org)
#   PYTHON                     x86 interpreter with pipnet-edge[all] (default: .venv/bin/python)
set -euo pipefail

STAGE_VERSION=1
SUITE=bookworm
DEB_INCLUDE=python3,python3-venv
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$REPO/scripts/aarch64_stage.sh"
REQS="$REPO/scripts/aarch64-requirements.txt"
CACHE=${PIPNET_EDGE_CACHE:-/var/cache/pipnet-edge}
QEMU_CPU=${PIPNET_EDGE_QEMU_CPU:-cortex-a72}
SHARED=${PIPNET_EDGE_SHARED:-$REPO/../shared}
PY=${PYTHON:-$REPO/.venv/bin/python}
# The torch-free tests: the modules marked pytest.mark.torch_free (no torch in the arm venv; tests/conftest.py
# collects only those there, and their few torch tests skip themselves).
TIMINGS=()

log() { echo "==> $*"; }
die() { echo "aarch64 stage: error: $*" >&2; exit 1; }

# Run a command with its output in LOGFILE; on failure show the log's tail and stop.
quiet() {
    local logfile=$1; shift
    if ! "$@" >"$logfile" 2>&1; then
        tail -n 40 "$logfile" >&2
        die "'$*' failed (full log: $logfile)"
    fi
}

# Time a step: timed NAME CMD...; the durations are printed in the summary.
timed() {
    local name=$1 t0=$SECONDS; shift
    "$@"
    TIMINGS+=("$(printf '%-26s %4d s' "$name" $((SECONDS - t0)))")
}

# ---------------------------------------------------------------------------- host setup

check_host() {
    [[ $(uname -s) == Linux ]] || die "needs Linux (qemu-user + binfmt_misc); see the README"
    [[ $(uname -m) == x86_64 ]] || die "emulates aarch64 on x86_64; on an arm64 machine run the tests natively"
    [[ $EUID -eq 0 ]] || die "needs root for debootstrap, chroot and mounts: sudo $0"
    [[ -x $PY ]] || die "no x86 interpreter at $PY: run scripts/setup.sh first (or set PYTHON)"
    case $QEMU_CPU in
        cortex-a72 | cortex-a76) ;;
        *) die "PIPNET_EDGE_QEMU_CPU must be cortex-a72 (Pi 4) or cortex-a76 (Pi 5), not '$QEMU_CPU' (qemu 7.2's default 'max' CPU gave wrong INT8 results)" ;;
    esac
}

ensure_host_packages() {
    local missing=()
    command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    command -v update-binfmts >/dev/null || missing+=(binfmt-support)
    [[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] || missing+=(debian-archive-keyring)
    [[ ${#missing[@]} -eq 0 ]] && return
    command -v apt-get >/dev/null || die "install ${missing[*]} with your package manager, then rerun"
    log "installing ${missing[*]}"
    quiet "$WORK/apt.log" apt-get update
    quiet "$WORK/apt.log" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

ensure_binfmt() {
    local dir=/proc/sys/fs/binfmt_misc
    if ! mountpoint -q "$dir"; then
        mount -t binfmt_misc binfmt_misc "$dir" ||
            die "cannot mount binfmt_misc at $dir (in a container? run on a VM or a host that allows it)"
    fi
    if ! grep -qx enabled "$dir/qemu-aarch64" 2>/dev/null; then
        update-binfmts --enable qemu-aarch64 || die "update-binfmts --enable qemu-aarch64 failed"
    fi
    # F (fix-binary): the kernel opens qemu at registration, so it runs inside the chroot too.
    grep -q '^flags:.*F' "$dir/qemu-aarch64" ||
        die "the qemu-aarch64 binfmt entry lacks the F flag ($(grep flags "$dir/qemu-aarch64")); reinstall qemu-user-static"
}

debian_mirror() {
    local mirror=${PIPNET_EDGE_DEBIAN_MIRROR:-}
    if [[ -z $mirror ]] && command -v apt-get >/dev/null; then
        # shellcheck disable=SC2016 # apt's own $(FIELD) syntax
        mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null | awk -v s="$SUITE" '$2 == s { print $1; exit }')
    fi
    echo "${mirror:-http://deb.debian.org/debian}"
}

# A Raspberry Pi's /proc/cpuinfo for the emulated CPU: qemu 7.2 shows the host's, and onnxruntime
# crashes on import when it reads an x86 cpuinfo on aarch64.
fake_cpuinfo() {
    local part variant revision features model n i
    if [[ $QEMU_CPU == cortex-a76 ]]; then
        part=0xd0b variant=0x4 revision=1 model="Raspberry Pi 5 Model B Rev 1.0"
        features="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp"
    else
        part=0xd08 variant=0x0 revision=3 model="Raspberry Pi 4 Model B Rev 1.4"
        features="fp asimd evtstrm crc32 cpuid"
    fi
    n=$(nproc)
    for ((i = 0; i < n; i++)); do
        printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: %s\nCPU part\t: %s\nCPU revision\t: %d\n\n' \
            "$i" "$features" "$variant" "$part" "$revision"
    done
    printf 'Model\t\t: %s\n' "$model"
}

# ---------------------------------------------------------------------------- the chroot

# in_chroot ROOTFS CMD...: run CMD in ROOTFS, in a private mount namespace (nothing leaks to the
# host, even when killed), with a clean environment and /tmp as cwd. Optional read-only mounts:
# $STAGE_SRC -> /src, $STAGE_MODELS -> /models, $STAGE_TRAIN -> /shared/data/300w/train (on a
# tmpfs /shared: without it the folder is absent and the tests that need it skip);
# writable: $STAGE_OUT -> /out.
in_chroot() {
    unshare --mount --propagation private -- bash "$SELF" --in-namespace "$@"
}

# The namespace side of in_chroot (the script re-runs itself under unshare).
namespace_main() {
    local root=$1; shift
    mount -t proc proc "$root/proc"
    mount --bind "$STAGE_CPUINFO" "$root/proc/cpuinfo"
    # XNNPACK and onnxruntime read the CPU list here; without it XNNPACK is silently skipped and
    # TFLite INT8 runs its builtin kernels, which round differently (not bit-exact with x86).
    mount -t sysfs -o ro sysfs "$root/sys"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs tmpfs "$root/tmp"
    mount -t tmpfs tmpfs "$root/shared"
    [[ -n ${STAGE_SRC:-} ]] && mount --bind -o ro "$STAGE_SRC" "$root/src"
    [[ -n ${STAGE_MODELS:-} ]] && mount --bind -o ro "$STAGE_MODELS" "$root/models"
    if [[ -n ${STAGE_TRAIN:-} ]]; then
        mkdir -p "$root/shared/data/300w/train"
        mount --bind -o ro "$STAGE_TRAIN" "$root/shared/data/300w/train"
    fi
    [[ -n ${STAGE_OUT:-} ]] && mount --bind "$STAGE_OUT" "$root/out"
    exec env -i HOME=/tmp TMPDIR=/tmp LANG=C.UTF-8 PATH=/opt/venv/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        QEMU_CPU="$QEMU_CPU" OPENBLAS_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=/src \
        PIPNET_EDGE_SHARED=/shared PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \
        chroot "$root" /bin/sh -c 'cd /tmp && exec "$@"' sh "$@"
}

# Pip's platform tags for the Debian bookworm arm64 userland (glibc 2.36).
wheel_platforms() {
    local v
    for v in 17 26 27 28 31 34 35 36; do echo --platform "manylinux_2_${v}_aarch64"; done
    echo --platform manylinux2014_aarch64 --platform linux_aarch64
}

# Build the rootfs into DEST.tmp and rename it to DEST when complete: a half-built one is never used.
build_rootfs() {
    local dest=$1 tmp=$1.tmp mirror
    mirror=$(debian_mirror)
    rm -rf --one-file-system "$tmp"
    mkdir -p "$tmp"
    log "debootstrap $SUITE arm64 from $mirror (a few minutes)"
    # In its own mount namespace: the mounts debootstrap makes never outlive it.
    quiet "$CACHE/debootstrap.log" unshare --mount --propagation private -- env QEMU_CPU="$QEMU_CPU" \
        debootstrap --arch=arm64 --variant=minbase --include="$DEB_INCLUDE" "$SUITE" "$tmp" "$mirror"
    mkdir -p "$tmp/src" "$tmp/models" "$tmp/out" "$tmp/shared" # in_chroot's mount points
    log "downloading the pinned aarch64 wheels (scripts/aarch64-requirements.txt)"
    mkdir -p "$tmp/opt/wheels"
    # shellcheck disable=SC2046
    quiet "$CACHE/pip-download.log" "$PY" -m pip download --no-deps --only-binary=:all: --dest "$tmp/opt/wheels" \
        $(wheel_platforms) --python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none -r "$REQS"
    cp "$REQS" "$tmp/opt/wheels/requirements.txt"
    log "installing them into /opt/venv under emulation"
    quiet "$CACHE/pip-install.log" in_chroot "$tmp" /bin/sh -c 'python3 -m venv /opt/venv &&
        /opt/venv/bin/pip install -q --no-index --find-links /opt/wheels -r /opt/wheels/requirements.txt &&
        /opt/venv/bin/pip check && /opt/venv/bin/python -c "import numpy, cv2, ai_edge_litert, onnxruntime" &&
        /opt/venv/bin/pip freeze > /opt/venv/pip-freeze.txt'
    rm -rf "$tmp/opt/wheels" "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*
    printf 'pipnet-edge aarch64 stage %s, %s arm64 from %s, built %s\n' "$STAGE_VERSION" "$SUITE" "$mirror" "$(date -u +%FT%TZ)" \
        >"$tmp/opt/venv/BUILD-INFO"
    mv -T "$tmp" "$dest"
}

# The cached rootfs for the current key (built when missing) in ROOTFS.
ensure_rootfs() {
    local key dest
    key=$({ echo "$STAGE_VERSION $SUITE $DEB_INCLUDE"; grep -v '^#' "$REQS"; } | sha256sum | cut -c1-16)
    dest="$CACHE/aarch64-$key"
    [[ -n $REBUILD ]] && rm -rf --one-file-system "$dest"
    if [[ -d $dest ]]; then
        log "reusing the arm64 rootfs $dest"
    else
        build_rootfs "$dest"
        log "built $dest ($(du -sh --one-file-system "$dest" | cut -f1))"
    fi
    touch "$dest"
    ROOTFS=$dest
}

# Exported ONNX models of the bundled model, cached by the package sources and the x86 venv.
ensure_models() {
    local key dest
    key=$({ echo "$STAGE_VERSION"; (cd "$REPO" && find pipnet_edge -type f ! -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum);
            "$PY" -m pip freeze 2>/dev/null; } | sha256sum | cut -c1-16)
    dest="$CACHE/exports-$key"
    [[ -n $REBUILD ]] && rm -rf "$dest"
    if [[ -d $dest ]]; then
        log "reusing the exported ONNX models $dest"
    else
        log "exporting the bundled model to onnx and onnx-int8 (x86)"
        rm -rf "$dest.tmp"
        quiet "$WORK/export.log" "$PY" -m pipnet_edge.export --target onnx onnx-int8 --out "$dest.tmp" --data none
        mv -T "$dest.tmp" "$dest"
    fi
    touch "$dest"
    MODELS=$dest
    ONNX=$(basename "$(find_one "$dest" '*_onnx.onnx')")
    ONNX_INT8=$(basename "$(find_one "$dest" '*_onnx-int8.onnx')")
}

find_one() {
    local found
    mapfile -t found < <(find "$1" -maxdepth 1 -name "$2")
    [[ ${#found[@]} -eq 1 ]] || die "expected one $2 in $1, found ${#found[@]}"
    echo "${found[0]}"
}

# Remove rootfs and export caches not used for 7 days (and interrupted builds).
prune_cache() {
    local old
    while IFS= read -r old; do
        log "removing the unused cache $old"
        rm -rf --one-file-system "$old"
    done < <(find "$CACHE" -mindepth 1 -maxdepth 1 -type d \( -name 'aarch64-*' -o -name 'exports-*' \) \
        \( -mtime +7 -o -name '*.tmp' \) -print)
}

# Builds, reuses and prunes the caches, one run at a time on this machine.
ensure_caches() {
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock 9
    timed "arm64 rootfs" ensure_rootfs
    timed "export onnx models (x86)" ensure_models
    prune_cache
    flock -u 9
}

# ---------------------------------------------------------------------------- the stage

# How many 300W training faces each model runs on (besides docs/astronaut.png): emulation is
# slow, float32 most (per face on cortex-a72: ~5 s onnx, ~3 s onnx-int8, ~2.5 s tflite-int8).
declare -A FACES=([tflite-int8]=12 [tflite-int8-lite]=12 [onnx]=4 [onnx-int8]=8)

# model_args DIR NAME...: aarch64_compare.py run's options for these models (files in DIR), one per line.
model_args() {
    local dir=$1 name; shift
    for name in "$@"; do
        case $name in
            tflite-int8) printf '%s\n' --model tflite-int8=default ;;
            tflite-int8-lite) printf '%s\n' --model tflite-int8-lite=lite ;;
            onnx) printf '%s\n' --model "onnx=$dir/$ONNX" ;;
            onnx-int8) printf '%s\n' --model "onnx-int8=$dir/$ONNX_INT8" ;;
        esac
        printf '%s\n' --faces-of "$name=${FACES[$name]}"
    done
}

# The bundled face detectors (YuNet through OpenCV, BlazeFace float and INT8 through LiteRT), each with the lite model
# behind it, on docs/astronaut.png and DETECTOR_FACES whole training crops.
DETECTORS=(--detector yunet --detector blazeface-short --detector blazeface-full --detector blazeface-short-int8 --detector-faces 4)

run_x86_reference() {
    local args
    log "runtime on x86 (the reference)"
    mapfile -t args < <(model_args "$MODELS" tflite-int8 tflite-int8-lite onnx onnx-int8)
    "$PY" "$REPO/scripts/aarch64_compare.py" run "${args[@]}" "${DETECTORS[@]}" --out "$WORK/x86.npz" ||
        die "the x86 reference run failed (see above)"
}

# arm_job NAME CMD...: CMD in the chroot, its output in $WORK/NAME.log, "status seconds" in $WORK/NAME.rc.
arm_job() {
    local name=$1 t0=$SECONDS rc=0; shift
    in_chroot "$ROOTFS" "$@" >"$WORK/$name.log" 2>&1 || rc=$?
    echo "$rc $((SECONDS - t0))" >"$WORK/$name.rc"
}

# The tests and the runtime runs on aarch64, in two parallel lanes (each emulated process uses one core).
run_arm() {
    local tflite_args onnx_args job rc secs lane_a
    mapfile -t tflite_args < <(model_args /models tflite-int8 tflite-int8-lite)
    mapfile -t onnx_args < <(model_args /models onnx onnx-int8)
    log "on aarch64 ($QEMU_CPU), two lanes in parallel: [torch-free tests, then tflite-int8 default + lite] [onnx + onnx-int8, then the face detectors]"
    {
        arm_job tests python -m pytest -q -p no:cacheprovider -m torch_free /src/tests
        arm_job tflite python /src/scripts/aarch64_compare.py run "${tflite_args[@]}" --out /out/arm-tflite.npz
    } &
    lane_a=$!
    arm_job onnx python /src/scripts/aarch64_compare.py run "${onnx_args[@]}" --out /out/arm-onnx.npz
    arm_job detectors python /src/scripts/aarch64_compare.py run "${DETECTORS[@]}" --out /out/arm-det.npz
    wait "$lane_a" || true
    ARM_FAILED=()
    for job in tests tflite onnx detectors; do
        read -r rc secs <"$WORK/$job.rc"
        log "aarch64 $job ($secs s)$([[ $rc -ne 0 ]] && echo ": FAILED, exit status $rc")"
        cat "$WORK/$job.log"
        [[ $rc -eq 0 ]] || ARM_FAILED+=("$job")
    done
    TESTS_RESULT=$(grep -qx '0 .*' "$WORK/tests.rc" && echo passed || echo FAILED)
}

# Keep the work folder (logs, recordings) when the stage fails.
cleanup() {
    if [[ $1 -eq 0 ]]; then
        rm -rf "$WORK"
    else
        echo "aarch64 stage: logs and recordings kept in $WORK" >&2
    fi
}

main() {
    local start=$SECONDS compare_rc=0
    check_host
    WORK=$(mktemp -d /tmp/pipnet-aarch64.XXXXXX)
    trap 'cleanup $?' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    fake_cpuinfo >"$WORK/cpuinfo"
    export STAGE_CPUINFO="$WORK/cpuinfo"
    timed "host packages + binfmt" ensure_host_packages
    ensure_binfmt
    ensure_caches
    timed "x86 reference" run_x86_reference
    export STAGE_SRC=$REPO STAGE_MODELS=$MODELS STAGE_OUT=$WORK
    [[ -d $SHARED/data/300w/train ]] && export STAGE_TRAIN=$SHARED/data/300w/train
    timed "aarch64 tests + runtime" run_arm
    log "aarch64 vs x86"
    if [[ " ${ARM_FAILED[*]} " =~ " tflite " || " ${ARM_FAILED[*]} " =~ " onnx " || " ${ARM_FAILED[*]} " =~ " detectors " ]]; then
        compare_rc=1
        echo "no comparison: the aarch64 runtime run failed (see above)"
    else
        "$PY" "$REPO/scripts/aarch64_compare.py" compare "$WORK/x86.npz" "$WORK/arm-tflite.npz" "$WORK/arm-onnx.npz" "$WORK/arm-det.npz" ||
            compare_rc=$?
    fi
    echo
    echo "aarch64 stage summary ($QEMU_CPU, rootfs $ROOTFS, $(du -sh --one-file-system "$ROOTFS" | cut -f1)):"
    printf '  %s\n' "${TIMINGS[@]}"
    printf '  %-26s %4d s\n' total $((SECONDS - start))
    echo "  torch-free tests: $TESTS_RESULT; landmark comparison: $([[ $compare_rc -eq 0 ]] && echo passed || echo FAILED)"
    [[ $TESTS_RESULT == passed && $compare_rc -eq 0 ]] || die "the aarch64 stage failed (see above)"
}

case ${1:-} in
    --in-namespace) shift; namespace_main "$@" ;;
    --rebuild) REBUILD=1 main ;;
    "") REBUILD="" main ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
    *) die "unknown argument '$1' (try --help)" ;;
esac
