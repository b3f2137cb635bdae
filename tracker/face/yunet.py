"""The YuNet detector (libfacedetection, Apache-2.0), run by OpenCV's ``FaceDetectorYN``.

Its quirks end here: it wants **BGR** (our frames are RGB; fed RGB it silently loses faces),
gives ``x, y, w, h`` boxes, and is trained for faces of about 10 to 300 px, so each frame is
scaled to at most ``LONG_SIDE`` px on its long side (a close-up then still gives one box, and
a 1080p frame costs a quarter), but never so far that a face of ``detector.min_face_size``
would fall under ``SMALLEST`` px. Its landmarks come in MTCNN's order already. One network
object serves every frame size (``setInputSize`` per frame); it is used by one thread only.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tracker.config import DetectorConfig
from tracker.face.detector import Detector
from tracker.faces import Faces

MODEL = Path(__file__).parent / "models" / "yunet" / "yunet_n_dynamic.onnx"
LONG_SIDE = 1024
GLANCE = 640  # px on the long side of a glance (a quiet camera's heartbeat): about a third of the work of 1024 px
SMALLEST = 12  # px: the smallest face YuNet finds reliably
NMS = 0.3


class YunetDetector(Detector):
    """YuNet: ``detector.min_confidence`` is its face score (default 0.7)."""

    default_confidence = 0.7

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__(config)
        self._net = cv2.FaceDetectorYN.create(str(MODEL), "", (320, 320), 0.3, NMS, 5000)

    def _detect(self, frames: list[np.ndarray], glances: list[bool]) -> list[Faces]:
        return [self._one(frame, glance) for frame, glance in zip(frames, glances, strict=True)]

    def scale_for(self, height: int, width: int, glance: bool = False) -> float:
        """The factor a frame of this size is scaled by before detection (a glance: to ``GLANCE`` px, whatever
        ``min_face_size``)."""
        if glance:
            return min(1.0, self.config.scale, GLANCE / max(height, width))
        scale = min(self.config.scale, LONG_SIDE / max(height, width))
        return min(1.0, max(scale, SMALLEST / self.config.min_face_size))

    def _one(self, frame: np.ndarray, glance: bool) -> Faces:
        height, width = frame.shape[:2]
        scale = self.scale_for(height, width, glance)
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        if scale != 1.0:
            bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        self._net.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, found = self._net.detect(bgr)
        if found is None or not len(found):
            return Faces.empty()
        found = np.asarray(found, np.float32).reshape(-1, 15)
        boxes = np.concatenate([found[:, :2], found[:, :2] + found[:, 2:4]], axis=1)
        faces = Faces(boxes, found[:, 14].copy(), found[:, 4:14].reshape(-1, 5, 2).copy())
        return faces.scaled(1.0 / scale) if scale != 1.0 else faces
