"""eval real's scoring of reviews against per-shot truth (pure)."""

from pipelines.eval.real import CloseUp, Shot, score_reviews
from pipelines.eval.video_metrics import SeenFace

SHOTS = [Shot("a", 0, 10, frozenset({"Joey", "Ross"}), frozenset({"Joey"})),
         Shot("b", 10, 20, frozenset({"Monica"}), frozenset())]
BOX = (0.0, 0.0, 10.0, 10.0)


def test_a_review_is_wrong_when_its_candidate_is_in_none_of_its_tracks_shots_and_says_when_it_asks_a_missed_closeup():
    seen = {2: [SeenFace(1, None, BOX)], 4: [SeenFace(1, None, BOX), SeenFace(2, None, BOX)],
            12: [SeenFace(3, None, BOX)]}
    closeups = [CloseUp("a", "Joey", True, None, 0.0)]  # Joey's close-up in shot a was never named
    reviews = score_reviews(SHOTS, seen, {1: "Joey", 2: "Ross", 3: "Ross"}, closeups)
    assert [(r.track, r.shots, r.wrong, r.missed_closeup) for r in reviews] == [
        (1, ("a",), False, True), (2, ("a",), False, False), (3, ("b",), True, False)]
    named = [CloseUp("a", "Joey", True, 0.4, 1.0)]
    assert not score_reviews(SHOTS, seen, {1: "Joey"}, named)[0].missed_closeup
