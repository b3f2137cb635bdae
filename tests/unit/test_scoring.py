import numpy as np
import pytest

from gallery.matching import GalleryIndex
from gallery.scoring import candidate_distances, face_table, identity_distance, identity_distances


def unit(v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_the_rule_averages_the_nearest_k_faces_or_all_of_fewer():
    nearest = np.array([[0.1, 0.3, 0.5], [0.2, np.inf, np.inf], [np.inf, np.inf, np.inf]])
    np.testing.assert_allclose(identity_distance(nearest, 2), [0.2, 0.2, np.inf])
    np.testing.assert_allclose(identity_distance(nearest, 3), [0.3, 0.2, np.inf])


def test_faces_held_but_not_listed_count_as_the_floor():
    nearest = np.array([[0.1, np.inf, np.inf], [0.1, np.inf, np.inf]])
    got = identity_distance(nearest, 3, held=np.array([5, 1]), floor=np.array([0.4, 0.4]))
    np.testing.assert_allclose(got, [(0.1 + 0.4 + 0.4) / 3, 0.1])


def test_candidates_are_grouped_per_row_and_identity():
    distances = np.array([[0.1, 0.2, 0.3, 0.9], [0.0, 0.5, 0.6, 0.7]])
    owners = np.array([[1, 2, 1, 2], [2, 2, 2, 1]])
    rows, ids, got = candidate_distances(distances, owners, np.array([0, 2, 3]), top_k=2)
    assert list(zip(rows, ids)) == [(0, 1), (0, 2), (1, 1), (1, 2)]
    np.testing.assert_allclose(got, [0.2, 0.55, 0.7, 0.25])


@pytest.mark.parametrize("top_k", [1, 2, 3, 5])
def test_calibration_and_live_matching_give_the_same_identity_distance(top_k):
    rng = np.random.default_rng(top_k)
    ids = np.repeat(np.arange(10) * 2 + 3, rng.integers(1, 6, 10))  # 1 to 5 faces an identity, sparse ids
    rng.shuffle(ids)
    vectors = unit(rng.standard_normal((len(ids), 8)))
    queries = unit(rng.standard_normal((25, 8)))
    identities, table = face_table(ids)
    dense = identity_distances(np.maximum(2.0 - 2.0 * queries @ vectors.T, 0.0), table, top_k)
    live = GalleryIndex(ids, vectors, candidates=len(ids)).search(queries, threshold=4.0, margin=0.0, top_k=top_k)
    ranked = np.sort(dense, axis=1)
    np.testing.assert_array_equal(live.nearest, identities[np.argmin(dense, axis=1)])
    np.testing.assert_allclose(live.distance, ranked[:, 0], atol=1e-5)
    np.testing.assert_allclose(live.margin, ranked[:, 1] - ranked[:, 0], atol=1e-5)
