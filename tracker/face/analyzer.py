"""The one face path: detect, align, measure quality, embed. Enrollment, live video and
evaluation all go through ``FaceAnalyzer``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tracker.config import Config
from tracker.face.align import align_faces
from tracker.face.detect import Detector, load_detector
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
    def __init__(self, detector: Detector, embedder: Embedder) -> None:
        self.detector = detector
        self.embedder = embedder

    @classmethod
    def from_config(cls, config: Config) -> FaceAnalyzer:
        if config.models.threads:
            torch.set_num_threads(config.models.threads)
        device = resolve_device(config.models.device)
        return cls(load_detector(config.detector, device), load_embedder(config.models, device))

    @property
    def verify_threshold(self) -> float:
        """The model's verification threshold (one pair: same person or not, from LFW); the unit the ``*_share``
        settings are counted in. Naming against the gallery uses the match threshold (``Identifier.threshold``)."""
        return self.embedder.verify_threshold

    def analyze(self, images: list[np.ndarray]) -> list[Analysis]:
        """Detect every face in each image and embed them all in shared batches."""
        return self.embed_faces(images, self.detector.detect_batch(images))

    def embed_central(self, images: list[np.ndarray]) -> tuple[list[Analysis], list[int]]:
        """The central face of each image (``central_face``), embedded: an empty ``Analysis`` for an image
        without a face. Also how many faces were detected in each image."""
        detected = self.detector.detect_batch(images)
        faces = [central_face(f, *image.shape[:2]) for image, f in zip(images, detected)]
        return self.embed_faces(images, faces), [len(f) for f in detected]

    def embed_faces(self, images: list[np.ndarray], faces: list[Faces]) -> list[Analysis]:
        """Align, measure and embed already-detected ``faces`` of each image."""
        if not images:
            return []
        crops = [align_faces(image, f, self.embedder.template) for image, f in zip(images, faces)]
        counts = [len(f) for f in faces]
        embeddings = self.embedder.embed(np.concatenate(crops))
        parts = np.split(embeddings, np.cumsum(counts)[:-1])
        return [Analysis(f, c, measure(f, c), e) for f, c, e in zip(faces, crops, parts)]


def central_face(faces: Faces, height: int, width: int) -> Faces:
    """The face a photograph (an LFW image) is about: the one nearest the image centre, large faces preferred."""
    if len(faces) <= 1:
        return faces
    centres = (faces.boxes[:, :2] + faces.boxes[:, 2:]) / 2
    offset = np.linalg.norm(centres - np.array([width / 2, height / 2]), axis=1)
    return faces.select(np.array([np.argmin(offset / np.maximum(faces.sizes, 1.0))]))
