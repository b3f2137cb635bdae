"""The tracker: one track per person walking through, through misses; re-joined by embedding."""

import numpy as np

from tracker.faces import Faces
from tracker.track.tracking import FaceTracker, iou


def faces(*boxes) -> Faces:
    b = np.array(boxes, np.float32).reshape(-1, 4)
    centres = (b[:, None, :2] + b[:, None, 2:]) / 2
    return Faces(b, np.ones(len(b), np.float32), np.repeat(centres, 5, axis=1))


def unit(seed: int, dim: int = 8) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim)
    return (v / np.linalg.norm(v)).astype(np.float32)


def test_iou_of_identical_disjoint_and_half_overlapping_boxes():
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [5, 0, 15, 10]], np.float32)
    assert np.allclose(iou(a, b), [[1.0, 0.0, 1 / 3]])


def test_a_face_moving_fast_across_the_view_is_one_track():
    tracker = FaceTracker(min_iou=0.2)
    ids = set()
    for step in range(20):  # moving 5/8 of its width per frame: consecutive boxes barely overlap
        x = 50.0 * step
        s = tracker.update(step * 0.2, faces((x, 100, x + 80, 180)))
        ids.update(s.track_ids.tolist())
    assert ids == {1}


def test_two_faces_keep_their_own_tracks():
    tracker = FaceTracker()
    for step in range(10):
        s = tracker.update(step * 0.2, faces((10 + 5 * step, 10, 90 + 5 * step, 90), (300, 10, 380, 90)))
        assert s.track_ids.tolist() == [1, 2]


def test_a_short_miss_keeps_the_track_and_a_long_absence_ends_it():
    tracker = FaceTracker(max_age=1.0)
    tracker.update(0.0, faces((0, 0, 80, 80)))
    assert tracker.update(0.6, faces()).ended == []
    assert tracker.update(0.8, faces((0, 0, 80, 80))).track_ids.tolist() == [1]
    step = tracker.update(2.0, faces())
    assert [t.id for t in step.ended] == [1]
    assert tracker.update(2.2, faces((0, 0, 80, 80))).track_ids.tolist() == [2]


def test_a_face_reappearing_elsewhere_rejoins_its_track_by_embedding_only_when_close():
    tracker = FaceTracker(reid_distance=0.25)
    me, other = unit(1), unit(2)
    tracker.update(0.0, faces((0, 0, 80, 80)), np.stack([me]))
    # hidden for a frame, then seen far away (no overlap): the same embedding re-joins track 1
    tracker.update(0.2, faces())
    assert tracker.update(0.4, faces((400, 0, 480, 80)), np.stack([me])).track_ids.tolist() == [1]
    tracker.update(0.6, faces())
    step = tracker.update(0.8, faces((0, 200, 80, 280)), np.stack([other]))
    assert step.track_ids.tolist() == [2] and [t.id for t in step.started] == [2]


def test_end_all_ends_every_open_track():
    tracker = FaceTracker()
    tracker.update(0.0, faces((0, 0, 80, 80), (200, 0, 280, 80)))
    assert sorted(t.id for t in tracker.end_all()) == [1, 2]
    assert tracker.tracks == {}
