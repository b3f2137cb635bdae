"""The enrolment gates' refusals: every gate a face fails, the settings that would take it, whether
``enroll --accept-small`` would, and the price of a small reference from the model card."""

from types import SimpleNamespace

import pytest

from gallery.enroll import Enroller, ModelFacts
from tracker.config import EnrollConfig


def refusal(size: float, sharpness: float = 50.0, frontal: float = 0.9, accept_small: bool = False) -> str:
    model = ModelFacts("omz-reid-0095:241229ca3d20", 256, 0.8)  # the card's model
    enroller = Enroller(model, None, EnrollConfig(), accept_small)
    return enroller._quality_problem(SimpleNamespace(source="x.jpg", quality={
        "size": size, "sharpness": sharpness, "frontal": frontal}))


def test_a_good_face_passes_and_a_small_one_is_told_the_setting_the_cli_flag_and_its_price():
    assert refusal(120.0) == ""
    small = refusal(40.7)
    assert small.startswith("face too small (40 px < 50 px): enroll.min_face_size = 40 would take it (or "
                            "`facetrack enroll --accept-small`); a reference of 40 px is within omz-reid-0095's")
    assert "of strangers' faces, against" in small


@pytest.mark.parametrize("quality, says, not_says", [
    ({"size": 35.0, "sharpness": 3.0}, ["face too small", "face too blurred", "enroll.min_face_size = 35 and "
                                        "enroll.min_sharpness = 3.0 would take it", "--accept-small"], []),
    ({"size": 35.0, "frontal": 0.1}, ["face too small", "face turned away", "enroll.min_frontal = 0.1"],
     ["--accept-small"]),  # the flag does not take a turned face
    ({"size": 10.0}, ["face too small (10 px", "is not measured"], ["enroll.min_face_size", "--accept-small"]),
    ({"size": 90.0, "sharpness": 2.5}, ["face too blurred", "enroll.min_sharpness = 2.5 would take it"],
     ["strangers"]),  # blur alone: no price measured
])
def test_every_gate_a_face_fails_is_named_with_what_would_take_it(quality, says, not_says):
    text = refusal(**quality)
    assert all(s in text for s in says), text
    assert not any(s in text for s in not_says), text
