"""Uploads are measured by their header before any pixel is decoded: a decompression bomb is refused at once."""

import time

import cv2
import numpy as np
import pytest

from tests.support.stand_ins import png_claiming
from tracker.errors import ImageError
from tracker.images import decode_image


def test_a_header_claiming_900_million_pixels_is_refused_before_decoding():
    bomb = png_claiming(30_000, 30_000)
    started = time.perf_counter()
    with pytest.raises(ImageError, match=r"upload.png: over the limit of 40,000,000 pixels"):
        decode_image(bomb, "upload.png", max_pixels=40_000_000)
    assert time.perf_counter() - started < 1.0  # nothing was decoded


def test_an_image_over_the_limit_is_refused_with_its_size_and_one_within_it_decodes():
    png = cv2.imencode(".png", np.zeros((300, 500, 3), np.uint8))[1].tobytes()
    with pytest.raises(ImageError, match=r"wide.png: 500x300 is over the limit of 100,000 pixels"):
        decode_image(png, "wide.png", max_pixels=100_000)
    assert decode_image(png, "wide.png", max_pixels=150_000).shape == (300, 500, 3)


def test_with_a_limit_bytes_whose_header_cannot_be_read_are_refused():
    with pytest.raises(ImageError, match=r"junk.bin: not an image this program can decode"):
        decode_image(b"\x00\x01not an image" * 100, "junk.bin", max_pixels=100_000)
