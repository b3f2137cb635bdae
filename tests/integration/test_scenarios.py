"""The hard LFW scenarios regenerate from their recipe and seed, with ground truth that matches the video."""

import json

import cv2
import pytest

from pipelines.eval.scenarios import RECIPES, write_scenario
from tests.conftest import LFW, needs_data

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
