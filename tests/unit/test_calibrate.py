import numpy as np
import pytest

from gallery.calibrate import calibrate
from gallery.matching import GalleryIndex
from tracker.verification import MAX_DISTANCE, impostor_threshold

TOP_K = 3


def unit(v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def live(ids, vectors, probe):
    """The best identity's distance as live matching sees it."""
    return GalleryIndex(ids, vectors).search(probe[None], threshold=4.0, margin=0.0, top_k=TOP_K).distance[0]


def two_people(rng):
    centres = unit(rng.standard_normal((2, 8)))
    ids = np.array([4, 4, 4, 4, 9, 9])  # person 9 holds fewer faces than top_k
    return ids, unit(centres[[0, 0, 0, 0, 1, 1]] + 0.4 * rng.standard_normal((6, 8)))


@pytest.mark.parametrize("far", [0.05, 0.2, 0.5])
def test_calibration_reads_the_distances_live_matching_sees(far):
    rng = np.random.default_rng(7)
    ids, vectors = two_people(rng)
    extra = unit(rng.standard_normal((30, 8)))
    others = [live(ids[ids != ids[i]], vectors[ids != ids[i]], vectors[i]) for i in range(len(ids))]
    impostors = np.array(others + list(GalleryIndex(ids, vectors).search(extra, 4.0, 0.0, TOP_K).distance))
    mates = [(ids == ids[i]) & (np.arange(len(ids)) != i) for i in range(len(ids))]
    genuine = np.array([live(ids[m], vectors[m], vectors[i]) for i, m in enumerate(mates)])
    cal = calibrate(ids, vectors, far, TOP_K, extra)
    assert cal.threshold == pytest.approx(impostor_threshold(impostors, far), abs=1e-5)
    assert cal.tar == pytest.approx(np.mean(genuine <= cal.threshold))
    assert (cal.genuine, cal.impostors) == (6, 36)
    assert cal.far_measured <= far


def test_well_separated_people_are_all_accepted_and_ranked_by_confusion():
    ids = np.array([1, 1, 2, 2, 3, 3])
    vectors = unit([[1, 0, 0], [1, 0.05, 0], [0, 1, 0], [0.05, 1, 0], [0.3, 1, 0.1], [0.3, 1, 0.12]])
    # 3 leans from 2 towards 1: 2/3 are the most confusable, then 1/3, then 1/2
    cal = calibrate(ids, vectors, 0.0, TOP_K)
    assert cal.tar == 1.0 and cal.far_measured == 0.0
    assert [(a, b) for a, b, _ in cal.confusable] == [(2, 3), (1, 3), (1, 2)]


def test_a_rate_that_allows_every_impostor_accepts_every_distance():
    ids = np.array([1, 1, 2])
    vectors = unit([[1, 0], [1, 0.1], [0, 1]])
    assert calibrate(ids, vectors, 1.0, TOP_K).threshold == MAX_DISTANCE
