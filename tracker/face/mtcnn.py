"""The MTCNN detector (facenet-pytorch), batched in torch.

MTCNN's quirks end here: ``None`` for "no face" becomes ``Faces.empty()``, object arrays
become float32, and boxes found on a downscaled frame come back in full-frame pixels.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from facenet_pytorch import MTCNN

from tracker.config import DetectorConfig
from tracker.face.detector import Detector
from tracker.faces import Faces

MTCNN_THRESHOLDS = [0.6, 0.7, 0.7]  # its three stages' thresholds: facenet-pytorch's own (was detector.thresholds)


class MtcnnDetector(Detector):
    """MTCNN with its stages' thresholds ``MTCNN_THRESHOLDS``; frames of one size run as one batch."""

    def __init__(self, config: DetectorConfig, device: torch.device) -> None:
        super().__init__(config)
        self.device = device
        self._min_side = max(12, int(round(config.min_face_size * config.scale)))
        self._mtcnn = MTCNN(
            keep_all=True,
            min_face_size=self._min_side,
            thresholds=MTCNN_THRESHOLDS,
            device=device,
        )

    def _detect(self, frames: list[np.ndarray], glances: list[bool]) -> list[Faces]:
        scaled = [self._downscale(frame) for frame in frames]
        small = [min(f.shape[:2]) < self._min_side for f in scaled]
        if any(small):  # smaller than the smallest face: nothing to find (and MTCNN would fail on it)
            found = iter(self._detect([f for f, s in zip(frames, small) if not s],
                                      [g for g, s in zip(glances, small) if not s]))
            return [Faces.empty() if s else next(found) for s in small]
        if len({f.shape for f in scaled}) == 1:
            results = self._run(scaled)
        else:
            results = [self._run([f])[0] for f in scaled]
        return [faces.scaled(1.0 / self.config.scale) if self.config.scale != 1.0 else faces for faces in results]

    def _downscale(self, frame: np.ndarray) -> np.ndarray:
        if self.config.scale == 1.0:
            return frame
        return cv2.resize(frame, None, fx=self.config.scale, fy=self.config.scale, interpolation=cv2.INTER_AREA)

    def _run(self, frames: list[np.ndarray]) -> list[Faces]:
        with torch.inference_mode():
            boxes, probs, points = self._mtcnn.detect(np.stack(frames), landmarks=True)
        return [_to_faces(b, p, m) for b, p, m in zip(boxes, probs, points)]


def _to_faces(boxes: np.ndarray | None, probs: np.ndarray | None, points: np.ndarray | None) -> Faces:
    if boxes is None or len(boxes) == 0:
        return Faces.empty()
    return Faces(
        np.asarray(boxes, np.float32).reshape(-1, 4),
        np.asarray(probs, np.float32).reshape(-1),
        np.asarray(points, np.float32).reshape(-1, 5, 2),
    )
