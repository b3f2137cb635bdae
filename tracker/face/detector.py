"""The detector every model is: RGB uint8 frames in, ``Faces`` out (boxes in full-frame pixels, a score,
five landmarks), cut to ``min_face_size`` and ``min_confidence``. ``tracker.face.detect`` chooses the model."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from tracker.config import DetectorConfig
from tracker.faces import Faces


class Detector(ABC):
    """Finds faces, their scores and five landmarks in RGB uint8 frames."""

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config

    def detect(self, frame: np.ndarray) -> Faces:
        """The faces in one frame."""
        return self.detect_batch([frame])[0]

    def detect_batch(self, frames: list[np.ndarray], zooms: list[float] | None = None,
                     glances: list[bool] | None = None) -> list[Faces]:
        """The faces in each frame, at least ``min_face_size`` and ``min_confidence``. ``zooms``: how many of the
        camera's pixels one pixel of each frame is (a sub-stream's frame of a camera named by its main stream:
        ``min_face_size`` counts the camera's pixels); the boxes stay in the frame's own pixels. ``glances``: the
        frames to look at quickly (a quiet camera's heartbeat: YuNet at 640 px on the long side, finding the
        larger faces for a fraction of the work; other detectors look as usual)."""
        for frame in frames:
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                raise ValueError(f"expected an RGB uint8 (h, w, 3) frame, got {frame.dtype} {frame.shape}")
        if not frames:
            return []
        zooms = zooms or [1.0] * len(frames)
        found = self._detect(frames, glances or [False] * len(frames))
        return [self._keep(faces, zoom) for faces, zoom in zip(found, zooms, strict=True)]

    def _keep(self, faces: Faces, zoom: float) -> Faces:
        return faces.select((faces.scores >= self.min_confidence) & (faces.sizes * zoom >= self.config.min_face_size))

    @property
    def min_confidence(self) -> float:
        return self.config.min_confidence or self.default_confidence

    default_confidence = 0.9

    @abstractmethod
    def _detect(self, frames: list[np.ndarray], glances: list[bool]) -> list[Faces]:
        """Each frame's faces in full-frame pixels, before the size and score cut (``glances``: see
        ``detect_batch``)."""
