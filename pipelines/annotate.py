"""Drawing faces onto images for people to look at."""

from __future__ import annotations

import cv2
import numpy as np

from tracker.faces import Faces


def draw_faces(rgb: np.ndarray, faces: Faces, labels: list[str] | None = None) -> np.ndarray:
    """A copy of ``rgb`` with each face's box, landmarks and label drawn on it."""
    out = rgb.copy()
    thickness = max(1, round(max(rgb.shape[:2]) / 400))
    for i, (box, marks) in enumerate(zip(faces.boxes, faces.landmarks)):
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), (0, 255, 0), thickness)
        for x, y in marks:
            cv2.circle(out, (int(round(x)), int(round(y))), thickness + 1, (255, 0, 0), -1)
        label = labels[i] if labels else f"{faces.scores[i]:.2f}"
        origin = (x1, max(12, y1 - 4))
        cv2.putText(out, label, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thickness, (0, 255, 0), thickness)
    return out


def draw_labelled(rgb: np.ndarray, faces) -> np.ndarray:
    """A copy of ``rgb`` with each identified face's box and name (or "unknown") drawn on it."""
    out = rgb.copy()
    thickness = max(1, round(max(rgb.shape[:2]) / 400))
    for face in faces:
        x1, y1, x2, y2 = (int(round(v)) for v in face.box)
        colour = (0, 200, 0) if face.name else (230, 160, 0)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness)
        label = f"{face.label()} {face.distance:.2f}"
        cv2.putText(out, label, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thickness, colour, thickness)
    return out
