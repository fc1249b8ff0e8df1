"""Golden points: each bundled model on its shipped runtime (full-INT8 TFLite on ai-edge-litert), pinned on the
public-domain photos in ``docs/``, and a Landmarker closed by another thread mid-call. Torch-free (the aarch64 stage
runs it).

The faces are cropped from fixed boxes (``tests/golden/bundled_points.json``), so only the model, the runtime and the
decode are pinned, not the detector. A point that moves by more than :data:`TOLERANCE_PX` fails: a changed model,
quantization, kernel or decode that shifts one landmark by half a pixel is caught (XNNPACK's INT8 kernels are
bit-exact across x86 and aarch64, see the aarch64 stage, so the recorded points are exact up to float rounding in the
decode and the warp back to the photo).

After a deliberate change (a re-bundled model), regenerate and review the diff::

    PIPNET_EDGE_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from pipnet_edge.assets import ASSETS_DIR, BUNDLED_MODELS
from pipnet_edge.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden" / "bundled_points.json"
TOLERANCE_PX = 0.25
PHOTOS = ("astronaut.png", "grace_hopper.jpg")
MODELS = ("default", "lite")

pytestmark = [pytest.mark.torch_free, pytest.mark.skipif(not (ASSETS_DIR / BUNDLED_MODELS["default"]).exists(), reason="no bundled model here")]


def _has_tflite() -> bool:
    try:
        from pipnet_edge.runtime.backends.tflite import import_interpreter

        import_interpreter()
        return True
    except Exception:
        return False


needs_tflite = pytest.mark.skipif(not _has_tflite(), reason="no TFLite interpreter (pip install ai-edge-litert)")


def _rgb(name: str) -> np.ndarray:
    import cv2

    return np.ascontiguousarray(cv2.cvtColor(cv2.imread(str(ROOT / "docs" / name)), cv2.COLOR_BGR2RGB))


def _points(model: str, photo: str, box) -> np.ndarray:
    from pipnet_edge.runtime import Landmarker

    with Landmarker(model) as lm:
        faces = lm.detect(_rgb(photo), boxes=np.asarray([box], np.float32))
    return faces[0].points


def _golden() -> dict:
    if os.environ.get("PIPNET_EDGE_UPDATE_GOLDEN"):
        from pipnet_edge.runtime import Landmarker

        doc: dict = {"what": "68 points (photo pixels) of each bundled model from a fixed box per photo", "models": {}}
        with Landmarker() as lm:  # the boxes: the default detector's, rounded to whole pixels, fixed from now on
            boxes = {p: [float(round(v)) for v in lm.detect(_rgb(p))[0].box] for p in PHOTOS}
        for model in MODELS:
            doc["models"][model] = {
                p: {"box": boxes[p], "points": np.round(_points(model, p, boxes[p]).astype(np.float64), 3).tolist()}
                for p in PHOTOS}
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(doc, separators=(",", ":")).replace("]],", "]],\n") + "\n")
    return json.loads(GOLDEN.read_text())


@needs_tflite
@pytest.mark.parametrize("photo", PHOTOS)
@pytest.mark.parametrize("model", MODELS)
def test_bundled_model_points_are_golden(model, photo):
    ref = _golden()["models"][model][photo]
    got = _points(model, photo, ref["box"])
    d = np.linalg.norm(got - np.asarray(ref["points"]), axis=1)
    worst = int(np.argmax(d))
    assert d.max() <= TOLERANCE_PX, (f"{model} on {photo}: landmark {worst} moved {d[worst]:.3f} px "
                                     f"(mean {d.mean():.3f} px); regenerate only after a deliberate change (module doc)")


@needs_tflite
def test_golden_tolerance_catches_half_a_pixel():
    """The check above fails when a single landmark moves by 0.5 px (so it cannot pass on everything)."""
    ref = np.asarray(_golden()["models"]["lite"]["astronaut.png"]["points"])
    moved = ref.copy()
    moved[30] += [0.5 * np.cos(1.0), 0.5 * np.sin(1.0)]
    assert np.linalg.norm(moved - ref, axis=1).max() > TOLERANCE_PX


@needs_tflite
def test_close_from_another_thread_during_predict_crops():
    """``predict_crops`` in a loop while another thread closes the Landmarker: every call returns points or raises
    ``InputError`` (closed), never an ``AttributeError`` from a backend pulled out from under it."""
    from pipnet_edge.runtime import Landmarker

    lm = Landmarker("lite")
    s = lm.spec.input_size
    crops = np.random.default_rng(0).integers(0, 255, (4, s, s, 3), dtype=np.uint8)
    errors: list[BaseException] = []
    done = {"ok": 0, "closed": 0}
    started = threading.Event()

    def work():
        for _ in range(400):
            try:
                lm.predict_crops(crops)
                done["ok"] += 1
                started.set()
            except InputError:
                done["closed"] += 1
            except BaseException as exc:  # noqa: BLE001 - the test is about which exception
                errors.append(exc)
                return

    t = threading.Thread(target=work)
    t.start()
    started.wait(10)
    lm.close()
    t.join(60)
    assert not errors, errors
    assert done["ok"] > 0 and done["closed"] > 0, done
    with pytest.raises(InputError, match="closed"):
        lm.predict_crops(crops)


@needs_tflite
def test_backend_close_releases_and_refuses():
    from pipnet_edge.runtime import Landmarker

    lm = Landmarker("lite")
    backend = lm.backend
    lm.close()
    assert backend.closed and backend.interpreter is None and backend.runner is None
    with pytest.raises(InputError, match="closed"):
        backend.run(np.zeros((1, lm.spec.input_size, lm.spec.input_size, 3), np.uint8))
    backend.close()  # idempotent


def test_every_bundled_model_file_is_in_the_manifest_and_verified(tmp_path):
    """``SHA256SUMS`` lists every model file of the package; a corrupted copy of one is refused, not run."""
    from pipnet_edge.assets import ASSETS_DIR, MODEL_SUFFIXES, _manifest, verify_asset
    from pipnet_edge.errors import ModelLoadError

    files = sorted(p.relative_to(ASSETS_DIR).as_posix() for p in ASSETS_DIR.rglob("*") if p.suffix in MODEL_SUFFIXES)
    assert sorted(_manifest()) == files, "run pipnet_edge.assets.write_manifest() after replacing a bundled file"
    for name in files:
        verify_asset(ASSETS_DIR / name)
    name = "pipnet_lite_300w68_int8.tflite"
    data = bytearray((ASSETS_DIR / name).read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit
    bad = tmp_path / name
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="corrupted"):
        verify_asset(bad, name)
    bad.write_bytes(bytes(data[: len(data) // 2]))  # truncated
    with pytest.raises(ModelLoadError, match="corrupted"):
        verify_asset(bad, name)
