"""A track's identity: named on clear evidence, sticky through weak frames, renamed only on strong evidence."""

from tracker.track.identity import UNKNOWN, Observation, TrackIdentity

THRESHOLD, MARGIN = 0.1, 0.03


def ident() -> TrackIdentity:
    return TrackIdentity(MARGIN, resolve=0.5, dominance=2.0)


def clear(who: int, weight: float = 1.0) -> Observation:
    return Observation(who, 0.03, 0.1, weight, THRESHOLD)


def test_one_clear_good_frame_names_the_track_once():
    t = ident()
    assert t.observe(clear(7)) == "resolved"
    assert t.identity == 7
    assert t.observe(clear(7)) is None  # resolved once, not once per frame


def test_weak_or_ambiguous_frames_do_not_name_a_track():
    t = ident()
    assert t.observe(Observation(7, 0.05, 0.01, 1.0, THRESHOLD)) is None  # inside the threshold, but no margin
    assert t.observe(Observation(7, 0.2, 0.1, 1.0, THRESHOLD)) is None  # beyond the threshold
    assert t.observe(clear(7, weight=0.2)) is None  # a poor face: too little evidence alone
    assert t.identity == UNKNOWN


def test_a_stranger_stays_unknown():
    t = ident()
    for _ in range(20):
        assert t.observe(Observation(3, 0.3, 0.0, 1.0, THRESHOLD)) is None
    assert t.identity == UNKNOWN and t.unknown == 20


def test_a_named_track_stays_named_through_weak_frames():
    t = ident()
    t.observe(clear(7))
    for _ in range(10):
        t.observe(Observation(9, 0.5, 0.0, 1.0, THRESHOLD))
    assert t.identity == 7


def test_the_name_changes_only_on_strong_evidence_for_someone_else():
    t = ident()
    t.observe(clear(7))
    assert t.observe(clear(9)) is None  # one frame for 9 is not twice 7's evidence
    assert t.identity == 7
    assert t.observe(clear(9)) == "changed"  # twice 7's evidence now
    assert t.identity == 9
