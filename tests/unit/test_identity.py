"""A track's identity: a sequential test on calibrated evidence, sticky, renamed only by the same test."""

import math

from tracker.track.identity import UNKNOWN, Observation, TrackIdentity, bound_for, pose_discount

BOUND = bound_for(1e-3 / 6)  # six people at match.far 1e-3


def ident() -> TrackIdentity:
    return TrackIdentity(BOUND)


def seen(who: int, evidence: float, runner: int = UNKNOWN, runner_evidence: float = 0.0,
         refused: bool = False) -> Observation:
    return Observation(who, evidence, runner, runner_evidence, refused)


def test_the_bound_is_the_log_of_one_over_the_false_accept_rate():
    assert math.isclose(bound_for(1e-3), math.log(1000))


def test_one_face_past_the_bound_names_the_track_once():
    t = ident()
    assert t.observe(seen(7, BOUND + 1, 8, -5.0)) == "resolved"
    assert t.identity == 7
    assert t.observe(seen(7, BOUND + 1)) is None  # resolved once, not once per frame


def test_weaker_faces_add_up_to_a_name():
    t = ident()
    assert t.observe(seen(7, 0.6 * BOUND)) is None
    assert t.identity == UNKNOWN and t.hopeful
    assert t.observe(seen(7, 0.6 * BOUND)) == "resolved"


def test_a_close_runner_up_holds_the_name_back():
    t = ident()
    for _ in range(5):  # strong for 7 but almost as strong for 8: not 7 for sure
        assert t.observe(seen(7, BOUND + 2, 8, BOUND + 1.5)) is None
    assert t.identity == UNKNOWN


def test_a_stranger_stays_unknown_and_evidence_against_is_floored():
    t = ident()
    for _ in range(50):
        assert t.observe(seen(3, -4.0)) is None
    assert t.identity == UNKNOWN and not t.hopeful
    assert t.evidence[3] == -BOUND  # a long bad start is no more than one decision against
    assert t.observe(seen(3, BOUND + 0.5)) is None and t.observe(seen(3, BOUND)) == "resolved"


def test_a_named_track_stays_named_through_weak_frames_and_is_renamed_only_by_the_bound():
    t = ident()
    t.observe(seen(7, BOUND + 1))
    for _ in range(10):
        t.observe(seen(9, 1.0, 7, 0.5))
    assert t.identity == 7  # 9 is ahead now, but not by the bound
    for _ in range(20):
        if t.observe(seen(9, 3.0, 7, -3.0)) == "changed":
            break
    assert t.identity == 9


def test_a_refused_face_counts_against_its_identity():
    t = ident()
    t.observe(seen(7, BOUND - 1))
    assert t.observe(seen(7, BOUND, refused=True)) is None
    assert math.isclose(t.evidence[7], -1.0)  # the bound taken off, whatever the distance said


def test_an_identity_not_among_the_nearest_two_gets_the_runner_ups_evidence_against_it():
    t = ident()
    t.observe(seen(7, 0.5 * BOUND))
    t.observe(seen(8, 1.0, 9, -3.0))
    assert t.evidence[7] == 0.5 * BOUND - 3.0


def test_forgetting_an_identity_unnames_its_track():
    t = ident()
    t.observe(seen(7, BOUND + 1))
    assert t.forget(7) and t.identity == UNKNOWN and 7 not in t.evidence
    assert not t.forget(8)


def test_the_trace_says_why_a_track_is_not_named():
    t = ident()
    t.observe(seen(7, 2.0))
    why = t.explain()
    assert why["why"].startswith("not named: the best evidence 2.00 is below the bound")
    assert why["observations"][0]["gain"] == 2.0


def test_turned_faces_are_discounted_frontal_ones_not():
    assert pose_discount(0.9) == 0.0
    assert math.isclose(pose_discount(0.3), math.log(2.0))
    assert 0.0 < pose_discount(0.6) < math.log(2.0)


def test_the_trace_of_a_named_track_says_when_its_evidence_reached_the_bound():
    t = ident()
    t.observe(Observation(7, BOUND + 1, time=3.5))
    t.observe(Observation(7, -4.0, time=3.7))
    assert t.explain()["why"].startswith(f"named at 3.50: evidence {BOUND + 1:.2f} reached the bound")


def test_evidence_that_is_not_a_number_is_refused_and_never_names():
    t = ident()
    for bad in (seen(7, math.nan), seen(7, BOUND + 1, 8, math.nan), seen(7, math.inf)):
        assert t.observe(bad) is None  # (NaN compares false: a test that asked "below the bound?" named on it)
    assert t.identity == UNKNOWN and t.evidence == {}
    assert t.observe(seen(7, BOUND + 1)) == "resolved"  # the next real face counts as ever
