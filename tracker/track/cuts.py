"""Shot cuts between analysed frames, pure and cheap (a 64x36 thumbnail per frame).

A frame's score is how much its colours moved since the previous analysed frame: the mean,
over the four quarters of the picture, of one minus the intersection of their hue-saturation
histograms (12 x 8 bins; 0 = the same colours, 1 = none shared). Colour histograms ignore
motion inside the picture (people walking, a camera panning over the same room) but not a
new picture, as PySceneDetect's content detector does with HSV; quarters keep a cut between
two shots of the same set from averaging out. A frame is a cut when its score reaches
``hard``, or reaches ``soft`` and ``ratio`` times the median of the recent scores (an adaptive
threshold: a still scene's cuts are weaker than a busy one's motion). Measured on the 34 hard
cuts of a real sitcom scene at 5 analysed frames a second in docs/benchmarks.md ("Shot cuts").
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np

THUMB = (64, 36)
BINS = (12, 8)
SOFT = 0.15  # a smaller change than ``hard`` is a cut too when it is also ``RATIO`` times the median recent change
RATIO = 3.0  # (a still scene's cuts are weaker than a busy one's motion; were tracking.cut_soft and cut_ratio)


def colour_histograms(image: np.ndarray) -> np.ndarray:
    """The four quarters' hue-saturation histograms of an RGB image, each summing to 1: ``(4, 96)``."""
    small = cv2.resize(image, THUMB, interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    h, w = hsv.shape[0] // 2, hsv.shape[1] // 2
    quarters = (hsv[:h, :w], hsv[:h, w:], hsv[h:, :w], hsv[h:, w:])
    hists = [cv2.calcHist([q], [0, 1], None, list(BINS), [0, 180, 0, 256]).ravel() for q in quarters]
    return np.stack([x / max(float(x.sum()), 1.0) for x in hists]).astype(np.float32)


def cut_score(previous: np.ndarray, current: np.ndarray) -> float:
    """0 (the same colours in every quarter) to 1 (none shared)."""
    return float(1.0 - np.minimum(previous, current).sum(axis=1).mean())


class CutDetector:
    """``update(image)`` per analysed frame: whether it starts a new shot. ``hard`` 0 turns it off."""

    def __init__(self, hard: float, soft: float = SOFT, ratio: float = RATIO, window: int = 8) -> None:
        self.hard, self.soft, self.ratio = hard, soft, ratio
        self._previous: np.ndarray | None = None
        self._recent: deque[float] = deque(maxlen=window)
        self.cuts = 0

    def update(self, image: np.ndarray) -> bool:
        if not self.hard:
            return False
        current = colour_histograms(image)
        previous, self._previous = self._previous, current
        if previous is None:
            return False
        score = cut_score(previous, current)
        usual = float(np.median(self._recent)) if self._recent else 0.0
        self._recent.append(score)
        cut = score >= self.hard or (score >= self.soft and score >= self.ratio * usual)
        self.cuts += cut
        return cut

    def reset(self) -> None:
        self._previous = None
        self._recent.clear()
