import numpy as np
import pytest

from gallery.matching import GalleryIndex
from tracker.track.identity import UNKNOWN


def unit(v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def index_of(rows, candidates=64):
    ids = np.array([i for i, _ in rows])
    return GalleryIndex(ids, unit([v for _, v in rows]), candidates)


GALLERY = [(1, [1, 0, 0]), (1, [0.98, 0.2, 0]), (2, [0, 1, 0]), (2, [0.1, 0.99, 0]), (3, [0, 0, 1])]


def test_nearest_identity_within_threshold_is_named():
    m = index_of(GALLERY).search(unit([[1, 0.05, 0], [0.05, 1, 0], [0, 0.02, 1]]), threshold=0.2, margin=0.1)
    assert list(m.identity) == [1, 2, 3]
    assert np.all(m.distance < 0.2) and np.all(m.margin > 0.1)


def test_far_faces_are_unknown():
    m = index_of(GALLERY).search(unit([[1, 1, 1]]), threshold=0.2, margin=0.0)
    assert m.identity[0] == UNKNOWN
    assert m.nearest[0] in (1, 2, 3)


def test_a_near_tie_is_never_decided():
    between = unit([[1, 1.02, 0]])
    m = index_of([(1, [1, 0, 0]), (2, [0, 1, 0])]).search(between, threshold=1.0, margin=0.05)
    assert m.distance[0] < 1.0
    assert m.margin[0] < 0.05 and m.identity[0] == UNKNOWN


def test_identity_distance_is_the_mean_of_the_best_k_faces():
    rows = [(7, [1, 0]), (7, [0, 1]), (8, [1, 0.3])]
    q = unit([[1, 0]])
    one = index_of(rows).search(q, threshold=4, margin=0, top_k=1)
    two = index_of(rows).search(q, threshold=4, margin=0, top_k=2)
    assert one.nearest[0] == 7 and one.distance[0] == pytest.approx(0.0, abs=1e-6)
    # with k=2 identity 7 averages 0 and 2.0 (orthogonal): 1.0, so identity 8 wins
    assert two.nearest[0] == 8
    assert two.margin[0] == pytest.approx(1.0 - two.distance[0], abs=1e-5)


def test_faces_beyond_the_candidates_count_as_the_last_candidate():
    rng = np.random.default_rng(0)
    centres = unit(rng.standard_normal((100, 16)))
    vectors = unit(np.repeat(centres, 2, axis=0) + 0.1 * rng.standard_normal((200, 16)))  # two faces a person
    ids = np.arange(200) // 2
    q = vectors[:5] + 0.01
    exact = GalleryIndex(ids, vectors, candidates=200).search(unit(q), 0.5, 0.0, top_k=2)
    short = GalleryIndex(ids, vectors, candidates=20).search(unit(q), 0.5, 0.0, top_k=2)
    np.testing.assert_array_equal(exact.nearest, short.nearest)
    assert np.all(short.distance <= exact.distance + 1e-6)


def test_single_identity_gallery_has_a_full_margin():
    m = index_of([(4, [1, 0])]).search(unit([[1, 0.1]]), threshold=0.1, margin=0.5)
    assert m.identity[0] == 4 and m.margin[0] > 3


def test_empty_gallery_and_no_queries():
    empty = GalleryIndex(np.zeros(0, np.int64), np.zeros((0, 3), np.float32))
    m = empty.search(unit([[1, 0, 0]]), 0.5, 0.1)
    assert list(m.identity) == [UNKNOWN]
    assert len(index_of(GALLERY).search(np.zeros((0, 3), np.float32), 0.5, 0.1)) == 0


def test_a_face_closer_to_a_persons_rejected_faces_is_not_named_as_them():
    person = [(1, [1, 0, 0]), (1, [0.95, 0.3, 0]), (2, [0, 0, 1])]
    stranger = unit([[0.9, -0.4, 0.1]])  # within the threshold of person 1, and the one they were confused with
    before = index_of(person).search(stranger, threshold=0.5, margin=0.0, top_k=2)
    assert before.identity[0] == 1 and not before.refused[0]
    rejected = (np.array([1]), unit([[0.88, -0.45, 0.12]]))  # the stranger's other photograph, rejected as not 1
    index = GalleryIndex(np.array([i for i, _ in person]), unit([v for _, v in person]), negatives=rejected)
    after = index.search(stranger, threshold=0.5, margin=0.0, top_k=2)
    assert after.identity[0] == UNKNOWN and after.refused[0] and after.nearest[0] == 1
    own = index.search(unit([[0.99, 0.1, 0]]), threshold=0.5, margin=0.0, top_k=2)
    assert own.identity[0] == 1 and not own.refused[0], "the person's own faces are still named"


def test_rejected_faces_of_one_person_do_not_refuse_another():
    rows = [(1, [1, 0, 0]), (2, [0, 1, 0])]
    ids, vectors = np.array([1, 2]), unit([v for _, v in rows])
    index = GalleryIndex(ids, vectors, negatives=(np.array([2]), unit([[0.99, 0.05, 0]])))
    m = index.search(unit([[1, 0.02, 0]]), threshold=0.5, margin=0.0)
    assert m.identity[0] == 1 and not m.refused[0]


def test_negatives_are_scored_as_the_identity_is_by_the_mean_of_the_nearest_k():
    person = (np.array([1, 1]), unit([[1, 0, 0], [0.9, 0.44, 0]]))
    query = unit([[0.97, -0.25, 0]])
    one_near_one_far = (np.array([1, 1]), unit([[0.97, -0.26, 0], [0, 0, 1]]))
    m1 = GalleryIndex(*person, negatives=one_near_one_far).search(query, 1.0, 0.0, top_k=1)
    m2 = GalleryIndex(*person, negatives=one_near_one_far).search(query, 1.0, 0.0, top_k=2)
    assert m1.refused[0], "top_k 1: the nearest rejected face is nearer than the nearest own face"
    assert not m2.refused[0], "top_k 2: a far rejected face in the mean, as a far own face is in the person's"
