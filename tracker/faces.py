"""The values that flow between stages: detected faces as parallel numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Faces:
    """The faces found in one image: ``boxes (n, 4)`` x1 y1 x2 y2, ``scores (n,)``, ``landmarks (n, 5, 2)``.

    Landmarks are left eye, right eye, nose, left and right mouth corner, as seen in the
    image, in pixels. A frame with no face is ``Faces.empty()``, an ordinary value.
    """

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.boxes)
        if self.boxes.shape != (n, 4) or self.scores.shape != (n,) or self.landmarks.shape != (n, 5, 2):
            raise ValueError(
                f"inconsistent face arrays: boxes {self.boxes.shape}, scores {self.scores.shape}, "
                f"landmarks {self.landmarks.shape}"
            )

    @classmethod
    def empty(cls) -> Faces:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32))

    def __len__(self) -> int:
        return len(self.boxes)

    def select(self, keep: np.ndarray) -> Faces:
        """The faces at ``keep`` (a boolean mask or indices)."""
        return Faces(self.boxes[keep], self.scores[keep], self.landmarks[keep])

    def scaled(self, factor: float | tuple[float, float]) -> Faces:
        """Coordinates multiplied by ``factor``, or by ``(x, y)`` factors (to map a downscaled frame's faces back,
        or a sub-stream's onto its main stream)."""
        fx, fy = factor if isinstance(factor, tuple) else (factor, factor)
        return Faces(self.boxes * np.array([fx, fy, fx, fy], np.float32), self.scores,
                     self.landmarks * np.array([fx, fy], np.float32))

    @property
    def sizes(self) -> np.ndarray:
        """The shorter side of each box, in pixels."""
        return np.minimum(self.boxes[:, 2] - self.boxes[:, 0], self.boxes[:, 3] - self.boxes[:, 1])
