"""The FaceNet distance in its two forms gives the same numbers: 0 for the same face vector, 4 for opposite."""

import numpy as np

from tracker.distance import pairwise, squared_distance


def test_both_forms_of_the_squared_distance_agree_on_unit_vectors():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 128)).astype(np.float32)
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b = np.vstack([a[0], -a[0], a[1:3]])
    direct = np.array([[squared_distance(x, y) for y in b] for x in a])
    assert np.allclose(pairwise(a, b), direct, atol=1e-5)
    assert pairwise(a, b)[0, 0] == 0.0 and abs(pairwise(a, b)[0, 1] - 4.0) < 1e-5  # same; opposite
    assert np.allclose(squared_distance(a, a[0]), direct[:, 0])  # one vector against many rows
