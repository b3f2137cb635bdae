"""Face quality: how large, how sharp and how frontal each face is."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tracker.faces import Faces


@dataclass(frozen=True)
class Quality:
    """Per-face measures, parallel arrays of length n.

    ``size``: shorter box side in pixels. ``sharpness``: variance of the Laplacian of the
    aligned crop's grey levels (blur lowers it; above ~100 is crisp at 150 px). ``frontal``:
    1 for a face looking straight at the camera, falling towards 0 as yaw or roll grow,
    estimated from where the nose sits between the eyes and how level the eyes are.
    """

    size: np.ndarray
    sharpness: np.ndarray
    frontal: np.ndarray


def frontal_score(landmarks: np.ndarray) -> np.ndarray:
    """Frontal-pose score in [0, 1] for ``landmarks (n, 5, 2)``."""
    left, right, nose = landmarks[:, 0], landmarks[:, 1], landmarks[:, 2]
    eyes = right - left
    eye_distance = np.maximum(np.linalg.norm(eyes, axis=1), 1e-6)
    # Yaw: the nose's offset from the eyes' midpoint, along the eye line, relative to eye distance.
    offset = ((nose - (left + right) / 2) * eyes).sum(axis=1) / eye_distance**2
    yaw = np.clip(1.0 - np.abs(offset) / 0.5, 0.0, 1.0)
    # Roll: the eye line's angle from horizontal; 45 degrees or more scores 0.
    roll = np.clip(1.0 - np.abs(np.arctan2(eyes[:, 1], eyes[:, 0])) / (np.pi / 4), 0.0, 1.0)
    return (yaw * roll).astype(np.float32)


def sharpness(crops: np.ndarray) -> np.ndarray:
    """Variance of the Laplacian of each aligned crop ``(n, s, s, 3)``."""
    values = [cv2.Laplacian(cv2.cvtColor(c, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var() for c in crops]
    return np.asarray(values, np.float32)


def measure(faces: Faces, crops: np.ndarray) -> Quality:
    """Quality of ``faces`` given their aligned ``crops``."""
    return Quality(faces.sizes.astype(np.float32), sharpness(crops), frontal_score(faces.landmarks))


def rank(quality: dict[str, float]) -> float:
    """How good a stored face is to show or keep first: large, sharp and frontal (size and sharpness capped at
    200, beyond which they make no better face)."""
    return min(quality["size"], 200.0) * min(quality["sharpness"], 200.0) * quality["frontal"]


def face_weight(size: np.ndarray, frontal: np.ndarray, sharp: np.ndarray | None = None) -> np.ndarray:
    """How much a face counts as evidence, 0-1: large (80 px and up), frontal and (if known) sharp (40 and up)."""
    weight = np.clip(size / 80.0, 0.0, 1.0) * frontal
    if sharp is not None:
        weight = weight * np.clip(sharp / 40.0, 0.0, 1.0)
    return weight.astype(np.float32)
