"""Track splitting on its own: how a face fits a track, and where a face that does not fit goes."""

import numpy as np

from tracker.track.identity import UNKNOWN, TrackIdentity
from tracker.track.splitting import Splitter
from tracker.track.state import FramePlan, GalleryTerms, TrackState, Verdict
from tracker.track.tracking import Track

SPLIT = 0.2
TERMS = GalleryTerms("test:0", threshold=0.5, margin=0.03)


def look(k: int) -> np.ndarray:
    return np.eye(8, dtype=np.float32)[k]


def track(track_id: int, k: int) -> Track:
    t = Track(track_id, np.array([0, 0, 10, 10], np.float32), np.zeros(4, np.float32), 0.0)
    t.embedding = look(k)
    return t


def drifted(k: int, distance: float) -> np.ndarray:
    cos = 1.0 - distance / 2.0
    return (cos * look(k) + np.sqrt(1.0 - cos**2) * look(7)).astype(np.float32)


def test_a_face_fits_its_track_near_its_look_is_in_doubt_a_little_further_and_does_not_fit_beyond():
    s, t = Splitter(SPLIT), track(1, 0)
    nobody = Verdict(UNKNOWN, 4.0, 0.0)
    assert s.fit(t, UNKNOWN, drifted(0, 0.1), nobody, TERMS) == "yes"
    assert s.fit(t, UNKNOWN, drifted(0, 0.25), nobody, TERMS) == "doubt"
    assert s.fit(t, UNKNOWN, look(3), nobody, TERMS) == "no"
    assert s.fit(t, 7, look(0), Verdict(8, 0.05, 0.2), TERMS) == "no"  # clearly someone other than its name


def test_faces_that_took_each_others_tracks_go_back_and_a_stranger_ends_the_track_it_took():
    s = Splitter(SPLIT)
    tracks = {1: track(1, 0), 2: track(2, 1)}
    states = {k: TrackState(TrackIdentity(6.9)) for k in tracks}
    swapped = FramePlan(np.ones(2), [0, 1], {0: 1, 1: 2})
    nobody = [Verdict(UNKNOWN, 4.0, 0.0)] * 2
    assert s.decide(swapped, np.stack([look(1), look(0)]), nobody, tracks, states, TERMS, 0.1) == ({0: 2, 1: 1}, [])
    stranger = FramePlan(np.ones(1), [0], {0: 1})
    assert s.decide(stranger, look(5)[None], nobody[:1], tracks, states, TERMS, 0.1) == ({0: None}, [1])
