"""The numpy decode: encode->decode is the identity, and it equals a plain per-point loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pipnet_edge import BUILTIN_SCHEMES, InputError, ModelSpec, get_scheme
from pipnet_edge.data.targets import encode, to_dense
from pipnet_edge.runtime.decode import DecodeTables, HeadOutputs, decode

_SPECS = {}


def spec_for(name: str, map_size: int = 8) -> ModelSpec:
    key = (name, map_size)
    if key not in _SPECS:
        n = get_scheme(name).num_points
        mf = np.random.default_rng(len(name)).uniform(0.15, 0.85, size=(n, 2))
        _SPECS[key] = ModelSpec.create(name, mf, num_nb=min(10, n - 1), input_size=32 * map_size)
    return _SPECS[key]


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(sorted(BUILTIN_SCHEMES)),
    map_size=st.sampled_from([4, 8]),
    data=st.data(),
)
def test_decode_of_encoded_targets_returns_landmarks(name, map_size, data):
    spec = spec_for(name, map_size)
    n = spec.num_points
    # points anywhere in the input square, and a little outside it (clipped to border cells)
    pts = data.draw(arrays(np.float64, (n, 2), elements=st.floats(-0.1, 1.1, allow_nan=False)))
    dense = to_dense(encode(pts, spec.neighbor_array, spec.map_size), spec.map_size)
    heads = HeadOutputs(*(d[None] for d in dense))
    tables = DecodeTables.from_spec(spec)
    for nrm in (True, False):
        got, _ = decode(heads, tables, use_nrm=nrm)
        err_px = np.abs(got[0] - pts).max() * spec.input_size
        assert err_px < 1e-3, f"{name}: decode error {err_px} px (nrm={nrm})"


def reference_decode(heads: HeadOutputs, spec: ModelSpec) -> np.ndarray:
    """Straightforward per-landmark loop, written from the paper's description."""
    b, n, h, w = heads.score.shape
    nb = spec.num_nb
    out = np.zeros((b, n, 2))
    for bi in range(b):
        own, neigh = {}, {i: [] for i in range(n)}
        for i in range(n):
            k = int(np.argmax(heads.score[bi, i]))
            y, x = divmod(k, w)
            own[i] = ((x + heads.offset_x[bi, i, y, x]) / w, (y + heads.offset_y[bi, i, y, x]) / h)
            for j in range(nb):
                target = spec.neighbor_indices[i][j]
                c = i * nb + j
                neigh[target].append(((x + heads.nb_x[bi, c, y, x]) / w, (y + heads.nb_y[bi, c, y, x]) / h))
        for i in range(n):
            cand = [own[i]] + neigh[i]
            out[bi, i] = np.mean(cand, axis=0)
    return out


@pytest.mark.parametrize("name", sorted(BUILTIN_SCHEMES))
def test_vectorised_decode_equals_reference_loop(name):
    spec = spec_for(name)
    rng = np.random.default_rng(3)
    b, n, m, nb = 3, spec.num_points, spec.map_size, spec.num_nb
    heads = HeadOutputs(
        rng.normal(size=(b, n, m, m)).astype(np.float32),
        rng.uniform(0, 1, size=(b, n, m, m)).astype(np.float32),
        rng.uniform(0, 1, size=(b, n, m, m)).astype(np.float32),
        rng.normal(size=(b, n * nb, m, m)).astype(np.float32),
        rng.normal(size=(b, n * nb, m, m)).astype(np.float32),
    )
    got, scores = decode(heads, DecodeTables.from_spec(spec))
    np.testing.assert_allclose(got, reference_decode(heads, spec), atol=1e-6)
    np.testing.assert_allclose(scores, heads.score.reshape(b, n, -1).max(-1))


def test_decode_rejects_mismatched_shapes():
    spec = spec_for("300w-68")
    z = np.zeros((1, 68, 8, 8), np.float32)
    bad = HeadOutputs(z, z, z, np.zeros((1, 68 * 9, 8, 8), np.float32), np.zeros((1, 680, 8, 8), np.float32))
    with pytest.raises(InputError, match="nb_x"):
        decode(bad, DecodeTables.from_spec(spec))


@pytest.mark.parametrize("name", sorted(BUILTIN_SCHEMES))
def test_channels_last_decode_equals_nchw_decode(name):
    from pipnet_edge.runtime.decode import decode_nhwc

    spec = spec_for(name)
    rng = np.random.default_rng(5)
    b, n, m, nb = 2, spec.num_points, spec.map_size, spec.num_nb
    nchw = [rng.normal(size=(b, c, m, m)).astype(np.float32) for c in (n, n, n, n * nb, n * nb)]
    names = ("score", "offset_x", "offset_y", "nb_x", "nb_y")
    nhwc = {k: np.ascontiguousarray(a.transpose(0, 2, 3, 1)) for k, a in zip(names, nchw)}
    tables = DecodeTables.from_spec(spec)
    for nrm in (True, False):
        a, sa = decode(HeadOutputs(*nchw), tables, use_nrm=nrm)
        c, sc = decode_nhwc(nhwc, tables, use_nrm=nrm)
        np.testing.assert_allclose(c, a, atol=1e-6)
        np.testing.assert_allclose(sc, sa)
