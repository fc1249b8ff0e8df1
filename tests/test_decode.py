"""The numpy decode: encode->decode is the identity, and it equals a plain per-point loop (points, peaks, cells, spread)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pipnet_edge import BUILTIN_SCHEMES, InputError, ModelSpec, get_scheme
from pipnet_edge.data.targets import encode, to_dense
from pipnet_edge.runtime.artifact import HEAD_NAMES
from pipnet_edge.runtime.decode import DecodeTables, decode, decode_heads

pytestmark = pytest.mark.torch_free  # runs without torch: the aarch64 stage selects it (-m torch_free)


def channels_last(*nchw: np.ndarray) -> dict[str, np.ndarray]:
    """NCHW head arrays (as the reference loop reads them) -> the channels-last dict artifacts return."""
    return {k: np.ascontiguousarray(np.asarray(a, np.float32).transpose(0, 2, 3, 1)) for k, a in zip(HEAD_NAMES, nchw)}

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
    heads = channels_last(*(d[None] for d in dense))
    tables = DecodeTables.from_spec(spec)
    assert np.abs(decode_heads(heads, tables, with_spread=True).spread).max() * spec.input_size < 1e-3  # exact targets: the votes agree
    for nrm in (True, False):
        got, _ = decode(heads, tables, use_nrm=nrm)
        err_px = np.abs(got[0] - pts).max() * spec.input_size
        assert err_px < 1e-3, f"{name}: decode error {err_px} px (nrm={nrm})"


def reference_decode(heads: list[np.ndarray], spec: ModelSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Straightforward per-landmark loop over NCHW heads, written from the paper's description:
    NRM-merged points, peak cells, and the mean distance of each point's neighbour votes from its own estimate."""
    score, off_x, off_y, nb_x, nb_y = heads
    b, n, h, w = score.shape
    nb = spec.num_nb
    out = np.zeros((b, n, 2))
    cells = np.zeros((b, n), np.int64)
    spread = np.zeros((b, n))
    for bi in range(b):
        own, neigh = {}, {i: [] for i in range(n)}
        for i in range(n):
            k = int(np.argmax(score[bi, i]))
            cells[bi, i] = k
            y, x = divmod(k, w)
            own[i] = ((x + off_x[bi, i, y, x]) / w, (y + off_y[bi, i, y, x]) / h)
            for j in range(nb):
                target = spec.neighbor_indices[i][j]
                c = i * nb + j
                neigh[target].append(((x + nb_x[bi, c, y, x]) / w, (y + nb_y[bi, c, y, x]) / h))
        for i in range(n):
            out[bi, i] = np.mean([own[i]] + neigh[i], axis=0)
            if neigh[i]:
                spread[bi, i] = np.mean([np.hypot(vx - own[i][0], vy - own[i][1]) for vx, vy in neigh[i]])
    return out, cells, spread


def random_heads(spec: ModelSpec, b: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    n, m, nb = spec.num_points, spec.map_size, spec.num_nb
    return [
        rng.normal(size=(b, n, m, m)).astype(np.float32),
        rng.uniform(0, 1, size=(b, n, m, m)).astype(np.float32),
        rng.uniform(0, 1, size=(b, n, m, m)).astype(np.float32),
        rng.normal(size=(b, n * nb, m, m)).astype(np.float32),
        rng.normal(size=(b, n * nb, m, m)).astype(np.float32),
    ]


@pytest.mark.parametrize("name", sorted(BUILTIN_SCHEMES))
def test_vectorised_decode_equals_reference_loop(name):
    spec = spec_for(name)
    heads = random_heads(spec, 3, seed=3)
    want, cells, spread = reference_decode(heads, spec)
    got = decode_heads(channels_last(*heads), DecodeTables.from_spec(spec), with_spread=True)
    np.testing.assert_allclose(got.points, want, atol=1e-6)
    np.testing.assert_allclose(got.scores, heads[0].reshape(3, spec.num_points, -1).max(-1))
    np.testing.assert_array_equal(got.cells, cells)
    np.testing.assert_allclose(got.spread, spread, atol=1e-6)
    plain = decode_heads(channels_last(*heads), DecodeTables.from_spec(spec), use_nrm=False)
    np.testing.assert_array_equal(plain.cells, cells)
    assert plain.spread is None  # only on request: the runtime's path skips it
    assert not np.allclose(plain.points, got.points)  # the NRM merge moved the points


def test_decode_rejects_mismatched_shapes():
    spec = spec_for("300w-68")
    z = np.zeros((1, 68, 8, 8), np.float32)
    bad = channels_last(z, z, z, np.zeros((1, 68 * 9, 8, 8), np.float32), np.zeros((1, 680, 8, 8), np.float32))
    with pytest.raises(InputError, match="nb_x"):
        decode(bad, DecodeTables.from_spec(spec))
    with pytest.raises(InputError, match="lack"):
        decode({"score": bad["score"]}, DecodeTables.from_spec(spec))
    with pytest.raises(InputError, match="score map"):
        decode({**bad, "score": z[0]}, DecodeTables.from_spec(spec))
