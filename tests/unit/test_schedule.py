"""The embedding schedule on its own: touching boxes, jumps, and who is due."""

import numpy as np

from tracker.config import TrackingConfig
from tracker.faces import Faces
from tracker.track.identity import TrackIdentity
from tracker.track.schedule import EmbeddingSchedule, jumped, touching
from tracker.track.state import TrackState
from tracker.track.tracking import FaceTracker


def faces(*lefts: float, size: float = 100.0) -> Faces:
    boxes = np.array([[x, 100, x + size, 100 + size] for x in lefts], np.float32).reshape(-1, 4)
    marks = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]], np.float32)
    return Faces(boxes, np.ones(len(boxes), np.float32), (boxes[:, None, :2] + marks[None] * size).reshape(-1, 5, 2))


def tracked(*lefts: float) -> FaceTracker:
    tracker = FaceTracker(0.2, 1.5, 0.5)
    found = faces(*lefts)
    tracker.update(0.0, found, None, np.ones(len(found), np.float32), {})
    return tracker


def test_faces_touch_when_their_boxes_overlap_another_face_or_another_tracks_box():
    tracker = tracked(50, 400)
    apart, close = faces(50, 400), faces(50, 120)
    assert touching(0.2, apart, tracker.tracks, tracker.match(0.2, apart.boxes)) == [False, False]
    assert touching(0.2, close, tracker.tracks, {0: 1}) == [True, True]


def test_a_box_jumped_when_it_is_far_from_where_its_motion_puts_it():
    track = next(iter(tracked(50).tracks.values()))
    assert not jumped(track, np.array([55, 100, 155, 200], np.float32), 0.2, 0.5)
    assert jumped(track, np.array([50, 100, 350, 400], np.float32), 0.2, 0.5)


def test_a_named_track_is_due_when_it_did_not_agree_on_the_frame_before_and_a_new_face_always():
    schedule, tracker = EmbeddingSchedule(TrackingConfig()), tracked(50)
    (track_id,) = tracker.tracks
    state = TrackState(TrackIdentity(6.9, identity=7), agreed_at=0.0)
    found = faces(50, 400)
    choose = lambda t, previous: schedule.choose(t, previous, found, {0: track_id}, np.ones(2), False,  # noqa: E731
                                                 tracker.tracks, {track_id: state})[0]
    assert choose(0.2, 0.0) == [1]  # agreed on the frame before: not due; the new face is
    assert choose(0.4, 0.2) == [0, 1]
    assert schedule.choose(0.4, 0.2, found, {0: track_id}, np.ones(2), True, tracker.tracks, {track_id: state}
                           )[0] == [0, 1]  # a cut: everyone
