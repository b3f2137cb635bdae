"""The hard LFW scenarios regenerate from their recipe and seed, with ground truth that matches the video."""

import json

import cv2
import pytest
import torch

from pipelines.eval.scenarios import RECIPES, write_scenario
from tests.support.data import LFW, needs_data
from tracker.config import DetectorConfig
from tracker.face.analyzer import central_face
from tracker.face.detect import load_detector
from tracker.face.quality import frontal_score
from tracker.images import read_image

pytestmark = needs_data


@pytest.mark.parametrize("name", list(RECIPES))
def test_each_scenario_is_the_same_every_time_and_its_truth_fits_the_frames(name, tmp_path):
    scenario = RECIPES[name](LFW)
    assert scenario == RECIPES[name](LFW)  # a recipe and a seed: nothing to store
    shown = {a.image for a in scenario.actors}
    enrolled = {p: photos for p, photos in scenario.enroll}
    assert enrolled and any(not a.enrolled for a in scenario.actors), "enrolled and never-enrolled people mix"
    assert not shown & {photo for photos in enrolled.values() for photo in photos}, "shown photos are not enrolled"
    video = write_scenario(scenario, tmp_path)
    truth = json.loads((tmp_path / "truth.json").read_text())
    capture = cv2.VideoCapture(str(video))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    assert frames == len(truth["frames"]) == round(scenario.seconds * scenario.fps)
    faces = [f for frame in truth["frames"] for f in frame["faces"]]
    assert {f["person"] for f in faces} == {a.person for a in scenario.actors}
    assert all(0 <= f["box"][0] < f["box"][2] <= scenario.width + 50 for f in faces)
    assert sorted(p.name for p in (tmp_path / "enroll").iterdir()) == sorted(enrolled)


def test_the_scenarios_hold_what_the_benchmark_promises():
    by_name = {name: recipe(LFW) for name, recipe in RECIPES.items()}
    assert len(by_name["group"].actors) == 4 and len(by_name["cut"].cuts) == 2
    assert min(k[3] for a in by_name["small"].actors for k in a.keys) <= 30
    assert max(k[3] for a in by_name["zoom"].actors for k in a.keys) >= 4 * min(k[3] for a in by_name["zoom"].actors
                                                                               for k in a.keys)
    assert by_name["blur_light"].blur and by_name["blur_light"].light
    assert any(a.layer for a in by_name["crossing"].actors)


def test_the_crossing_hides_one_enrolled_person_behind_the_other_at_one_height(tmp_path):
    scenario = RECIPES["crossing"](LFW)
    walkers = [a for a in scenario.actors if a.enrolled]
    assert {k[2] for a in walkers for k in a.keys} == {0.5} and len({k[3] for a in walkers for k in a.keys}) == 1
    write_scenario(scenario, tmp_path)
    frames = json.loads((tmp_path / "truth.json").read_text())["frames"]
    seen = [{f["person"] for f in frame["faces"]} for frame in frames]
    assert any(walkers[0].person not in s and walkers[1].person in s for s in seen), "one hides the other"


def test_the_turned_scenario_shows_three_quarter_views():
    detector = load_detector(DetectorConfig(), torch.device("cpu"))
    for actor in (a for a in RECIPES["turned"](LFW).actors if a.enrolled):
        image = read_image(actor.image)
        face = central_face(detector.detect(image), *image.shape[:2])
        assert float(frontal_score(face.landmarks)[0]) < 0.5, actor.image
