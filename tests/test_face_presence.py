"""The face presence score (``min_face_presence``): non-faces the detector finds are dropped, faces are kept, tracks end.

``tests/data/coffee_not_a_face.jpg`` (CC0, see ``tests/data/README.md``) is a face-free photo on which both bundled
detectors fire; the landmark models score it far below their thresholds.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipnet_edge.errors import InputError
from pipnet_edge.runtime import Landmarker, LandmarkerOptions
from pipnet_edge.runtime.presence import FALLBACK_MIN_FACE_PRESENCE, MIN_FACE_PRESENCE, resolve_min_face_presence

pytestmark = pytest.mark.torch_free

ROOT = Path(__file__).resolve().parents[1]
NOT_A_FACE = ROOT / "tests" / "data" / "coffee_not_a_face.jpg"
GROUP = ROOT / "docs" / "group.jpg"


@pytest.fixture(scope="module")
def coffee() -> np.ndarray:
    img = cv2.imread(str(NOT_A_FACE))
    assert img is not None
    return img


@pytest.fixture(scope="module")
def landmarkers():
    lms = {(m, on): Landmarker(m, min_face_presence="auto" if on else None) for m in ("default", "lite") for on in (True, False)}
    yield lms
    for lm in lms.values():
        lm.close()


# ------------------------------------------------------------------------------------------ the option
@pytest.mark.parametrize("bad", [-0.1, 1.5, math.nan, "high", "0.5", True, [0.5]])
def test_bad_values_are_refused_with_the_reason(bad):
    with pytest.raises(InputError, match=r"min_face_presence must be 'auto'.*a number in \[0, 1\].*0 / None \(off\)"):
        LandmarkerOptions(min_face_presence=bad)
    with pytest.raises(InputError, match="min_face_presence"):
        Landmarker(min_face_presence=bad)


@pytest.mark.parametrize("bad", [-1, 2.0, "x", False])
def test_bad_track_min_score_is_refused(bad):
    with pytest.raises(InputError, match=r"track_min_score must be a number in \[0, 1\] or None"):
        LandmarkerOptions(track_min_score=bad)


def test_auto_is_the_default_and_resolves_per_model():
    assert LandmarkerOptions().min_face_presence == "auto"
    assert LandmarkerOptions().track_min_score is None
    with Landmarker() as lm:
        assert lm.min_face_presence == MIN_FACE_PRESENCE["default"] == 0.48
    with Landmarker("lite") as lm:
        assert lm.min_face_presence == MIN_FACE_PRESENCE["lite"] == 0.44
    with Landmarker("lite", min_face_presence=0.5) as lm:
        assert lm.min_face_presence == 0.5
    for off in (0, 0.0, None):
        with Landmarker("lite", min_face_presence=off) as lm:
            assert lm.min_face_presence is None
    # another network (not a bundled model's input size / stride / neighbours): the fallback
    class Spec:
        input_size, net_stride, num_nb = 192, 32, 10

    assert resolve_min_face_presence("auto", Spec()) == FALLBACK_MIN_FACE_PRESENCE
    assert resolve_min_face_presence(np.float32(0.25), Spec()) == pytest.approx(0.25)


def test_the_saved_choice_is_the_runtime_default():
    """benchmarks/results/face_presence.json chose the thresholds the runtime ships."""
    path = ROOT / "benchmarks" / "results" / "face_presence.json"
    if not path.is_file():
        pytest.skip("no saved face_presence result")
    res = json.loads(path.read_text())["results"]
    assert res["choice"]["statistic"] == "mean"  # FaceLandmarks.score, what the runtime compares
    assert res["choice"]["thresholds"] == MIN_FACE_PRESENCE
    for row in res["check"]["rows"]:
        assert row["check_faces_on"] == 0 and row["choose_faces_on"] == 0
        assert row["test_full_recall_on_pct"] >= 99.5
        assert row["group_faces_on"] == row["group_faces_off"]


# ------------------------------------------------------------------------------------------ photos
@pytest.mark.parametrize("model", ["default", "lite"])
def test_a_face_free_photo_yields_no_face_but_the_detector_fired(model, coffee, landmarkers):
    on, off = landmarkers[(model, True)], landmarkers[(model, False)]
    raw = on.detector.detect(cv2.cvtColor(coffee, cv2.COLOR_BGR2RGB))
    assert len(raw) >= 1 and raw.scores.max() >= 0.5  # YuNet finds a "face" in the cup and spoon
    assert len(on.detect(coffee, color_order="BGR")) == 0
    kept = off.detect(coffee, color_order="BGR")  # the same photo with the filter off: the presence score did the work
    assert len(kept) >= 1
    assert max(f.score for f in kept) < on.min_face_presence


def test_blazeface_non_face_is_dropped_too(coffee):
    with Landmarker(detector="blazeface-short") as on, Landmarker(detector="blazeface-short", min_face_presence=None) as off:
        assert len(on.detect(coffee, color_order="BGR")) == 0
        assert len(off.detect(coffee, color_order="BGR")) >= 1


def test_given_boxes_are_never_dropped(coffee, landmarkers):
    """The caller said these are faces: ``detect(img, boxes=...)`` returns one face per box, however low its score."""
    lm = landmarkers[("default", True)]
    faces = lm.detect(coffee, boxes=[[371, 148, 467, 264]], color_order="BGR")
    assert len(faces) == 1 and faces[0].score < lm.min_face_presence


@pytest.mark.parametrize("model", ["default", "lite"])
def test_every_group_face_is_kept(model, landmarkers):
    img = cv2.imread(str(GROUP))
    on = landmarkers[(model, True)].detect(img, color_order="BGR")
    off = landmarkers[(model, False)].detect(img, color_order="BGR")
    assert len(on) == len(off) == 4
    assert min(f.score for f in on) >= landmarkers[(model, True)].min_face_presence


# ------------------------------------------------------------------------------------------ video
def _video(coffee: np.ndarray, face_frames: int, after: int) -> list[np.ndarray]:
    """A face (docs/group.jpg's largest) for ``face_frames`` frames, then the same frame with the face covered by the
    face-free photo for ``after`` frames."""
    group = cv2.imread(str(GROUP))
    with Landmarker() as lm:
        face = max(lm.detect(group, color_order="BGR"), key=lambda f: np.ptp(f.points[:, 0]))
    x0, y0 = np.floor(face.points.min(0)).astype(int) - 20
    x1, y1 = np.ceil(face.points.max(0)).astype(int) + 20
    covered = group.copy()
    covered[y0:y1, x0:x1] = cv2.resize(coffee, (x1 - x0, y1 - y0))
    return [group] * face_frames + [covered] * after


def test_a_track_ends_when_its_score_drops(coffee):
    frames = _video(coffee, 3, 4)
    ids = {}
    for name, presence in (("on", "auto"), ("off", None)):
        with Landmarker(running_mode="video", min_face_presence=presence, redetect_interval=100) as lm:
            ids[name] = [sorted(f.track_id for f in lm.detect_for_video(fr, 33 * t, color_order="BGR"))
                         for t, fr in enumerate(frames)]
    # the same four tracks while the faces are there
    assert ids["on"][:3] == ids["off"][:3] == [[0, 1, 2, 3]] * 3
    # the largest face covered: its track ends, the other three go on with their ids
    assert all(len(i) == 3 and set(i) < {0, 1, 2, 3} for i in ids["on"][3:])
    # with the filter off nothing ends it (its points stay in the frame): the score is what ended the track
    assert all(i == [0, 1, 2, 3] for i in ids["off"][3:])


def test_track_min_score_overrides_the_presence_threshold(coffee):
    frames = _video(coffee, 2, 2)
    with Landmarker(running_mode="video", min_face_presence=None, track_min_score=0.37, redetect_interval=100) as lm:
        counts = [len(lm.detect_for_video(fr, 33 * t, color_order="BGR")) for t, fr in enumerate(frames)]
    assert counts == [4, 4, 3, 3]


def test_a_non_face_starts_no_track(coffee):
    with Landmarker(running_mode="video") as on, Landmarker(running_mode="video", min_face_presence=None) as off:
        assert [len(on.detect_for_video(coffee, 33 * t, color_order="BGR")) for t in range(3)] == [0, 0, 0]
        assert len(off.detect_for_video(coffee, 0, color_order="BGR")) >= 1
        assert on.detector_calls == 3  # no track: the detector runs on every frame


# ------------------------------------------------------------------------------------------ command line
def test_command_line_option(tmp_path, capsys):
    from pipnet_edge.runtime import __main__ as cli

    def faces(*extra) -> int:
        out = tmp_path / "f.json"
        assert cli.main([str(NOT_A_FACE), "--json", str(out), "-q", *extra]) == 0
        return len(json.loads(out.read_text())["faces"])

    assert faces() == 0
    assert faces("--min-face-presence", "off") >= 1
    assert faces("--min-face-presence", "0.05") >= 1
    assert cli.main([str(NOT_A_FACE), "--json", str(tmp_path / "x.json"), "--min-face-presence", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "min_face_presence must be" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as exc:
        cli.main([str(NOT_A_FACE), "--min-face-presence", "high"])
    assert exc.value.code == 2


def test_a_non_face_the_detector_ranks_first_does_not_take_a_real_faces_place():
    """max_faces=1 and the detector's best box is a non-face: the face presence filter looks past it (the Landmarker
    asks the detector for more candidates than max_faces while the filter is on), so the one face returned is real."""
    import cv2

    from pipnet_edge.spec import CropRule

    img = cv2.imread(str(ROOT / "docs" / "group.jpg"))
    background, face = [0, 0, 80, 80], [877, 221, 1107, 500]  # a corner of the photo; the largest face

    class Ranked:
        crop_rule = CropRule()

        def detect(self, image):
            return np.array([[*background, 0.99], [*face, 0.90]], np.float32)

    with Landmarker(detector=Ranked(), max_faces=1) as lm:
        (found,) = lm.detect(img, color_order="BGR")
        assert found.score >= lm.min_face_presence and abs(found.box[0] - face[0]) < 60
    with Landmarker(detector=Ranked(), max_faces=1, min_face_presence=0) as lm:
        (first,) = lm.detect(img, color_order="BGR")  # the filter off: the detector's first choice, a non-face
        assert first.score < 0.37 and abs(first.box[0] - background[0]) < 60
    with Landmarker(detector=Ranked(), max_faces=1, running_mode="video") as lm:  # the same for a new track
        (tracked,) = lm.detect_for_video(img, timestamp_ms=0, color_order="BGR")
        assert tracked.track_id is not None and abs(tracked.box[0] - face[0]) < 60
