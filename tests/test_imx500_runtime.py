"""The Pi side of the imx500 target: the IMX500's output tensors, laid out as Picamera2's ``IMX500.get_outputs()``
returns them, to 68 points in the frame through the one decode (``pipnet_edge.runtime.imx500``).

The tensors are made from our own model's outputs: the bundled lite INT8 TFLite run on a crop of a docs/ portrait,
its heads laid out as the camera gives them (one ``(C, H, W)`` float array per head, in the network's output order,
each reshaped from the flat ``CnnOutputTensor`` in Fortran order as Picamera2 does), optionally rounded to the chip's
8-bit output scales (those imxconv-pt wrote into dnnParams.xml for the lite model). No torch, no Picamera2, no tools.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipnet_edge.errors import InputError, ModelLoadError
from pipnet_edge.runtime import Landmarker, geometry
from pipnet_edge.runtime.artifact import FORMAT, HEAD_NAMES
from pipnet_edge.runtime.imx500 import (
    SIDECAR_NAME,
    Imx500Landmarker,
    camera_heads,
    frame_to_sensor,
    read_imx500_metadata,
    roi_for_points,
    sensor_to_frame,
)
from pipnet_edge.runtime.preprocess import crop_regions

pytestmark = pytest.mark.torch_free  # runs without torch: the aarch64 stage selects it (-m torch_free)

ROOT = Path(__file__).resolve().parents[1]
# the 8-bit output scales imxconv-pt 3.19 gave the lite model's heads (dnnParams.xml): score / offsets 1/64, nb 1/32
CHIP_SCALES = {"score": 1 / 64, "offset_x": 1 / 64, "offset_y": 1 / 64, "nb_x": 1 / 32, "nb_y": 1 / 32}


@pytest.fixture(scope="module")
def lite():
    pytest.importorskip("ai_edge_litert", reason="the bundled TFLite runs on ai-edge-litert (pipnet-edge[tflite])")
    with Landmarker("lite") as lm:
        yield lm


@pytest.fixture
def sidecar(tmp_path, lite):
    """An export's sidecar as `--target imx500` writes it (the spec, the outputs' order and layout)."""
    folder = tmp_path / "pipnet_lite_300w68_imx500"
    folder.mkdir()
    doc = {"format": FORMAT, "spec": lite.spec.to_dict(),
           "export": {"target": "imx500", "precision": "int8", "output_layout": "CHW", "outputs": list(HEAD_NAMES)}}
    (folder / SIDECAR_NAME).write_text(json.dumps(doc))
    return folder


def get_outputs(heads_nhwc: dict[str, np.ndarray], add_batch: bool = False, quantize: bool = False) -> list[np.ndarray]:
    """What Picamera2's IMX500.get_outputs() returns for these heads: the chip streams each (C, H, W) output with C
    fastest (serializationOrder = ordinal in dnnParams.xml), libcamera concatenates them as floats, Picamera2 cuts the
    stream by CnnOutputTensorInfo's shapes and reshapes each in Fortran order."""
    chw = [heads_nhwc[n][0].transpose(2, 0, 1) for n in HEAD_NAMES]
    if quantize:
        chw = [np.clip(np.round(a / CHIP_SCALES[n]), -128, 127) * CHIP_SCALES[n] for n, a in zip(HEAD_NAMES, chw)]
    stream = np.concatenate([a.ravel(order="F") for a in chw]).astype(np.float32)  # metadata["CnnOutputTensor"]
    shapes = [a.shape for a in chw]  # metadata["CnnOutputTensorInfo"]
    out, offset = [], 0
    for shape in shapes:  # Picamera2's get_outputs
        size = int(np.prod(shape))
        t = stream[offset:offset + size].reshape(shape, order="F")
        out.append(np.expand_dims(t, 0) if add_batch else t)
        offset += size
    return out


def _face_roi(lite):
    img = cv2.cvtColor(cv2.imread(str(ROOT / "docs" / "grace_hopper.jpg")), cv2.COLOR_BGR2RGB)
    face = lite.detect(img)[0]
    return img, roi_for_points(face.points, lite.spec, bounds=(img.shape[1], img.shape[0]))


def _roi_crop(img, roi, size):
    """The crop the camera makes of an ROI (left, top, width, height), by the runtime's crop code: the region whose
    edges are the ROI's outer pixel edges (pixel centres at integers)."""
    left, top, w, h = roi
    assert w == h
    region = np.array([[left - 0.5 + w / 2, top - 0.5 + h / 2, w, 0.0]])
    crops, mats = crop_regions(img, region, size)
    return crops, mats


@pytest.mark.parametrize("add_batch", [False, True])
def test_camera_outputs_decode_to_the_landmarkers_points(lite, sidecar, add_batch):
    img, roi = _face_roi(lite)
    crops, mats = _roi_crop(img, roi, lite.spec.input_size)
    heads = lite.backend.run(crops)  # our own model's outputs on that crop
    expected = lite.predict_crops(crops)
    want = geometry.apply(geometry.invert(mats[0]), geometry.from_normalized(expected.points[0], lite.spec.input_size))

    camera = get_outputs(heads, add_batch=add_batch)
    assert [a.shape for a in camera] == [((1,) if add_batch else ()) + (c, 7, 7) for c in (68, 68, 68, 340, 340)]
    result = Imx500Landmarker(sidecar / "packerOut.zip").detect(camera, roi)  # the sidecar found beside packerOut.zip
    assert len(result) == 1
    face = result[0]
    assert face.points.shape == (68, 2) and face.points.dtype == np.float32
    np.testing.assert_allclose(face.points, want, atol=1e-3)
    np.testing.assert_allclose(face.point_scores, expected.scores[0], atol=1e-6)
    assert face.score == pytest.approx(float(expected.scores[0].mean()), abs=1e-6)
    np.testing.assert_allclose(face.box, [roi[0], roi[1], roi[0] + roi[2], roi[1] + roi[3]])


def test_the_chips_8_bit_outputs_move_the_points_little(lite, sidecar):
    img, roi = _face_roi(lite)
    crops, _ = _roi_crop(img, roi, lite.spec.input_size)
    heads = lite.backend.run(crops)
    exact = Imx500Landmarker(sidecar).detect(get_outputs(heads), roi)[0].points
    rounded = Imx500Landmarker(sidecar).detect(get_outputs(heads, quantize=True), roi)[0].points
    shift = np.linalg.norm(rounded - exact, axis=1)
    side = roi[2]
    assert shift.mean() < 0.005 * side  # the output rounding alone: well under a pixel of the 112-px input


def test_a_stretched_roi_maps_each_axis_back(lite, sidecar):
    """The chip scales any ROI to the square input; a wider-than-tall ROI must map x and y back separately."""
    img, roi = _face_roi(lite)
    crops, _ = _roi_crop(img, roi, lite.spec.input_size)
    heads = lite.backend.run(crops)
    lm = Imx500Landmarker(sidecar, min_face_presence=None)
    square = lm.detect(get_outputs(heads), (0, 0, 112, 112))[0].points
    wide = lm.detect(get_outputs(heads), (10, 20, 224, 112))[0].points
    np.testing.assert_allclose(wide[:, 0], 10 + (square[:, 0] + 0.5) * 2 - 0.5, atol=1e-3)
    np.testing.assert_allclose(wide[:, 1], 20 + square[:, 1], atol=1e-3)


def test_a_non_face_roi_is_dropped_by_the_presence_score(lite, sidecar):
    img = cv2.cvtColor(cv2.imread(str(ROOT / "tests" / "data" / "coffee_not_a_face.jpg")), cv2.COLOR_BGR2RGB)
    roi = (0, 0, min(img.shape[:2]), min(img.shape[:2]))
    heads = lite.backend.run(_roi_crop(img, roi, 112)[0])
    assert len(Imx500Landmarker(sidecar).detect(get_outputs(heads), roi)) == 0  # "auto": the lite model's 0.44
    kept = Imx500Landmarker(sidecar, min_face_presence=None).detect(get_outputs(heads), roi)
    assert len(kept) == 1 and kept[0].score < 0.44


def test_outputs_of_the_wrong_count_or_shape_are_refused(lite, sidecar):
    lm = Imx500Landmarker(sidecar)
    img, roi = _face_roi(lite)
    heads = lite.backend.run(_roi_crop(img, roi, 112)[0])
    outs = get_outputs(heads)
    with pytest.raises(InputError, match="5 output tensors"):
        lm.detect(outs[:4], roi)
    with pytest.raises(InputError, match=r"'nb_x' must have shape \(340, 7, 7\)"):
        lm.detect(outs[:3] + [outs[3].transpose(1, 2, 0)] + outs[4:], roi)  # channels last: not the camera's layout
    with pytest.raises(InputError, match="positive size"):
        lm.detect(outs, (0, 0, 0, 112))
    by_name = camera_heads(dict(zip(HEAD_NAMES, outs)), lm.spec)  # a dict by head name works too
    assert by_name["score"].shape == (1, 7, 7, 68)


def test_sidecar_lookup_and_its_error(tmp_path, sidecar):
    for where in (sidecar, sidecar / SIDECAR_NAME, sidecar / "packerOut.zip", sidecar / "network.rpk"):
        assert read_imx500_metadata(where).target == "imx500"
    with pytest.raises(ModelLoadError, match=f"no {SIDECAR_NAME} at .*copy the one"):
        read_imx500_metadata(tmp_path / "elsewhere" / "network.rpk")


def test_roi_helpers():
    scaler_crop, frame = (0, 0, 4056, 3040), (2028, 1520)  # main stream at half the sensor's resolution
    assert frame_to_sensor((100, 50, 200, 200), scaler_crop, frame) == (200, 100, 400, 400)
    assert sensor_to_frame((200, 100, 400, 400), scaler_crop, frame) == (100, 50, 200, 200)
    crop = (508, 380, 3040, 2280)  # a zoomed ScalerCrop
    back = sensor_to_frame(frame_to_sensor((640, 480, 320, 320), crop, (1280, 960)), crop, (1280, 960))
    np.testing.assert_allclose(back, (640, 480, 320, 320), atol=1.0)


def test_roi_for_points_is_the_models_crop_clipped(lite):
    pts = np.array([[100.0, 100.0], [200.0, 100.0], [150.0, 220.0]])
    left, top, w, h = roi_for_points(pts, lite.spec)
    assert w == h and w >= 120  # a square at least the points' extent, by the 300W crop rule
    assert left < 100 and top < 100 and left + w > 200 and top + h > 220
    clipped = roi_for_points(pts, lite.spec, bounds=(210, 230))
    assert clipped == (max(0, left), max(0, top), min(210, left + w) - max(0, left), min(230, top + h) - max(0, top))
