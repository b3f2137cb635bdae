"""The image decoder under a fuzzer: any bytes give an RGB image within the limit or a clean
``ImageError`` naming the source, never another exception, a crash or a hang."""

import cv2
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.errors import ImageError
from tracker.images import decode_image

LIMIT = 250_000


def _seeds() -> list[bytes]:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (40, 60, 3), np.uint8)
    return [cv2.imencode(ext, image)[1].tobytes() for ext in (".jpg", ".png", ".bmp", ".webp", ".tiff")]


SEEDS = _seeds()


@st.composite
def mutated_images(draw) -> bytes:
    """A real image file with bytes overwritten, cut short, or inserted (what broken uploads look like)."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data) - 1))
        edit = draw(st.sampled_from(["overwrite", "truncate", "insert"]))
        chunk = draw(st.binary(min_size=1, max_size=16))
        if edit == "overwrite":
            data[at:at + len(chunk)] = chunk
        elif edit == "truncate":
            del data[max(at, 1):]
        else:
            data[at:at] = chunk
    return bytes(data)


def decodes_cleanly(data: bytes) -> None:
    try:
        rgb = decode_image(data, "upload.bin", max_pixels=LIMIT)
    except ImageError as error:
        assert str(error).startswith("upload.bin: ")
        return
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert rgb.shape[0] * rgb.shape[1] <= LIMIT


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_images())
def test_a_damaged_image_decodes_or_is_refused_cleanly(data):
    decodes_cleanly(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_decode_or_are_refused_cleanly(data):
    decodes_cleanly(data)
