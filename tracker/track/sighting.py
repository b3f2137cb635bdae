"""A sighting: what a camera keeps of a track that ended unknown, for clustering and review.

``CameraTracks`` collects a track's best faces while it is open (aligned as the gallery
stores faces, so a sighting's faces can be enrolled as they are) and hands the sighting out
when the track ends; the live pipeline writes it into the gallery file off the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tracker.face.align import STORE_224, align, landmarks_on_crop

SIGHTING_FACES = 3  # the best faces (by size, pose, sharpness) a sighting keeps (was unknowns.faces_per_track)


@dataclass(frozen=True)
class SightingFace:
    crop: np.ndarray  # (224, 224, 3) uint8 RGB, aligned onto STORE_224
    landmarks: np.ndarray  # (5, 2) on the crop
    quality: dict[str, float]  # size, sharpness, frontal
    embedding: np.ndarray  # (d,) unit float32, by the sighting's model
    captured_at: float  # capture time, Unix seconds
    weight: float  # how good a face it is (face_weight): the best are kept


@dataclass(frozen=True)
class Sighting:
    camera: str
    track_id: int
    first_time: float
    last_time: float
    model_id: str
    faces: list[SightingFace]
    identity_id: int | None = None  # the track's name, for a named track kept with unknowns.keep_named
    review: tuple[int, float, float] | None = None  # it ended asking (identity.review): candidate, evidence, to_bound

    def mean(self) -> np.ndarray:
        """The mean of its faces' unit embeddings (not normalised): ``2 - 2 a.b`` of two such means is the mean
        squared distance between the faces of one and the faces of the other (average linkage)."""
        return np.mean([f.embedding for f in self.faces], axis=0).astype(np.float32)


@dataclass
class BestFaces:
    """A track's ``keep`` best faces so far, by weight; a face is aligned only when it makes the cut."""

    keep: int
    faces: list[SightingFace] = field(default_factory=list)

    def offer(self, image: np.ndarray, landmarks: np.ndarray, quality: dict[str, float], embedding: np.ndarray,
              captured_at: float, weight: float) -> None:
        if self.keep <= 0 or (len(self.faces) >= self.keep and weight <= self.faces[-1].weight):
            return
        face = SightingFace(align(image, landmarks, STORE_224), landmarks_on_crop(landmarks, STORE_224), quality,
                            embedding.astype(np.float32), captured_at, weight)
        self.faces = sorted([*self.faces, face], key=lambda f: -f.weight)[: self.keep]
