"""Reading and writing images: RGB uint8 arrays inside, clear errors at the edge."""

from __future__ import annotations

import base64
import io
import os
import stat
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from tracker.errors import ImageError

NOT_AN_IMAGE = "not an image this program can decode (JPEG, PNG, BMP, WebP, TIFF)"


def read_image(path: Path) -> np.ndarray:
    """Read ``path`` as an RGB ``(h, w, 3)`` uint8 array, or raise ``ImageError`` naming the file."""
    try:
        mode = os.stat(path).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # a FIFO or device would hang the read
            raise ImageError(f"{path}: not a regular file (a pipe, socket or device); give an image file")
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a folder, not an image") from None
    except OSError as error:
        raise ImageError(f"{path}: cannot read: {error.strerror or error}") from None
    return decode_image(data.tobytes(), str(path))


def decode_image(data: bytes, source: str, max_pixels: int | None = None) -> np.ndarray:
    """Decode image bytes (from ``source``) to RGB, refusing images over ``max_pixels`` before decoding.

    With a limit, the size comes from the header alone (Pillow reads no pixels), and an image whose
    header cannot be read is refused rather than handed to a decoder that knows no limit.
    """
    if not data:
        raise ImageError(f"{source}: file is empty")
    if max_pixels is not None:
        width, height = _header_size(data, source, max_pixels)
        if width * height > max_pixels:
            raise ImageError(f"{source}: {width}x{height} is over the limit of {max_pixels:,} pixels")
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageError(f"{source}: {NOT_AN_IMAGE}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _header_size(data: bytes, source: str, max_pixels: int) -> tuple[int, int]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bombs are refused below, by our own limit; damaged tags by the decoder
            with Image.open(io.BytesIO(data)) as header:  # reads the header only
                return header.size
    except Image.DecompressionBombError:  # Pillow's own ceiling, far above ours: a decompression bomb
        raise ImageError(f"{source}: over the limit of {max_pixels:,} pixels (its header claims far more)") from None
    except (OSError, ValueError):
        raise ImageError(f"{source}: {NOT_AN_IMAGE}") from None


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


def face_region(image: np.ndarray, box: np.ndarray, margin: float = 0.4) -> np.ndarray:
    """The face's box grown by ``margin`` of its size on every side, clipped to the image."""
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * margin, (y2 - y1) * margin
    h, w = image.shape[:2]
    left, top = max(0, int(x1 - dx)), max(0, int(y1 - dy))
    right, bottom = min(w, int(x2 + dx) + 1), min(h, int(y2 + dy) + 1)
    return image[top:bottom, left:right]


def jpeg_of(rgb: np.ndarray) -> bytes:
    """A stored face crop as JPEG (CPU work: callers on an event loop run it on a thread)."""
    return cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes()


def jpeg_base64(rgb: np.ndarray, max_bytes: int) -> str | None:
    """``rgb`` as base64 JPEG of at most ``max_bytes`` (lower qualities tried in turn); None when it won't fit."""
    for quality in (90, 75, 50):
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok and len(data) <= max_bytes:
            return base64.b64encode(data.tobytes()).decode()
    return None


def blur(rgb: np.ndarray) -> np.ndarray:
    """The image made unrecognisable: shrunk to 8 px across and blown up again (pixelated), then smoothed."""
    h, w = rgb.shape[:2]
    if not h or not w:
        return rgb.copy()
    small = cv2.resize(rgb, (8, max(1, round(8 * h / w))), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST), (0, 0), max(1.0, w / 16))


def blur_boxes(rgb: np.ndarray, boxes: list[np.ndarray]) -> np.ndarray:
    """A copy of ``rgb`` with each face region (its box grown as for crops) blurred."""
    out = rgb.copy()
    for box in boxes:
        region = face_region(out, box)  # a view into ``out``
        region[...] = blur(region)
    return out


def decode_own(data: bytes, what: str) -> np.ndarray:
    """RGB of an image facetrack encoded itself (a crop it stored or sent); ``ValueError`` when it does not decode:
    damaged data of ours, not the caller's fault (``decode_image``'s ``ImageError`` is for what callers send)."""
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"{what} does not decode")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def blurred_jpeg_base64(jpeg: str, max_bytes: int) -> str | None:
    """A base64 JPEG face crop, blurred."""
    return jpeg_base64(blur(decode_own(base64.b64decode(jpeg), "a face crop")), max_bytes)
