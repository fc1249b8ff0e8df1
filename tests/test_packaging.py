"""The device wheel carries what a device runs and nothing more: the INT8 models, the detectors, SHA256SUMS and the
licences, at most 12 MB, and no float or QAT weights (training and export only). The sdist and the git checkout keep
those weights, and a device install that asks for them is told how a training install gets them.

The wheel is built here from a copy of the working tree's files with ``--no-build-isolation`` (no index needed, a few
seconds); scripts/device_install_check.sh goes further (clean venvs, landmarks compared) and runs in CI.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from pipnet_edge.errors import ModelLoadError

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("_fp16.safetensors", "_qat.safetensors")


def _check_module():
    spec = importlib.util.spec_from_file_location("device_install_check", ROOT / "scripts" / "device_install_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory) -> Path:
    """The working tree's files (tracked and untracked, not ignored) in a fresh folder: no stale build/ output."""
    if importlib.util.find_spec("setuptools") is None:  # setuptools >= 70.1 builds wheels without the wheel package
        pytest.skip("building the wheel offline (--no-build-isolation) needs setuptools in this environment")
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the files to package are the ones git lists")
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=False)
    if listed.returncode != 0:
        pytest.skip(f"git ls-files failed: {listed.stderr.decode().strip()}")
    dst = tmp_path_factory.mktemp("src")
    for name in filter(None, listed.stdout.decode().split("\0")):
        src = ROOT / name
        if src.is_file():
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / name)
    return dst


@pytest.fixture(scope="module")
def wheel(source_copy, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source_copy), "--no-deps", "--no-build-isolation",
                          "--no-index", "-q", "-w", str(out)], capture_output=True, text=True, timeout=300, check=False)
    if run.returncode != 0:
        pytest.skip(f"pip wheel --no-build-isolation failed here (offline, no build backend?): {run.stderr[-500:]}")
    (path,) = out.glob("pipnet_edge-*.whl")
    return path


def test_device_wheel_carries_the_runtime_and_not_the_training_weights(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not [n for n in names if n.endswith(FORBIDDEN)], "float / QAT weights belong to a training install"
    assets = {n.removeprefix("pipnet_edge/assets/") for n in names if n.startswith("pipnet_edge/assets/")}
    for name in ("SHA256SUMS", "pipnet_mbv2_300w68_int8.tflite", "pipnet_lite_300w68_int8.tflite",
                 "detectors/yunet/face_detection_yunet_2023mar.onnx", "detectors/yunet/LICENSE",
                 "detectors/blazeface/LICENSE", "detectors/blazeface/face_detection_short_range.tflite",
                 "detectors/blazeface/face_detection_full_range_sparse.tflite",
                 "detectors/blazeface/face_detection_short_range_int8.tflite"):
        assert name in assets, f"{name} is missing from the device wheel"
    # every model file SHA256SUMS lists is in the wheel unless it is a training file
    listed = [line.split(maxsplit=1)[1].lstrip("*") for line in (ROOT / "pipnet_edge/assets/SHA256SUMS").read_text().splitlines()
              if line.strip()]
    assert [n for n in listed if n not in assets] == [n for n in listed if n.endswith(FORBIDDEN)]
    assert wheel.stat().st_size <= 12e6, f"the device wheel is {wheel.stat().st_size / 1e6:.2f} MB (at most 12 MB)"
    assert _check_module().wheel_problems(wheel) == []  # the rule scripts/device_install_check.sh applies


def test_sdist_keeps_the_float_and_qat_weights(source_copy, tmp_path):
    run = subprocess.run([sys.executable, "-c", f"import setuptools.build_meta as b; print(b.build_sdist({str(tmp_path)!r}))"],
                         cwd=source_copy, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    (sdist,) = tmp_path.glob("pipnet_edge-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = [n.split("/", 1)[1] for n in tar.getnames() if "/" in n]
    for card_stem in ("pipnet_mbv2_300w68", "pipnet_lite_300w68"):
        for suffix in FORBIDDEN + ("_int8.tflite",):
            assert f"pipnet_edge/assets/{card_stem}{suffix}" in names


def test_the_check_rule_refuses_training_weights_and_missing_models(tmp_path):
    check = _check_module()
    bad = tmp_path / "bad.whl"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("pipnet_edge/assets/pipnet_mbv2_300w68_fp16.safetensors", b"x")
    problems = check.wheel_problems(bad)
    assert any("training/export weights" in p for p in problems) and any("missing" in p for p in problems)


def test_the_device_check_pairs_faces_by_box_and_measures_their_points():
    check = _check_module()
    ref = [{"box": [0, 0, 100, 100], "points": [[10.0, 10.0]] * 68}, {"box": [200, 0, 300, 100], "points": [[250.0, 50.0]] * 68}]
    moved = [{"box": [201, 1, 301, 101], "points": [[252.0, 50.0]] * 68},
             {"box": [1, 0, 101, 100], "points": [[10.0, 10.5]] * 68}]
    got = check.compare_faces(moved, ref)  # order differs: paired by IoU
    assert (got["paired"], got["unpaired"], got["missed"]) == (2, 0, 0)
    assert got["mean_px"] == pytest.approx(1.25) and got["worst_face_mean_px"] == pytest.approx(2.0)
    extra = check.compare_faces(moved + [{"box": [500, 500, 550, 550], "points": [[0.0, 0.0]] * 68}], ref[:1])
    assert (extra["paired"], extra["unpaired"], extra["missed"]) == (1, 2, 0)


def test_a_device_install_is_told_where_the_float_weights_come_from(monkeypatch, tmp_path):
    from pipnet_edge.assets import registry

    monkeypatch.setattr(registry, "ASSETS_DIR", tmp_path)  # an install without the files
    card = registry.get_card("default")
    for role in ("fp16", "qat"):
        with pytest.raises(ModelLoadError, match="training install") as err:
            card.path(role)
        assert "scripts/setup.sh" in str(err.value) and "no download" in str(err.value)
    with pytest.raises(ModelLoadError, match="reinstall pipnet-edge"):
        card.path("int8")


def test_the_checkout_has_the_training_weights():
    from pipnet_edge.assets import CARDS

    if "site-packages" in str(Path(importlib.util.find_spec("pipnet_edge").origin)):
        pytest.skip("pipnet_edge is installed from a wheel here, not from the checkout")
    for card in CARDS.values():
        for role in ("fp16", "qat"):
            assert card.path(role).is_file()  # verified against SHA256SUMS
