"""Camera views of a photograph for training (named, deterministic, each doing what it says) and 128-byte
codes that keep a unit vector's distances within the rounding."""

import cv2
import numpy as np
import pytest

from pipelines.eval.views import view, views
from tests.support.data import STILLS, needs_data
from tracker.codes import code_distance, code_scale, quantise
from tracker.distance import squared_distance
from tracker.errors import ConfigError
from tracker.images import read_image


@pytest.fixture(scope="module")
def photo():
    if not STILLS.exists():
        pytest.skip(f"no stills at {STILLS}")
    return read_image(sorted(STILLS.glob("*.jpg"))[0])


def detail(image: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


@needs_data
def test_each_view_keeps_the_shape_and_changes_what_it_names(photo):
    seen = {v.name: v(photo) for v in views("full,32,blur,jpeg,gamma,ir,26+jpeg")}
    assert all(image.shape == photo.shape and image.dtype == np.uint8 for image in seen.values())
    assert np.array_equal(seen["full"], photo)
    assert detail(seen["blur"]) < detail(photo) / 2 and detail(seen["32"]) < detail(photo) / 2
    assert seen["gamma"].mean() < photo.mean()  # a dark scene, brightened only part of the way
    b, g, r = cv2.split(seen["ir"])
    assert np.array_equal(b, g) and np.array_equal(g, r)  # no colour at night
    assert 0 < np.abs(seen["jpeg"].astype(int) - photo).mean() < 20
    assert np.array_equal(view("26+jpeg")(photo), seen["26+jpeg"])  # deterministic: a cache can hold it


def test_an_unknown_view_is_refused_naming_the_part():
    with pytest.raises(ConfigError, match="view '26\\+fog': 'fog' is not full, a face size"):
        views("full,26+fog")
    with pytest.raises(ConfigError, match="'4' is not"):
        view("4")


def test_128_byte_codes_keep_distances_within_the_rounding():
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((2000, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    scale = code_scale(vectors)
    codes = quantise(vectors, scale)
    assert codes.dtype == np.int8 and codes.nbytes == 128 * len(vectors)
    a, b = vectors[:1000], vectors[1000:]
    close = a + 0.2 * rng.standard_normal(a.shape).astype(np.float32)
    close /= np.linalg.norm(close, axis=1, keepdims=True)
    for other in (b, close):
        exact = squared_distance(a, other)
        coded = code_distance(codes[:1000], quantise(other, scale), scale)
        error = np.abs(coded - exact)  # a step of 1/scale (about 0.003) in each of 128 components
        assert error.mean() < 0.005 and error.max() < 0.04
