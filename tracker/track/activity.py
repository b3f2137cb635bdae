"""Whether a due frame goes to face detection: the activity gate, pure and clock-free.

A camera with nobody in view need not run the detector on every due frame. The reader makes
a small grey thumbnail of each due frame (``thumbnail``); the gate compares it with the
previous due frame's, pixel by pixel. A pixel moved when it changed by more than
``PIXEL_DELTA`` grey levels and ``NOISE_TIMES`` times the scene's usual change of a pixel
(sensor and compression noise: the median over the last ``WINDOW`` frames of each frame's
median change); the frame changed when the share of moved pixels exceeds ``min_share`` plus
``SHARE_TIMES`` times the share that usually moves (leaves, water, a flickering screen: the
lower quartile of the last ``WINDOW`` frames' shares). Medians and quartiles, so someone
walking about for less than three quarters of the window does not teach the gate that
people are usual.

A frame is detected when a track is open (the full rate), when it changed (at once: the first
changed frame), or when ``heartbeat`` seconds of the tracker's clock passed since the last
detected frame: never off, so a still face is found within a heartbeat. The first frame is
always detected. ``update`` says why (``TRACKING``, ``CHANGED``, ``HEARTBEAT``), or None: the
caller may look at a heartbeat frame more quickly (a glance: see ``Detector.detect_batch``).
What it gives up: a face that enters without moving enough pixels (a few pixels in a busy
scene) is found at the next heartbeat rather than at once.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np

TRACKING, CHANGED, HEARTBEAT = "tracking", "changed", "heartbeat"
THUMB = (160, 90)  # width, height: a 1080p frame's pixel blocks of 12 x 12; a 40 px face covers about 11 of them
PIXEL_DELTA = 10.0  # grey levels a thumbnail pixel must change by at least
NOISE_TIMES = 6.0  # ...and this many times the usual change of a pixel
SHARE_TIMES = 1.5  # the moved share must exceed the usual moved share this many times over, plus min_share
WINDOW = 50  # due frames the usual is the median of (10 s at 5 frames a second)


def thumbnail(image: np.ndarray) -> np.ndarray:
    """The gate's view of a frame, from its grey (luma) plane or its RGB image: ``THUMB``, grey uint8. A large
    frame is first sampled bilinearly down to three times that, then averaged in blocks (a millisecond for a
    1080p frame, a third of averaging it all; the noise it keeps is what the gate's noise floor learns)."""
    if image.shape[1] > 4 * THUMB[0] and image.shape[0] > 4 * THUMB[1]:
        image = cv2.resize(image, (3 * THUMB[0], 3 * THUMB[1]), interpolation=cv2.INTER_LINEAR)
    small = cv2.resize(image, THUMB, interpolation=cv2.INTER_AREA)
    return small if small.ndim == 2 else cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)


class ActivityGate:
    """``update(thumb, clock, tracking)`` per due frame: whether to detect on it."""

    def __init__(self, heartbeat: float, min_share: float = 0.001) -> None:
        self.heartbeat = heartbeat
        self.min_share = min_share
        self._previous: np.ndarray | None = None
        self._last = -np.inf  # the clock of the latest detected frame
        self._noise: deque[float] = deque(maxlen=WINDOW)  # recent frames' median change of a pixel, grey levels
        self._shares: deque[float] = deque(maxlen=WINDOW)  # recent frames' share of moved pixels
        self.changed = 0  # frames detected because they changed (with no track open)
        self.idle = 0  # frames left undetected

    def update(self, thumb: np.ndarray, clock: float, tracking: bool) -> str | None:
        """Why the frame at ``clock`` (seconds) is detected, or None when it is not; ``tracking``: the camera has an
        open track."""
        changed = self._changed(thumb.astype(np.int16))
        self.changed += changed and not tracking
        reason = TRACKING if tracking else CHANGED if changed else None
        if reason is None and not clock - self._last < self.heartbeat:
            reason = HEARTBEAT
        if reason is None:
            self.idle += 1
        else:
            self._last = clock
        return reason

    def _changed(self, current: np.ndarray) -> bool:
        previous, self._previous = self._previous, current
        if previous is None or previous.shape != current.shape:
            self._noise.clear()
            self._shares.clear()
            return True
        change = np.abs(current - previous)
        self._noise.append(float(np.median(change)))
        share = float(np.mean(change > max(PIXEL_DELTA, NOISE_TIMES * float(np.median(self._noise)))))
        usual = float(np.percentile(self._shares, 25)) if self._shares else 0.0
        self._shares.append(share)
        return share > self.min_share + SHARE_TIMES * usual
