"""``pipnet_edge.training.weight_average``: weight averages of two fine-tunes of one model."""

from __future__ import annotations

import pytest
import torch
from conftest import make_synthetic_faces
from tiny import tiny_model

from pipnet_edge.errors import SpecError
from pipnet_edge.training.weight_average import average_weights, main


def test_average_is_the_weighted_mean_of_every_float_tensor():
    a, b = tiny_model(seed=0), tiny_model(seed=1)
    counter = next(k for k, v in b.state_dict().items() if not v.is_floating_point())
    with torch.no_grad():
        b.state_dict()[counter].fill_(7)  # an integer tensor (a BatchNorm batch counter): a's is kept
    sa, sb = a.state_dict(), b.state_dict()
    assert not torch.equal(sa[counter], sb[counter])
    for t in (0.0, 0.25, 1.0):
        s = average_weights(a, b, t).state_dict()
        for k in sa:
            if sa[k].is_floating_point():
                torch.testing.assert_close(s[k], (1 - t) * sa[k] + t * sb[k])
            else:
                assert torch.equal(s[k], sa[k])
    assert any(not torch.equal(sa[k], sb[k]) for k in sa if sa[k].is_floating_point())  # the two do differ
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():  # t = 0 is a itself, and a is left as it was
        torch.testing.assert_close(average_weights(a, b, 0.0).eval()(x), a.eval()(x))
        assert torch.equal(a.state_dict()[next(iter(sa))], sa[next(iter(sa))])


def test_average_refuses_models_that_are_not_fine_tunes_of_one():
    a = tiny_model(seed=0)
    with pytest.raises(SpecError, match="differ in their spec"):
        average_weights(a, tiny_model(seed=0, num_nb=6), 0.5)
    with pytest.raises(SpecError, match=r"in \[0, 1\]"):
        average_weights(a, tiny_model(seed=1), 1.5)


def test_cli_writes_the_average_with_its_point_bias(tmp_path, capsys):
    from pipnet_edge.models.checkpoint import load_model, read_spec, save_model

    faces = make_synthetic_faces(tmp_path / "faces", count=4)
    a = save_model(tiny_model(seed=0), tmp_path / "a.safetensors")
    b = save_model(tiny_model(seed=1), tmp_path / "b.safetensors")
    out = tmp_path / "soup.safetensors"
    assert main(["--models", str(a), str(b), "--weight", "0.5", "--data", str(faces), "--out", str(out)]) == 0
    spec = read_spec(out)
    assert spec.point_bias is not None and spec.extra["point_bias_from"]["faces"] == 4
    expected = average_weights(load_model(a), load_model(b), 0.5).state_dict()
    for k, v in load_model(out).state_dict().items():
        torch.testing.assert_close(v, expected[k])
    other = save_model(tiny_model(seed=0, num_nb=6), tmp_path / "other.safetensors")
    assert main(["--models", str(a), str(other), "--weight", "0.5", "--data", str(faces), "--out", str(tmp_path / "x")]) == 2
    assert "differ in their spec" in capsys.readouterr().err
