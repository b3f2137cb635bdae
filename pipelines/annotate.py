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
    return draw_boxes(rgb, [(f.box, f"{f.label()} {f.distance:.2f}", f.name is not None) for f in faces])


def draw_zones(rgb: np.ndarray, zones: dict[str, np.ndarray]) -> np.ndarray:
    """A copy of ``rgb`` with each zone's polygon (pixels) outlined in blue and named."""
    out = rgb.copy()
    thickness = max(1, round(max(rgb.shape[:2]) / 500))
    for name, polygon in zones.items():
        cv2.polylines(out, [polygon.reshape(-1, 1, 2)], True, (60, 120, 255), thickness)
        x, y = polygon.min(axis=0)
        cv2.putText(out, name, (int(x) + 4, int(y) + 14 * thickness), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thickness,
                    (60, 120, 255), thickness)
    return out


def draw_boxes(rgb: np.ndarray, boxes: list[tuple]) -> np.ndarray:
    """A copy of ``rgb`` with each ``(box, label, known)`` drawn: green when known, orange when not."""
    out = rgb.copy()
    thickness = max(1, round(max(rgb.shape[:2]) / 400))
    for box, label, known in boxes:
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        colour = (0, 200, 0) if known else (230, 160, 0)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness)
        cv2.putText(out, label, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thickness, colour, thickness)
    return out
