"""The threshold in force: from match.far and the gallery's size, unless set or calibrated; and what it means."""

import pytest

from gallery.threshold import AUTO, CALIBRATED, MODEL_DEFAULT, SET, auto_threshold, gallery_far, threshold_in_force
from tracker.config import MatchConfig
from tracker.face.card import load_card

DLIB = load_card("dlib-resnet-v1").tables


@pytest.mark.parametrize("faces", [1, 30, 90, 300, 1000, 10_000])
def test_the_auto_threshold_names_about_match_far_of_strangers_at_any_size(faces):
    threshold = auto_threshold(DLIB, 1e-3, faces)
    assert gallery_far(DLIB, threshold, faces) == pytest.approx(1e-3, rel=0.02)


def test_a_bigger_gallery_gets_a_stricter_threshold():
    thresholds = [auto_threshold(DLIB, 1e-3, n) for n in (10, 100, 1000)]
    assert thresholds[0] > thresholds[1] > thresholds[2] > 0


def test_a_lower_far_gets_a_stricter_threshold():
    assert auto_threshold(DLIB, 1e-4, 100) < auto_threshold(DLIB, 1e-3, 100) < auto_threshold(DLIB, 1e-2, 100)


def test_the_table_is_a_distribution():
    rates = [r for r, _ in DLIB.impostor]
    distances = [d for _, d in DLIB.impostor]
    assert rates == sorted(rates) and distances == sorted(distances) and 0 < distances[0] < distances[-1] < 4


@pytest.mark.parametrize(("match", "tables", "source"), [
    (MatchConfig(), DLIB, AUTO),
    (MatchConfig(threshold=0.1), DLIB, SET),
    (MatchConfig(threshold=0.1, calibrated_far=1e-3), DLIB, CALIBRATED),
    (MatchConfig(), None, MODEL_DEFAULT),  # a model without tables
])
def test_where_the_threshold_comes_from(match, tables, source):
    rule = threshold_in_force(match, tables, 0.177, 30, 90)
    assert rule.source == source
    assert rule.value == {AUTO: auto_threshold(DLIB, 1e-3, 90), SET: 0.1, CALIBRATED: 0.1, MODEL_DEFAULT: 0.177}[source]
    assert (rule.expected_far is None) == (source == MODEL_DEFAULT)
    assert str(rule.faces) in rule.describe() and source in rule.describe()


def test_a_loose_manual_threshold_is_called_risky_and_the_auto_one_is_not():
    loose = threshold_in_force(MatchConfig(threshold=0.177), DLIB, 0.177, 100, 300)
    assert loose.expected_far > 0.01
    assert "match.threshold 0.1770" in loose.warning() and "match.far" in loose.warning()
    assert threshold_in_force(MatchConfig(), DLIB, 0.177, 100, 300).warning() is None
    assert threshold_in_force(MatchConfig(threshold=0.02), DLIB, 0.177, 100, 300).warning() is None
