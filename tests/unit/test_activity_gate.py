"""The activity gate: a quiet camera detects at a heartbeat, a change at once, an open track at the full rate."""

import numpy as np
import pytest

from tracker.track.activity import CHANGED, HEARTBEAT, THUMB, TRACKING, ActivityGate, thumbnail

STEP = 0.2  # seconds between due frames (5 analysed frames a second)


def scene(seed: int = 0) -> np.ndarray:
    """A still background: a textured grey thumbnail."""
    rng = np.random.default_rng(seed)
    return rng.integers(40, 200, size=(THUMB[1], THUMB[0])).astype(np.uint8)


def noisy(base: np.ndarray, rng: np.random.Generator, sigma: float = 2.0) -> np.ndarray:
    return np.clip(base + rng.normal(0, sigma, base.shape), 0, 255).astype(np.uint8)


def with_person(base: np.ndarray, x: int, width: int = 6, height: int = 14) -> np.ndarray:
    """Someone (a dark block the size of a distant person on a 1080p frame) at column ``x``."""
    image = base.copy()
    image[40:40 + height, x:x + width] = 15
    return image


def run(gate: ActivityGate, frames: list[np.ndarray], tracking: list[bool] | None = None, start: float = 0.0):
    tracking = tracking or [False] * len(frames)
    return [gate.update(f, start + i * STEP, t) is not None
            for i, (f, t) in enumerate(zip(frames, tracking, strict=True))]


def test_a_quiet_camera_detects_its_first_frame_then_once_a_heartbeat():
    base, rng = scene(), np.random.default_rng(1)
    decisions = run(ActivityGate(heartbeat=1.0), [noisy(base, rng) for _ in range(26)])  # 5 s
    assert [i for i, d in enumerate(decisions) if d] == [0, 5, 10, 15, 20, 25]


def test_the_gate_says_why_a_frame_is_detected():
    base, rng = scene(), np.random.default_rng(10)
    gate = ActivityGate(heartbeat=1.0)
    reasons = [gate.update(noisy(base, rng), i * STEP, i == 7) for i in range(8)]
    assert reasons == [CHANGED, None, None, None, None, HEARTBEAT, None, TRACKING]
    assert gate.update(noisy(with_person(base, 30), rng), 8 * STEP, False) == CHANGED


def test_the_first_changed_frame_is_detected_at_once():
    base, rng = scene(), np.random.default_rng(2)
    frames = [noisy(base, rng) for _ in range(8)] + [noisy(with_person(base, 10), rng)]
    decisions = run(ActivityGate(heartbeat=10.0), frames)
    assert decisions[0] and not any(decisions[1:8]) and decisions[8]


def test_someone_walking_is_detected_on_every_frame():
    base, rng = scene(), np.random.default_rng(3)
    frames = [noisy(base, rng) for _ in range(5)] + [noisy(with_person(base, 10 + 8 * i), rng) for i in range(10)]
    decisions = run(ActivityGate(heartbeat=10.0), frames)
    assert all(decisions[5:])


def test_an_open_track_keeps_the_full_rate_without_change():
    base, rng = scene(), np.random.default_rng(4)
    frames = [noisy(base, rng) for _ in range(10)]
    assert all(run(ActivityGate(heartbeat=10.0), frames, tracking=[True] * 10))


def test_a_person_who_stops_still_is_found_within_a_heartbeat_after_the_track_ends():
    base, rng = scene(), np.random.default_rng(5)
    still = with_person(base, 50)
    frames = [noisy(still, rng) for _ in range(20)]
    gate = ActivityGate(heartbeat=1.0)
    decisions = run(gate, frames, tracking=[True] * 5 + [False] * 15)
    detected = [i for i, d in enumerate(decisions) if d]
    assert all(b - a <= 5 for a, b in zip(detected, detected[1:]))  # never more than a heartbeat (5 frames) apart
    assert gate.idle > 0


@pytest.mark.parametrize("sigma", [1.0, 3.0, 6.0])
def test_sensor_noise_does_not_open_the_gate(sigma):
    base, rng = scene(), np.random.default_rng(6)
    gate = ActivityGate(heartbeat=100.0)
    decisions = run(gate, [noisy(base, rng, sigma) for _ in range(50)])
    assert sum(decisions[1:]) <= 1 and gate.changed <= 2


def test_a_scene_that_always_moves_a_little_learns_it_and_still_sees_a_person():
    base, rng = scene(), np.random.default_rng(7)

    def leaves() -> np.ndarray:  # a corner of swaying leaves: 2% of the pixels change a lot on every frame
        frame = noisy(base, rng)
        frame[:6, :48] = rng.integers(0, 255, size=(6, 48))
        return frame

    gate = ActivityGate(heartbeat=100.0)
    decisions = run(gate, [leaves() for _ in range(60)])
    assert sum(decisions[-20:]) == 0  # learnt: the leaves alone no longer open the gate
    assert gate.update(with_person(leaves(), 80, width=12, height=24), 60 * STEP, False)


def test_zero_heartbeat_is_no_gate():
    base, rng = scene(), np.random.default_rng(8)
    assert all(run(ActivityGate(heartbeat=0.0), [noisy(base, rng) for _ in range(10)]))


def test_a_frame_of_another_size_is_detected():
    gate = ActivityGate(heartbeat=100.0)
    assert gate.update(scene(), 0.0, False) and gate.update(scene(), STEP, False) is None
    assert gate.update(np.zeros((10, 10), np.uint8), 2 * STEP, False) == CHANGED


def test_thumbnail_of_a_colour_frame_and_of_its_grey_plane_agree():
    rng = np.random.default_rng(9)
    rgb = rng.integers(0, 255, size=(1080, 1920, 3)).astype(np.uint8)
    grey = (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]).astype(np.uint8)
    a, b = thumbnail(rgb), thumbnail(grey)
    assert a.shape == b.shape == (THUMB[1], THUMB[0]) and a.dtype == np.uint8
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 2
