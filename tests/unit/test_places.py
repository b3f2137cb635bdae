"""Who is in view: a person enters with their first named track on the camera and leaves with their last."""

from tracker.track.identity import UNKNOWN
from tracker.track.places import Place


def test_a_person_enters_with_their_first_track_and_leaves_with_their_last():
    p = Place()
    assert p.enter(7, 1, since=10.0) and not p.enter(7, 2, since=12.0)
    assert p.leave(7, 1, now=15.0) is None  # still in view on track 2
    assert p.leave(7, 2, now=16.0) == 6.0  # in view since the first track's start
    assert p.leave(7, 2, now=17.0) is None and not p.tracks


def test_unknown_tracks_are_nobody_in_view():
    p = Place()
    assert not p.enter(UNKNOWN, 1, since=0.0) and p.leave(UNKNOWN, 1, now=1.0) is None
