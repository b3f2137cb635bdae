"""Face detection: an adapter around facenet-pytorch's MTCNN.

MTCNN's quirks end here: ``None`` for "no face" becomes ``Faces.empty()``, object arrays
become float32, and boxes found on a downscaled frame come back in full-frame pixels.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from facenet_pytorch import MTCNN

from tracker.config import DetectorConfig
from tracker.faces import Faces


class FaceDetector:
    """Finds faces, their probabilities and five landmarks in RGB uint8 frames."""

    def __init__(self, config: DetectorConfig, device: torch.device) -> None:
        self.config = config
        self.device = device
        self._min_side = max(12, int(round(config.min_face_size * config.scale)))
        self._mtcnn = MTCNN(
            keep_all=True,
            min_face_size=self._min_side,
            thresholds=list(config.thresholds),
            device=device,
        )

    def detect(self, frame: np.ndarray) -> Faces:
        """The faces in one frame."""
        return self.detect_batch([frame])[0]

    def detect_batch(self, frames: list[np.ndarray]) -> list[Faces]:
        """The faces in each frame; frames of one size are run as one batch."""
        if not frames:
            return []
        scaled = [self._downscale(frame) for frame in frames]
        small = [min(f.shape[:2]) < self._min_side for f in scaled]
        if any(small):  # smaller than the smallest face: nothing to find (and MTCNN would fail on it)
            found = iter(self.detect_batch([frame for frame, s in zip(frames, small) if not s]))
            return [Faces.empty() if s else next(found) for s in small]
        if len({f.shape for f in scaled}) == 1:
            results = self._run(scaled)
        else:
            results = [self._run([f])[0] for f in scaled]
        return [faces.scaled(1.0 / self.config.scale) if self.config.scale != 1.0 else faces for faces in results]

    def _downscale(self, frame: np.ndarray) -> np.ndarray:
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 (h, w, 3) frame, got {frame.dtype} {frame.shape}")
        if self.config.scale == 1.0:
            return frame
        return cv2.resize(frame, None, fx=self.config.scale, fy=self.config.scale, interpolation=cv2.INTER_AREA)

    def _run(self, frames: list[np.ndarray]) -> list[Faces]:
        with torch.inference_mode():
            boxes, probs, points = self._mtcnn.detect(np.stack(frames), landmarks=True)
        return [self._to_faces(b, p, m) for b, p, m in zip(boxes, probs, points)]

    def _to_faces(self, boxes: np.ndarray | None, probs: np.ndarray | None, points: np.ndarray | None) -> Faces:
        if boxes is None or len(boxes) == 0:
            return Faces.empty()
        faces = Faces(
            np.asarray(boxes, np.float32).reshape(-1, 4),
            np.asarray(probs, np.float32).reshape(-1),
            np.asarray(points, np.float32).reshape(-1, 5, 2),
        )
        keep = faces.scores >= self.config.min_confidence
        return faces.select(keep)
