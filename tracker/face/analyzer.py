"""The one face path: detect, align, measure quality, embed. Enrollment, live video and
evaluation all go through ``FaceAnalyzer``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tracker.config import Config
from tracker.face.align import align_faces
from tracker.face.detect import FaceDetector
from tracker.face.embedders import Embedder, load_embedder, resolve_device
from tracker.face.quality import Quality, measure
from tracker.faces import Faces


@dataclass(frozen=True)
class Analysis:
    """Everything known about the faces of one image; arrays parallel to ``faces``."""

    faces: Faces
    crops: np.ndarray  # (n, size, size, 3) aligned uint8
    quality: Quality
    embeddings: np.ndarray  # (n, dim) unit float32

    def __len__(self) -> int:
        return len(self.faces)


class FaceAnalyzer:
    def __init__(self, detector: FaceDetector, embedder: Embedder) -> None:
        self.detector = detector
        self.embedder = embedder

    @classmethod
    def from_config(cls, config: Config) -> FaceAnalyzer:
        if config.models.threads:
            torch.set_num_threads(config.models.threads)
        device = resolve_device(config.models.device)
        return cls(FaceDetector(config.detector, device), load_embedder(config.models, device))

    @property
    def threshold(self) -> float:
        return self.embedder.threshold

    def analyze(self, images: list[np.ndarray]) -> list[Analysis]:
        """Detect every face in each image and embed them all in shared batches."""
        return self.embed_faces(images, self.detector.detect_batch(images))

    def embed_faces(self, images: list[np.ndarray], faces: list[Faces]) -> list[Analysis]:
        """Align, measure and embed already-detected ``faces`` of each image."""
        if not images:
            return []
        crops = [align_faces(image, f, self.embedder.template) for image, f in zip(images, faces)]
        counts = [len(f) for f in faces]
        embeddings = self.embedder.embed(np.concatenate(crops))
        parts = np.split(embeddings, np.cumsum(counts)[:-1])
        return [Analysis(f, c, measure(f, c), e) for f, c, e in zip(faces, crops, parts)]
