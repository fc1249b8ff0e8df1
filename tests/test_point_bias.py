"""The measured per-landmark bias: carried by the spec, subtracted by the decode, measured so that it cancels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tiny import tiny_model

from pipnet_edge import ModelSpec, SpecError
from pipnet_edge.calibration.point_bias import calibrate_checkpoint, main, measure_point_bias, with_point_bias
from pipnet_edge.data.annotations import load_300w_folder
from pipnet_edge.data.targets import encode, to_dense
from pipnet_edge.errors import DataError
from pipnet_edge.evaluation import open_predictor
from pipnet_edge.evaluation.predictors import torch_predictor
from pipnet_edge.models.checkpoint import read_spec, save_model
from pipnet_edge.runtime.decode import DecodeTables, decode_heads


def _spec(map_size: int = 8) -> ModelSpec:
    mf = np.random.default_rng(1).uniform(0.15, 0.85, size=(68, 2))
    return ModelSpec.create("300w-68", mf, num_nb=10, input_size=32 * map_size)


def test_point_bias_round_trips_through_json_and_is_validated():
    spec = _spec()
    assert spec.point_bias is None and "point_bias" not in spec.to_dict()  # older readers see the same JSON
    bias = np.random.default_rng(0).normal(0, 0.003, (68, 2))
    biased = with_point_bias(spec, bias, faces=12, data="train/")
    back = ModelSpec.from_json(biased.to_json())
    assert back == biased and back != spec
    np.testing.assert_allclose(back.point_bias_array, bias, atol=1e-7)
    assert back.extra["point_bias_from"] == {"faces": 12, "data": "train/"}
    assert with_point_bias(biased, None).point_bias is None
    with pytest.raises(SpecError, match="shape"):
        spec.replace(point_bias=((0.0, 0.0),) * 5)
    with pytest.raises(SpecError, match="finite"):
        spec.replace(point_bias=((float("nan"), 0.0),) * 68)
    with pytest.raises(SpecError, match="shorter than the crop"):
        spec.replace(point_bias=((1.5, 0.0),) * 68)
    bad = biased.to_dict()
    bad["point_bias"] = "left"
    with pytest.raises(SpecError, match="point_bias"):
        ModelSpec.from_dict(bad)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_decode_subtracts_the_bias_from_merged_points_only(data):
    spec = _spec()
    pts = data.draw(arrays(np.float64, (68, 2), elements=st.floats(0.05, 0.95)))
    bias = data.draw(arrays(np.float64, (68, 2), elements=st.floats(-0.01, 0.01)))
    dense = to_dense(encode(pts + bias, spec.neighbor_array, spec.map_size), spec.map_size)
    heads = {k: np.ascontiguousarray(d[None].transpose(0, 2, 3, 1)) for k, d in
             zip(("score", "offset_x", "offset_y", "nb_x", "nb_y"), dense)}
    biased = DecodeTables.from_spec(with_point_bias(spec, bias))
    np.testing.assert_allclose(decode_heads(heads, biased).points[0], pts, atol=1e-5)
    # the plain argmax + offset output is another estimate, with its own bias: left as it is
    np.testing.assert_allclose(decode_heads(heads, biased, use_nrm=False).points[0], pts + bias, atol=1e-5)


def test_measured_bias_cancels_and_measures_the_same_again(synthetic_faces):
    torch.manual_seed(0)
    model = tiny_model(input_size=64)
    records = load_300w_folder(synthetic_faces)
    bias = measure_point_bias(torch_predictor(model, "tiny"), records)
    assert bias.shape == (68, 2) and np.abs(bias).max() > 1e-3  # a random model is biased
    model.spec = with_point_bias(model.spec, bias, len(records))
    corrected = torch_predictor(model, "tiny corrected")
    # measured with the correction applied, the bias is the same (it is added back) ...
    np.testing.assert_allclose(measure_point_bias(corrected, records), bias, atol=1e-6)
    # ... and the corrected points have no mean error left on these faces
    from pipnet_edge.evaluation.runner import read_face_crops
    from pipnet_edge.runtime import geometry

    crops, mats = read_face_crops(records, model.spec)
    pred = corrected.predict_crops(crops).points
    truth = np.stack([geometry.to_normalized(geometry.apply(m, r.points), 64) for m, r in zip(mats, records)])
    np.testing.assert_allclose((pred - truth).mean(0), 0, atol=1e-6)
    with pytest.raises(DataError, match="none"):
        measure_point_bias(corrected, [])


def test_calibrate_checkpoint_writes_a_copy_with_the_bias(synthetic_faces, tmp_path, capsys):
    model = tiny_model(input_size=64)
    src = save_model(model, tmp_path / "m.safetensors")
    out = tmp_path / "calibrated.safetensors"
    assert main(["--model", str(src), "--data", str(synthetic_faces), "--out", str(out)]) == 0
    assert "point bias" in capsys.readouterr().out
    spec = read_spec(out)
    assert read_spec(src).point_bias is None and spec.point_bias is not None
    assert spec.replace(point_bias=None, extra=model.spec.extra) == model.spec
    assert open_predictor(out).spec.point_bias == spec.point_bias  # the runtime path reads it
    with pytest.raises(DataError, match="safetensors"):
        calibrate_checkpoint(tmp_path / "m.onnx", load_300w_folder(synthetic_faces), tmp_path / "x")
    assert main(["--model", str(src), "--data", str(tmp_path / "missing"), "--out", str(out)]) == 2


class _Shifted:
    """A stand-in for a quantized model: ``base``'s points moved by one shift on bright crops and another on dim ones
    (the photo-dependent shift rounding gives a quantized model)."""

    def __init__(self, base, bright: tuple[float, float], dim: tuple[float, float]) -> None:
        self.base, self.spec, self.name = base, base.spec, "shifted"
        self.bright, self.dim = np.asarray(bright), np.asarray(dim)

    def predict_crops(self, crops, with_spread=False):
        import dataclasses

        out = self.base.predict_crops(crops, with_spread=with_spread)
        dim = crops.reshape(len(crops), -1).mean(1) < 80
        shift = np.where(dim[:, None, None], self.dim, self.bright)
        return dataclasses.replace(out, points=(out.points + shift).astype(out.points.dtype))


def test_quantized_point_bias_adds_the_shift_from_the_float_model_on_all_faces(synthetic_faces, tmp_path):
    """:func:`quantized_point_bias`: the float model's bias on the labelled faces plus the quantized model's mean shift
    from it over labelled and unlabelled faces (each set's shift reported); with no unlabelled faces, the quantized
    model's own bias; models of different points refused."""
    import cv2
    from conftest import make_synthetic_faces

    from pipnet_edge.calibration.point_bias import quantized_point_bias

    model = tiny_model(input_size=64)
    labelled = load_300w_folder(synthetic_faces)
    dim_dir = make_synthetic_faces(tmp_path / "dim", count=5, seed=3)
    for f in dim_dir.glob("*.jpg"):  # unlabelled photos of another kind: darker
        cv2.imwrite(str(f), (cv2.imread(str(f)) * 0.3).astype(np.uint8))
    unlabelled = load_300w_folder(dim_dir)
    ref = torch_predictor(model, "float")
    q = _Shifted(ref, bright=(-0.01, 0.002), dim=(-0.03, 0.0))
    own = measure_point_bias(q, labelled)
    bias, shift = quantized_point_bias(q, ref, labelled)
    np.testing.assert_allclose(bias, own, atol=1e-6)
    np.testing.assert_allclose(shift["shift_labelled"], (-0.01, 0.002), atol=1e-6)
    assert shift["shift_unlabelled"] is None
    bias, shift = quantized_point_bias(q, ref, labelled, unlabelled)
    n, m = len(labelled), len(unlabelled)
    expect = measure_point_bias(ref, labelled) + (n * np.array([-0.01, 0.002]) + m * np.array([-0.03, 0.0])) / (n + m)
    np.testing.assert_allclose(bias, expect, atol=1e-6)
    np.testing.assert_allclose(shift["shift_unlabelled"], (-0.03, 0.0), atol=1e-6)
    with pytest.raises(DataError, match="labelled faces"):
        quantized_point_bias(q, ref, [], unlabelled)
    other = torch_predictor(tiny_model(input_size=96), "other size")
    with pytest.raises(DataError, match="differ"):
        quantized_point_bias(q, other, labelled)


def test_point_bias_command_refuses_unlabelled_faces_without_the_float_model(synthetic_faces, tmp_path, capsys):
    src = save_model(tiny_model(input_size=64), tmp_path / "m.safetensors")
    out = tmp_path / "out.safetensors"
    assert main(["--model", str(src), "--data", str(synthetic_faces), "--five-point", "list.txt", "--out", str(out)]) == 2
    assert "pass --float" in capsys.readouterr().err
    assert main(["--model", str(src), "--float", str(src), "--data", str(synthetic_faces), "--five-point", "list.txt",
                 "--five-point-count", "0", "--out", str(out)]) == 2
    assert "--five-point-count must be at least 1" in capsys.readouterr().err
    with pytest.raises(DataError, match="--float"):
        calibrate_checkpoint(src, load_300w_folder(synthetic_faces), out, unlabelled=load_300w_folder(synthetic_faces))
    assert not out.exists()
