"""ModelSpec and landmark schemes: JSON round trip, validation messages, flip permutations."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipnet_edge import BUILTIN_SCHEMES, CropRule, ModelSpec, SpecError, custom_scheme, get_scheme
from pipnet_edge.meanface import compute_mean_face, nearest_neighbors, reverse_index

pytestmark = pytest.mark.torch_free  # runs without torch: the aarch64 stage selects it (-m torch_free)


def _spec(scheme="300w-68", num_nb=10, seed=0) -> ModelSpec:
    n = get_scheme(scheme).num_points
    mf = np.random.default_rng(seed).uniform(0.1, 0.9, size=(n, 2))
    return ModelSpec.create(scheme, mf, num_nb=min(num_nb, n - 1), extra={"note": "test"})


@pytest.mark.parametrize("name", sorted(BUILTIN_SCHEMES))
def test_json_round_trip(name):
    spec = _spec(name)
    again = ModelSpec.from_json(spec.to_json())
    assert again == spec
    assert again.extra == {"note": "test"}
    assert again.to_dict() == spec.to_dict()


@pytest.mark.parametrize("name", sorted(BUILTIN_SCHEMES))
def test_flip_twice_is_identity(name):
    scheme = get_scheme(name)
    perm = np.asarray(scheme.flip_permutation)
    pts = np.random.default_rng(1).uniform(0, 100, size=(scheme.num_points, 2))

    def flip(p):
        q = p.copy()
        q[:, 0] = 100 - q[:, 0]
        return q[perm]

    np.testing.assert_allclose(flip(flip(pts)), pts)
    assert not np.array_equal(perm, np.arange(scheme.num_points)), "built-in schemes mirror some points"


def test_300w_flip_pairs_are_the_ibug_ones():
    perm = get_scheme("300w-68").flip_permutation
    assert perm[36] == 45 and perm[39] == 42 and perm[48] == 54 and perm[0] == 16
    assert perm[30] == 30 and perm[8] == 8 and perm[51] == 51


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda d: d.pop("num_nb"), "num_nb"),
        (lambda d: d.update(input_size=250), "input_size"),
        (lambda d: d.update(net_stride=0), "net_stride"),
        (lambda d: d["mean_face"].pop(), "mean_face"),
        (lambda d: d["mean_face"].__setitem__(0, ["nan", 1]), "mean_face"),
        (lambda d: d["neighbor_indices"][0].__setitem__(0, 99), "neighbor_indices"),
        (lambda d: d["neighbor_indices"][3].__setitem__(0, 3), "neighbor_indices"),
        (lambda d: d["scheme"]["flip_permutation"].__setitem__(0, 1), "flip_permutation"),
        (lambda d: d["scheme"].update(norm_indices=[36, 99]), "norm_indices"),
        (lambda d: d["normalization"].update(std=[1, 0, 1]), "normalization.std"),
        (lambda d: d["crop"].update(scale=-1), "crop.scale"),
        (lambda d: d["crop"].update(zoom=2), "crop"),
        (lambda d: d.update(version=99), "version"),
        (lambda d: d.update(backbone=""), "backbone"),
    ],
)
def test_bad_spec_is_rejected_naming_the_field(mutate, field):
    d = json.loads(_spec().to_json())
    mutate(d)
    with pytest.raises(SpecError, match=field.replace(".", r"\.")):
        ModelSpec.from_json(json.dumps(d))


def test_corrupt_json_is_rejected():
    with pytest.raises(SpecError, match="not valid JSON"):
        ModelSpec.from_json('{"version": 1, "scheme"')
    with pytest.raises(SpecError, match="JSON object"):
        ModelSpec.from_json("[1, 2]")


def test_custom_scheme_any_point_count():
    s = custom_scheme("hand-5", 5, flip_pairs=[(0, 4), (1, 3)])
    assert s.flip_permutation == (4, 3, 2, 1, 0)
    assert s.norm == "box"
    spec = ModelSpec.create(s, np.random.default_rng(0).uniform(size=(5, 2)), num_nb=2)
    assert ModelSpec.from_json(spec.to_json()).scheme == s
    with pytest.raises(SpecError, match="twice"):
        custom_scheme("bad", 4, flip_pairs=[(0, 1), (1, 2)])
    with pytest.raises(SpecError, match="outside"):
        custom_scheme("bad", 4, flip_pairs=[(0, 7)])


def test_neighbors_are_nearest_points_on_mean_face():
    mf = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [7.0, 0.0]])
    nb = nearest_neighbors(mf, 2)
    assert nb.tolist() == [[1, 2], [0, 2], [1, 0], [2, 1]]
    src, slot, valid = reverse_index(nb, 4)
    # point 2 is listed by 0 (slot 1), 1 (slot 1) and 3 (slot 0)
    got = sorted((int(p), int(s)) for p, s, v in zip(src[2], slot[2], valid[2]) if v)
    assert got == [(0, 1), (1, 1), (3, 0)]
    assert valid.sum() == nb.size


def test_mean_face_is_box_normalised():
    faces = np.array([[[0, 0], [10, 0], [10, 10]], [[100, 100], [120, 100], [120, 120]]], dtype=float)
    mf = compute_mean_face(faces)
    np.testing.assert_allclose(mf, [[0, 0], [1, 0], [1, 1]])


def test_crop_rule_defaults_to_300w_protocol():
    assert _spec().crop == CropRule(scale=1.1)
    assert _spec().map_size == 8
