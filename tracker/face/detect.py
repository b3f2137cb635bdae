"""Face detection: one adapter per model, each giving the same ``Faces`` value (boxes in full-frame
pixels, a score, and five landmarks in MTCNN's order: the eye on the image's left, the other
eye, the nose tip, the mouth corner on the image's left, the other one).

``detector.model`` chooses: ``yunet`` (default; OpenCV's ``FaceDetectorYN``, faster and better
on small faces) or ``mtcnn`` (facenet-pytorch, in torch, batched on CUDA). Every path (live
video, enrollment, identify, evaluation, HTTP) gets its detector from ``load_detector``.
"""

from __future__ import annotations

import torch

from tracker.config import DetectorConfig
from tracker.face.detector import Detector
from tracker.face.yunet import YunetDetector

__all__ = ["Detector", "load_detector"]


def load_detector(config: DetectorConfig, device: torch.device) -> Detector:
    if config.model == "mtcnn":
        from tracker.face.mtcnn import MtcnnDetector  # facenet-pytorch: loaded only by those who choose MTCNN

        return MtcnnDetector(config, device)
    return YunetDetector(config)
