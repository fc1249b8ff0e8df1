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
        # same int8 grid; BN is re-folded and weights re-rounded at conversion, so allow ~1-2 steps on average
        assert float((a - b).abs().mean()) <= 3 * lsb, "converted Q/DQ graph must match the fake-quant model"
        assert float((a - b).abs().max()) <= 16 * lsb
