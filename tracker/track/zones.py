"""Zones: named polygons on a camera's frame (``cameras[].zones``), vertices as fractions of its width and
height, so a zone stays put when the stream's resolution changes. A face is in a zone when its box's centre
is. Pure."""

from __future__ import annotations

import numpy as np


class Zones:
    def __init__(self, polygons: dict[str, list[tuple[float, float]]]) -> None:
        self.polygons = {name: np.asarray(points, np.float64) for name, points in polygons.items()}

    def __bool__(self) -> bool:
        return bool(self.polygons)

    def of(self, box, width: int, height: int) -> list[str]:
        """The zones the centre of ``box`` (x1 y1 x2 y2 in pixels of a ``width`` x ``height`` frame) is in."""
        x, y = (box[0] + box[2]) / 2 / width, (box[1] + box[3]) / 2 / height
        return [name for name, polygon in self.polygons.items() if inside(x, y, polygon)]

    def pixels(self, width: int, height: int) -> dict[str, np.ndarray]:
        """Each polygon in pixels, for drawing."""
        return {name: np.round(p * (width, height)).astype(np.int32) for name, p in self.polygons.items()}


def inside(x: float, y: float, polygon: np.ndarray) -> bool:
    """Whether (x, y) is inside ``polygon`` (even-odd rule: a ray to the right crosses its edges an odd number
    of times)."""
    crossings = False
    xs, ys = polygon[:, 0], polygon[:, 1]
    for i in range(len(polygon)):
        x1, y1, x2, y2 = xs[i - 1], ys[i - 1], xs[i], ys[i]
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            crossings = not crossings
    return crossings
