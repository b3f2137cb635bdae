"""A review's topics on the broker: every message published for it is among those cleared when it leaves (an
answered or erased review leaves nothing behind), with discovery or without, with its face or without."""

import json

import pytest

from gallery.reviews import Review
from pipelines.mqtt.reviews import ReviewDesk, review_messages, review_topics, waiting_summary
from tracker.config import Config, with_changes

COMMON = {"availability_topic": "ft/bridge/status", "device": {"identifiers": ["facetrack_ft"], "name": "facetrack"}}
REVIEW = Review(12, 5, 7, "Ann", "door", 7, 5.2, 3.5, 1000.0, 2, None, None, None)


@pytest.mark.parametrize("discovery", ["homeassistant", ""])
@pytest.mark.parametrize("face", [b"\xff\xd8jpeg", None])
def test_every_topic_a_review_publishes_is_one_its_leaving_clears(discovery, face):
    published = review_messages("ft", discovery, COMMON, REVIEW, face)
    assert {t for t, _ in published} <= set(review_topics("ft", discovery, 12))
    assert ("ft/review/12/image" in dict(published)) == (face is not None)
    configs = [json.loads(p) for t, p in published if t.startswith(f"{discovery}/") and discovery]
    assert all(c["device"]["identifiers"] == ["facetrack_review_12"] for c in configs)
    assert {c.get("command_topic") for c in configs} - {None} == ({"ft/review/12/answer"} if discovery else set())


def test_a_gallery_not_made_yet_is_waited_for_and_faces_stay_off_the_broker_when_blurred(tmp_path):
    assert not ReviewDesk(Config(), tmp_path / "none.db").ready()
    blurred = with_changes(Config(), "test", http={"blur_unknown": True})
    assert ReviewDesk(blurred, tmp_path / "none.db").face(12) is None  # asked of no gallery: never opened
    assert json.loads(waiting_summary({12: REVIEW})) == {"waiting": 1, "reviews": [
        {"id": 12, "candidate": "Ann", "camera": "door"}]}
