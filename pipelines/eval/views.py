"""Camera views of a photograph, for training and probing: what a face looks like through a camera rather
than a press photographer's lens. A view is named in a comma list (``full,32,blur,26+jpeg``):

- ``full``: the photograph as it is;
- a number: the face shrunk to that many pixels and back (``pipelines.eval.embedding.shrink``);
- ``blur``: out of focus or moving (Gaussian, σ 1.5 px at LFW's scale);
- ``jpeg``: a low-bitrate stream (JPEG quality 20);
- ``gamma``: a dark scene brightened by the camera (γ 1.8 on a third of the light);
- ``ir``: a night camera's infrared grey (one channel, contrast stretched, no colour);

and ``+`` joins them in order (``26+jpeg``: shrunk, then compressed). Every view is deterministic, so its
embeddings can be cached and a run reproduced."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from pipelines.eval.embedding import shrink
from tracker.errors import ConfigError


def _blur(image: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), 1.5)


def _jpeg(image: np.ndarray) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 20])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


def _gamma(image: np.ndarray) -> np.ndarray:
    dark = image.astype(np.float32) / 255.0 / 3.0
    return (np.power(dark, 1 / 1.8) * 255.0).clip(0, 255).astype(np.uint8)


def _ir(image: np.ndarray) -> np.ndarray:
    grey = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


STEPS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"blur": _blur, "jpeg": _jpeg, "gamma": _gamma, "ir": _ir}


@dataclass(frozen=True)
class View:
    name: str
    steps: tuple[Callable[[np.ndarray], np.ndarray], ...]

    def __call__(self, image: np.ndarray) -> np.ndarray:
        for step in self.steps:
            image = step(image)
        return image

    @property
    def identity(self) -> bool:
        return not self.steps


def view(name: str) -> View:
    """The view called ``name`` (see the module); a ``ConfigError`` naming the part it does not know."""
    name = name.strip()
    if name == "full":
        return View(name, ())
    steps = []
    for part in name.split("+"):
        if part.isdigit() and 8 <= int(part) <= 250:
            steps.append(lambda image, px=int(part): shrink(image, px))
        elif part in STEPS:
            steps.append(STEPS[part])
        else:
            raise ConfigError(f"view {name!r}: {part!r} is not full, a face size in px (8-250) or one of "
                              f"{', '.join(STEPS)}")
    return View(name, tuple(steps))


def views(names: str) -> tuple[View, ...]:
    """The views of a comma list, in order."""
    return tuple(view(name) for name in names.split(",") if name.strip())
