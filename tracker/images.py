"""Reading and writing images: RGB uint8 arrays inside, clear errors at the edge."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tracker.errors import ImageError


def read_image(path: Path) -> np.ndarray:
    """Read ``path`` as an RGB ``(h, w, 3)`` uint8 array, or raise ``ImageError`` naming the file."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a folder, not an image") from None
    except OSError as error:
        raise ImageError(f"{path}: cannot read: {error.strerror or error}") from None
    if data.size == 0:
        raise ImageError(f"{path}: file is empty")
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageError(f"{path}: not an image this program can decode (JPEG, PNG, BMP, WebP, TIFF)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def write_image(path: Path, rgb: np.ndarray) -> None:
    """Write an RGB array to ``path``; the format follows the suffix."""
    ok, encoded = cv2.imencode(path.suffix or ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ImageError(f"{path}: cannot encode an image with suffix '{path.suffix}'")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        encoded.tofile(path)
    except OSError as error:
        raise ImageError(f"{path}: cannot write: {error.strerror or error}") from None
