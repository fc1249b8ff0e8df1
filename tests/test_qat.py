"""QAT: the fake-quant model tracks its float model, trains, converts, and round trips."""

from __future__ import annotations

import pytest
import torch

from pipnet_edge.models.edge import EdgePIPNet, nhwc_to_nchw
from pipnet_edge.models.normalization import normalize_batch

pytest.importorskip("litert_torch")
pytest.importorskip("torchao")


from tiny import tiny_model as _float_model  # noqa: E402


def test_folded_normalization_is_exact_away_from_padding():
    import copy

    from pipnet_edge.models.edge import first_conv

    model = _float_model()
    pixels = (torch.rand(2, 64, 64, 3) * 255).to(torch.uint8)
    with torch.no_grad():
        ref = model(normalize_batch(pixels, model.spec, channels_last=False))
        plain = nhwc_to_nchw(EdgePIPNet(model, fold_normalization=False)(pixels.float()))
    for r, p in zip(ref, plain):
        torch.testing.assert_close(p, r, rtol=1e-4, atol=1e-4 * float(r.abs().max()))
    # the fold only changes what the first conv's zero padding stands for: without padding it is exact
    unpadded = copy.deepcopy(model)
    first_conv(unpadded).padding = (0, 0)
    with torch.no_grad():
        a = nhwc_to_nchw(EdgePIPNet(unpadded, fold_normalization=True)(pixels.float()))
        b = nhwc_to_nchw(EdgePIPNet(unpadded, fold_normalization=False)(pixels.float()))
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-4 * float(y.abs().max()))


def test_litert_qat_patch_is_needed_and_works():
    from pipnet_edge.quantization import quantizer as qat

    qat.patch_litert_qat()
    qat.patch_litert_qat()  # idempotent
    import litert_torch.quantize.pt2e_quantizer_utils as utils

    assert getattr(utils._get_aten_graph_module_for_pattern, "_pipnet_edge_patch", False)


def test_qat_prepare_calibrate_round_trip_and_convert(tmp_path):
    from pipnet_edge.quantization import QATModel

    model = _float_model()
    qm = QATModel.prepare(model)
    pixels = torch.rand(4, 64, 64, 3) * 255
    qm.calibrate([torch.rand(4, 64, 64, 3) * 255 for _ in range(3)])
    with torch.no_grad():
        fq = qm(pixels)
        ref = nhwc_to_nchw(EdgePIPNet(model, fold_normalization=True)(pixels))
    for a, r in zip(fq, ref):
        assert a.shape == r.shape
        assert not torch.equal(a, r), "fake quantization must change the values"
        assert float((a - r).abs().mean()) < 0.03 * float(r.abs().max()), "fake-quant must track the float model"
    # fake quantization snaps activations to an int8 grid: few distinct values per output channel
    assert fq[0][:, 0].unique().numel() <= 256

    path = qm.save(tmp_path / "qat.safetensors")
    again = QATModel.load(path)
    with torch.no_grad():
        for a, b in zip(fq, again(pixels)):
            torch.testing.assert_close(a, b)

    converted = qm.convert()
    with torch.no_grad():
        out = nhwc_to_nchw(converted(pixels))
    for a, b in zip(out, fq):
        lsb = float(b.abs().max()) / 127
        # same grids (export_grid_weights); only BN re-folded in another float order moves a value across a rounding edge
        assert float((a - b).abs().mean()) <= 0.1 * lsb, "converted Q/DQ graph must match the fake-quant model"
        assert float((a - b).abs().max()) <= 4 * lsb


def _one_signed_channels(model) -> None:
    """Give the model weight channels whose weights all have one sign, and one of tiny weights (the cases where
    torch's fused fake-quant kernel's grid is not the exported one)."""
    from pipnet_edge.models.edge import first_conv

    with torch.no_grad():
        convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
        first_conv(model).weight[0].abs_()
        convs[1].weight[0].abs_().neg_()
        convs[2].weight[1].mul_(1e-4)


def test_fake_quant_grids_are_the_exported_grids(tmp_path):
    """QAT trains on the grid the export writes: every fake-quantizer's (scale, zero point) is its observer's, the weights'
    symmetric (zero point 0) also on one-signed channels, and the converted Q/DQ graph reproduces the fake-quant model."""
    from torchao.quantization.pt2e.fake_quantize import FakeQuantize, FusedMovingAvgObsFakeQuantize
    from torchao.quantization.pt2e.observer import MovingAveragePerChannelMinMaxObserver

    from pipnet_edge.quantization import QATModel
    from pipnet_edge.quantization.ranges import quantizer_groups

    model = _float_model()
    _one_signed_channels(model)
    qm = QATModel.prepare(model)
    qm.train_mode()
    with torch.no_grad():
        for _ in range(2):
            qm(torch.rand(4, 64, 64, 3) * 255)
    qm.eval()
    groups = quantizer_groups(qm.graph)
    for g, names in groups.items():
        for t in names:
            fq = qm.graph.get_submodule(t)
            scale, zp = fq.calculate_qparams()
            torch.testing.assert_close(fq.scale, scale, rtol=1e-6, atol=0, msg=f"{g} {t}: scale is not the export's")
            assert torch.equal(fq.zero_point, zp.to(fq.zero_point.dtype)), f"{g} {t}: zero point is not the export's"
            if g == "weights":
                assert type(fq) is FakeQuantize and not fq.zero_point.any()
    # why: torch's fused kernel gives a one-signed channel an asymmetric grid no int8 per-channel weight can have
    fused = FusedMovingAvgObsFakeQuantize(observer=MovingAveragePerChannelMinMaxObserver, quant_min=-127, quant_max=127,
                                          qscheme=torch.per_channel_symmetric, ch_axis=0, dtype=torch.int8)
    fused(torch.stack([torch.rand(9) + 0.1, torch.rand(9) - 0.5]))
    assert fused.zero_point[0] != 0, "torch's fused kernel now keeps one-signed channels symmetric: see export_grid_weights"

    pixels = torch.rand(4, 64, 64, 3) * 255
    with torch.no_grad():
        fq_out = qm(pixels)
        out = nhwc_to_nchw(qm.convert()(pixels))
    for a, b in zip(out, fq_out):
        lsb = float(b.abs().max()) / 127
        assert float((a - b).abs().mean()) <= 0.1 * lsb

    # a file written with other weight grids (the fused kernel's, pipnet-edge <= 0.1.0) loads on the exported ones
    first = qm.graph.get_submodule(groups["weights"][0])
    first.scale.mul_(0.5)
    first.zero_point.fill_(127)
    again = QATModel.load(qm.save(tmp_path / "old-grids.safetensors"))
    with torch.no_grad():
        for a, b in zip(again(pixels), fq_out):
            torch.testing.assert_close(a, b)


@pytest.mark.parametrize("qat", [True, False])
def test_relu6_is_fused_into_the_convolution_before_it(qat):
    """With the "relu6" scheme each conv(+BN) + ReLU6 has ONE activation grid, on ReLU6's output: after
    calibration its range starts at 0 (the "shared" scheme's grid also spans the negative conv outputs)."""
    from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e, prepare_qat_pt2e

    from pipnet_edge.quantization.quantizer import capture, fuse_relu6_annotations, make_quantizer

    model = _float_model().eval()
    ranges = {}
    for scheme in ("shared", "relu6"):
        gm = capture(model, train=qat)
        gm = (prepare_qat_pt2e if qat else prepare_pt2e)(gm, make_quantizer(qat=qat, scheme=scheme))
        with torch.no_grad():
            gm(torch.rand(4, 64, 64, 3) * 255)
        observers = [m for m in gm.modules() if hasattr(m, "min_val") and m.min_val.numel() == 1]
        ranges[scheme] = sorted(float(m.min_val) for m in observers)
    # the five backbone blocks: "shared" observes conv outputs (negative minima), "relu6" ReLU6 outputs (>= 0)
    assert sum(v < -1e-6 for v in ranges["shared"]) > sum(v < -1e-6 for v in ranges["relu6"])
    gm = capture(model, train=qat)
    make_quantizer(qat=qat, scheme="relu6").annotate(gm)  # annotate() runs the fusion once ...
    assert fuse_relu6_annotations(gm) == 0  # ... so a second pass finds nothing left to fuse


def test_qat_file_records_its_scheme_and_old_files_load_as_shared(tmp_path):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from pipnet_edge.quantization import QATModel

    qm = QATModel.prepare(_float_model())
    assert qm.scheme == "relu6"
    path = qm.save(tmp_path / "q.safetensors")
    assert QATModel.load(path).scheme == "relu6"
    legacy = QATModel.prepare(_float_model(), scheme="shared")
    old = legacy.save(tmp_path / "old.safetensors")
    with safe_open(str(old), framework="pt") as f:
        meta = {k: v for k, v in (f.metadata() or {}).items() if k != "activation_scheme"}
    save_file(load_file(str(old)), str(old), metadata=meta)  # as written before the scheme was recorded
    assert QATModel.load(old).scheme == "shared"


def test_qat_fine_tuning_distils_from_its_float_model(synthetic_faces, tmp_path):
    """``--qat --teacher F``: the fake-quantized student learns the float model's outputs as well as the labels."""
    import json

    from pipnet_edge.errors import SpecError
    from pipnet_edge.quantization.qat_model import is_qat_file
    from pipnet_edge.training import TrainConfig, train

    quick = dict(backbone="mobilenet_v3_small", input_size=64, batch_size=4, progress=False, threads=1, epochs=1, max_steps=1)
    float_path = train(TrainConfig(data=str(synthetic_faces), out=str(tmp_path / "f"), **quick))
    qat_path = train(TrainConfig(data=str(synthetic_faces), out=str(tmp_path / "q"), init=str(float_path), qat=True,
                                 teacher=str(float_path), lr=1e-5, point_bias=False, **quick))
    assert is_qat_file(qat_path)
    hist = [json.loads(line) for line in (tmp_path / "q" / "history.jsonl").read_text().splitlines()]
    assert hist[-1]["kd_score"] >= 0.0 and hist[-1]["kd_offset"] > 0.0  # the distillation term was computed
    with pytest.raises(SpecError, match="QAT checkpoint; distil from a float model"):
        train(TrainConfig(data=str(synthetic_faces), out=str(tmp_path / "bad"), init=str(float_path), qat=True,
                          teacher=str(qat_path), **quick))


def test_activation_ranges_reestimated_as_the_mean_of_per_face_extremes(tmp_path):
    """``quantization.ranges``: each activation quantizer's range becomes the mean of the faces' own min / max (the
    input quantizer's: of the crops' pixel extremes, computable without the model); weights and their quantizers stay."""
    import numpy as np

    from pipnet_edge.errors import DataError
    from pipnet_edge.quantization import QATModel
    from pipnet_edge.quantization.ranges import QUANTIZER_GROUPS, quantizer_groups, reestimate_activation_ranges

    qm = QATModel.prepare(_float_model())
    qm.calibrate([torch.rand(4, 64, 64, 3) * 255 for _ in range(2)])
    groups = quantizer_groups(qm.graph)
    assert set(groups) == set(QUANTIZER_GROUPS) and len(groups["input"]) == 1 and groups["weights"] and groups["relu6"]
    weights = {k: v.clone() for k, v in qm.graph.state_dict().items() if "weight" in k}
    w_fq = qm.graph.get_submodule(groups["weights"][0])
    w_scale = w_fq.scale.clone()
    rng = np.random.default_rng(0)
    crops = [rng.uniform(lo, hi, (64, 64, 3)).astype(np.float32) for lo, hi in ((10, 200), (30, 250), (0, 120))]
    n = reestimate_activation_ranges(qm, crops)
    assert n == sum(len(v) for g, v in groups.items() if g != "weights")
    obs = qm.graph.get_submodule(groups["input"][0]).activation_post_process
    assert float(obs.min_val) == pytest.approx(np.mean([c.min() for c in crops]), rel=1e-5)
    assert float(obs.max_val) == pytest.approx(np.mean([c.max() for c in crops]), rel=1e-5)
    fq_in = qm.graph.get_submodule(groups["input"][0])
    assert float(fq_in.scale) == pytest.approx((float(obs.max_val) - min(0.0, float(obs.min_val))) / 255, rel=1e-3)
    for k, v in qm.graph.state_dict().items():
        if k in weights:
            torch.testing.assert_close(v, weights[k])
    torch.testing.assert_close(w_fq.scale, w_scale)
    assert not fq_in.observer_enabled.item()  # frozen again: running the model does not move the ranges
    before = fq_in.scale.clone()
    qm(torch.rand(2, 64, 64, 3) * 255)
    torch.testing.assert_close(fq_in.scale, before)
    with pytest.raises(DataError, match="no face crops"):
        reestimate_activation_ranges(qm, [])
    torch.testing.assert_close(fq_in.scale, before)  # a refused call leaves the ranges as they were


def test_activation_ranges_on_labelled_and_extra_faces(tmp_path):
    """``calibration.activation_ranges.reestimate_checkpoint`` with extra (in-the-wild) faces: the labelled faces it
    draws are the same with or without them, the extra ones are drawn after them, and the ranges are the mean over
    all drawn faces (the input quantizer's: of the crops' pixel extremes); bad counts are refused by name."""
    import cv2
    import numpy as np
    from conftest import make_synthetic_faces

    from pipnet_edge.calibration.activation_ranges import reestimate_checkpoint
    from pipnet_edge.data.annotations import load_faces
    from pipnet_edge.errors import DataError
    from pipnet_edge.evaluation.runner import read_face_crops
    from pipnet_edge.quantization import QATModel
    from pipnet_edge.quantization.ranges import quantizer_groups

    qm = QATModel.prepare(_float_model())
    qm.calibrate([torch.rand(4, 64, 64, 3) * 255 for _ in range(2)])
    qat = qm.save(tmp_path / "qat.safetensors")
    labelled = load_faces(make_synthetic_faces(tmp_path / "labelled", count=6))
    extra_dir = make_synthetic_faces(tmp_path / "extra", count=5, seed=1)
    for k, f in enumerate(sorted(extra_dir.glob("*.jpg"))):  # dim photos: their crops' extremes differ per face
        cv2.imwrite(str(f), (cv2.imread(str(f)) * (0.2 + 0.1 * k)).astype(np.uint8))
    extra = load_faces(extra_dir)

    def input_range(path):
        m = QATModel.load(path)
        obs = m.graph.get_submodule(quantizer_groups(m.graph)["input"][0]).activation_post_process
        return float(obs.min_val), float(obs.max_val)

    assert reestimate_checkpoint(qat, labelled, tmp_path / "a.safetensors", count=3, seed=4) == 3
    assert reestimate_checkpoint(qat, labelled, tmp_path / "b.safetensors", count=3, seed=4, extra=extra,
                                 extra_count=2) == 5
    rng = np.random.default_rng(4)
    pick = [labelled[i] for i in sorted(rng.choice(6, 3, replace=False))]
    more = [extra[i] for i in sorted(rng.choice(5, 2, replace=False))]
    spec = QATModel.load(qat).spec
    for out, faces in (("a", pick), ("b", pick + more)):
        crops, _ = read_face_crops(faces, spec)
        lo, hi = input_range(tmp_path / f"{out}.safetensors")
        assert lo == pytest.approx(np.mean([c.min() for c in crops]), rel=1e-5, abs=1e-4)
        assert hi == pytest.approx(np.mean([c.max() for c in crops]), rel=1e-5)
    assert input_range(tmp_path / "a.safetensors")[1] > input_range(tmp_path / "b.safetensors")[1] + 1  # dim faces count
    with pytest.raises(DataError, match="--five-point-count must be at least 0"):
        reestimate_checkpoint(qat, labelled, tmp_path / "c.safetensors", extra=extra, extra_count=-1)
    with pytest.raises(DataError, match="none given"):
        reestimate_checkpoint(qat, labelled, tmp_path / "c.safetensors", extra_count=2)
    assert not (tmp_path / "c.safetensors").exists()


def test_range_estimation_refuses_float_checkpoints(tmp_path, capsys):
    """``python -m pipnet_edge.calibration.activation_ranges`` on a float model: a message naming the problem, exit 2."""
    from pipnet_edge.models.checkpoint import save_model
    from pipnet_edge.calibration.activation_ranges import main

    path = save_model(_float_model(), tmp_path / "float.safetensors")
    assert main(["--qat", str(path), "--data", str(tmp_path), "--out", str(tmp_path / "out.safetensors")]) == 2
    assert "is not a QAT checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "out.safetensors").exists()


def test_the_old_ranges_command_is_forwarded():
    """``python -m pipnet_edge.quantization.ranges`` (moved up to the calibration layer) still runs, with a note."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "pipnet_edge.quantization.ranges", "--help"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "pipnet_edge.calibration.activation_ranges" in r.stderr
    assert "usage: python -m pipnet_edge.calibration.activation_ranges" in r.stdout
