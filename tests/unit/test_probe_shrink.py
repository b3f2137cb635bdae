"""Probes shrunk to a camera's small faces for the open-set evaluation keep their size but lose the detail."""

import cv2
import numpy as np

from pipelines.eval.embedding import shrink


def detail(image: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def test_a_shrunk_image_keeps_its_size_and_loses_detail_the_smaller_its_face():
    image = np.random.default_rng(0).integers(0, 256, (250, 250, 3), dtype=np.uint8)
    at_48, at_26 = shrink(image, 48), shrink(image, 26)
    assert at_48.shape == at_26.shape == image.shape and at_26.dtype == np.uint8
    assert detail(at_26) < detail(at_48) < detail(image) / 4
    assert np.array_equal(shrink(image, 500), image)  # never enlarged: LFW's own size is the largest
