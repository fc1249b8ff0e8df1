"""The end-to-end benchmark's own machinery: face matching, the synthetic canvases, the core loop.

Fast (a few seconds); the tests that need the 300W photos or the peers skip cleanly without them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import DATA_300W, require

from benchmarks import multiface
from benchmarks.suites import end_to_end as e2e


def box_points(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """A 'face' whose point box is exactly the given box."""
    return np.array([[x0, y0], [x1, y1], [(x0 + x1) / 2, (y0 + y1) / 2]], np.float32)


# ------------------------------------------------------------------------------------------ matching
def test_iou_matrix() -> None:
    a = np.array([[0, 0, 10, 10], [100, 100, 110, 110]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10]])
    iou = e2e.iou_matrix(a, b)
    assert iou.shape == (2, 2)
    np.testing.assert_allclose(iou[0], [1.0, 50 / 150])
    np.testing.assert_allclose(iou[1], [0.0, 0.0])


def test_match_faces_one_to_one_threshold_and_false_detections() -> None:
    truth = [box_points(0, 0, 100, 100), box_points(200, 0, 300, 100)]
    pred = [
        box_points(2, 2, 102, 102),  # 0: A, IoU ~0.92
        box_points(10, 10, 110, 110),  # 1: also A, IoU ~0.68: A is taken -> false detection
        box_points(230, 0, 330, 100),  # 2: B, IoU 70/130 = 0.54 -> match
        box_points(500, 500, 600, 600),  # 3: nothing -> false detection
    ]
    matches, unmatched = e2e.match_faces(pred, truth)
    assert [(p, g) for p, g, _ in matches] == [(0, 0), (2, 1)]  # best IoU first
    assert matches[0][2] > matches[1][2] >= 0.5
    assert unmatched == [1, 3]
    # below the threshold: no match
    m, u = e2e.match_faces([box_points(240, 0, 340, 100)], truth)  # IoU 60/140 = 0.43
    assert m == [] and u == [0]
    m, u = e2e.match_faces([box_points(240, 0, 340, 100)], truth, thr=0.4)
    assert [(p, g) for p, g, _ in m] == [(0, 1)] and u == []


def test_match_faces_greedy_best_first() -> None:
    truth = [box_points(0, 0, 100, 100), box_points(40, 0, 140, 100)]
    # p0 overlaps B better than A, but p1 fits B best overall -> p1-B first, then p0-A
    pred = [box_points(25, 0, 125, 100), box_points(40, 0, 140, 100)]
    matches, unmatched = e2e.match_faces(pred, truth)
    assert sorted((p, g) for p, g, _ in matches) == [(0, 0), (1, 1)]
    assert unmatched == []
    assert e2e.match_faces([], truth) == ([], [])
    assert e2e.match_faces(pred, []) == ([], [0, 1])


# --------------------------------------------------------------------------------------- canvases
def _gradient_source(name: str = "src") -> multiface.SourceFace:
    """A 256 x 256 photo whose colour encodes position (B = x, G = y), with 68 points: 60 on a circle of
    radius 90 around (128, 128) (they define the landmark box) and 8 near the centre."""
    ys, xs = np.mgrid[0:256, 0:256].astype(np.float32)
    img = np.stack([xs, ys, np.full_like(xs, 128)], -1).astype(np.uint8)
    t = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    ring = np.column_stack([128 + 90 * np.cos(t), 128 + 90 * np.sin(t)])
    inner = 128 + np.array([[-20, -20], [20, -20], [-20, 20], [20, 20], [0, 0], [-30, 5], [30, 5], [0, 30]], np.float64)
    pts = np.vstack([ring, inner]).astype(np.float32)
    return multiface.SourceFace(name, pts, lambda: img)


def _bilinear(img: np.ndarray, x: float, y: float) -> np.ndarray:
    x0, y0 = int(np.floor(x)), int(np.floor(y))
    fx, fy = x - x0, y - y0
    p = img.astype(np.float64)
    return ((1 - fx) * (1 - fy) * p[y0, x0] + fx * (1 - fy) * p[y0, x0 + 1]
            + (1 - fx) * fy * p[y0 + 1, x0] + fx * fy * p[y0 + 1, x0 + 1])


@pytest.mark.parametrize("height_range", [(40.0, 50.0), (300.0, 320.0)])  # shrunk ~4x, enlarged ~1.7x
def test_canvas_points_land_on_the_pasted_face(height_range) -> None:
    src = _gradient_source()
    rng = np.random.default_rng(3)
    bg = np.zeros((600, 800, 3), np.uint8)
    img, faces = multiface.make_canvas(rng, [src], (800, 600), 1, height_range, background=bg)
    assert len(faces) == 1 and img.shape == (600, 800, 3)
    f = faces[0]
    pts = f["points"]
    assert pts.shape == (68, 2)
    h = np.ptp(pts[:, 1])
    assert height_range[0] - 1 <= h <= height_range[1] + 1
    np.testing.assert_allclose(f["box"], multiface.landmark_box(pts), atol=1e-2)
    # the colour under each transformed inner point is the source colour at the source point:
    # B = x, G = y in the source, so this checks position to ~0.3 source pixels
    for (sx, sy), (cx, cy) in zip(src.points[60:], pts[60:]):
        b, g, _ = _bilinear(img, float(cx), float(cy))
        assert abs(b - sx) < 1.5 and abs(g - sy) < 1.5, ((sx, sy), (cx, cy), (b, g))
    # outside the feathered ellipse the background is untouched
    ell_w = 2 * multiface.MASK_AXES[0] * np.ptp(pts[:, 0])
    x1 = int(np.ceil((f["box"][0] + f["box"][2]) / 2 + ell_w / 2)) + 2
    if x1 < 800:
        assert img[:, x1:].max() == 0


def test_canvas_faces_do_not_overlap_and_build_set_round_trip(tmp_path: Path) -> None:
    sources = [_gradient_source(f"s{i}") for i in range(3)]
    spec = multiface.SetSpec(count=2, faces=(3, 4), height_px=(30.0, 45.0), seed=1, sizes=((320, 240),))
    folder = multiface.build_set("tiny", sources, tmp_path, spec, progress=False)
    assert (tmp_path / ".gitignore").read_text().strip().endswith("*")
    canvases = multiface.load_set(folder)
    assert [c.name for c in canvases] == ["tiny_000", "tiny_001"]
    for c in canvases:
        assert 1 <= len(c.faces) <= 4 and c.image_path.is_file()
        boxes = [multiface.landmark_box(f) for f in c.faces]
        iou = e2e.iou_matrix(np.stack(boxes), np.stack(boxes))
        assert np.allclose(iou - np.eye(len(boxes)), 0)
        for b in boxes:
            assert b[0] >= 0 and b[1] >= 0 and b[2] < 320 and b[3] < 240
    # deterministic: the same seed gives the same points
    again = multiface.load_set(multiface.build_set("tiny", sources, tmp_path / "again", spec, progress=False))
    for a, b in zip(canvases, again):
        assert all(np.array_equal(x, y) for x, y in zip(a.faces, b.faces))


# ------------------------------------------------------------------------------------------ core loop
class _Face:
    def __init__(self, points: np.ndarray) -> None:
        self.points = np.asarray(points, np.float32)


class _Result:
    def __init__(self, faces) -> None:
        self.faces = [_Face(p) for p in faces]


class FakeLandmarker:
    """Finds the annotated face (known to the test) with a small offset, plus one invented face."""

    def __init__(self, truth_by_shape: dict) -> None:
        self.truth = truth_by_shape
        self.calls = 0

    def detect(self, image, boxes=None, *, color_order="RGB", timing=None):
        self.calls += 1
        if boxes is not None:  # ground-truth-box reference: near perfect
            return _Result([self.truth[image.shape] + 0.5])
        if timing is not None:  # as the Landmarker times its stages
            timing["detect_ms"] = timing.get("detect_ms", 0.0) + 1.0
            timing["model_ms"] = timing.get("model_ms", 0.0) + 2.0
        fake = box_points(0, 0, 20, 20)
        return _Result([self.truth[image.shape] + 2.0, np.resize(fake, (68, 2))])


def test_core_loop_with_a_fake_landmarker() -> None:
    folder = require(DATA_300W / "test_full", "300W whole test photos")
    photos = e2e.load_photos("test_full", limit=2, source=folder)
    assert len(photos) == 2 and all(len(p.faces) == 1 and not p.all_annotated for p in photos)
    import cv2

    truth = {cv2.imread(str(p.path)).shape: p.faces[0] for p in photos}
    if len(truth) < 2:
        pytest.skip("the first two photos have the same size")
    fake = FakeLandmarker(truth)
    pipe = e2e.OurPipeline(fake, e2e.OurConfig("fake", "fake", 1))
    tallies = e2e.run_set(photos, [pipe], {"default": FakeLandmarker(truth)}, repeat=2, warmup=1, progress=False)
    t = tallies[pipe.key]
    assert t.photos == 2 and len(t.ms) == 2 and t.faces_returned == 4
    assert fake.calls == 1 + 2 * 2  # warm-up + 2 photos x 2 timed repeats
    row = e2e.summarize_tally(t, photos)
    assert row["found"] == 2 and row["found_pct"] == 100.0
    assert row["extra"] == 2 and row["extra_per_photo"] == 1.0
    assert row["extra_kind"] == "unannotated/extra faces"  # test_full: one face annotated per photo
    iod = [np.linalg.norm(p.faces[0][36] - p.faces[0][45]) for p in photos]
    expected = np.mean([np.sqrt(8) / d * 100 for d in iod])  # every point off by (2, 2)
    assert row["nme_found"] == pytest.approx(expected, abs=2e-3)
    assert row["nme_gtbox_default_same_faces"] < row["nme_found"]
    assert row["ms_median"] is not None and row["ms_p90"] >= row["ms_median"]
    assert row["stage_ms_median"] == {"detect_ms": 1.0, "model_ms": 2.0}
    assert pipe.last_stages == {"detect_ms": [1.0, 1.0], "model_ms": [2.0, 2.0]}  # the last photo's 2 repeats


def test_peer_pipelines_on_one_photo() -> None:
    """The peers' pipelines, where installed (bash benchmarks/peers/get_peers.sh): one face found on a test photo."""
    folder = require(DATA_300W / "test_full", "300W whole test photos")
    from benchmarks.peers import pipelines as e2e_peers

    photo = e2e.load_photos("test_full", limit=1, source=folder)[0]
    import cv2

    img = cv2.imread(str(photo.path))
    pipes, skipped = e2e_peers.open_peer_pipelines(["mediapipe-1core", "dlib-hog0"])
    if not pipes:
        pytest.skip(f"no peer pipeline installed: {skipped}")
    try:
        for pipe in pipes:
            faces, ms = pipe.run(img, photo.path, 1)
            assert len(ms) == 1 and ms[0] > 0
            matches, _ = e2e.match_faces(faces, photo.faces)
            assert len(matches) == 1, pipe.key
            assert faces[matches[0][0]].shape == (68, 2)
    finally:
        for pipe in pipes:
            pipe.close()
