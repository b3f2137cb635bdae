import numpy as np
import pytest

from tracker.verification import (
    MAX_DISTANCE,
    accuracy,
    auc,
    best_threshold,
    evaluate_folds,
    far_threshold,
    impostor_threshold,
    roc_curve,
)


@pytest.mark.parametrize(
    "distances, same, expected_accuracy",
    [
        ([0.1, 0.2, 0.8, 0.9], [True, True, False, False], 1.0),
        ([0.1, 0.5, 0.4, 0.9], [True, True, False, False], 0.75),
        ([0.3, 0.3, 0.3, 0.3], [True, False, True, False], 0.5),
    ],
)
def test_best_threshold_maximises_accuracy(distances, same, expected_accuracy):
    d, s = np.array(distances), np.array(same)
    t = best_threshold(d, s)
    assert accuracy(d, s, t) == pytest.approx(expected_accuracy)


def test_separable_threshold_sits_between_classes():
    t = best_threshold(np.array([0.1, 0.2, 0.8, 0.9]), np.array([True, True, False, False]))
    assert 0.2 < t < 0.8


def test_far_threshold_admits_at_most_the_target_share():
    impostors = np.linspace(0.5, 1.5, 1000)
    d = np.concatenate([impostors, [0.1]])
    s = np.concatenate([np.zeros(1000, bool), [True]])
    t = far_threshold(d, s, 0.01)
    assert (impostors <= t).sum() == 10


def test_auc_counts_ordering_and_ties():
    assert auc(np.array([0.1, 0.2, 0.8, 0.9]), np.array([True, True, False, False])) == 1.0
    assert auc(np.array([0.9, 0.8, 0.2, 0.1]), np.array([True, True, False, False])) == 0.0
    assert auc(np.array([0.5, 0.5]), np.array([True, False])) == 0.5


def test_roc_runs_from_origin_to_one():
    far, tar = roc_curve(np.array([0.1, 0.4, 0.3, 0.9]), np.array([True, True, False, False]))
    assert (far[0], tar[0], far[-1], tar[-1]) == (0, 0, 1, 1)
    assert np.all(np.diff(far) >= 0) and np.all(np.diff(tar) >= 0)


def test_folds_choose_thresholds_on_the_other_folds():
    rng = np.random.default_rng(0)
    same = np.tile(np.repeat([True, False], 50), 10)
    distances = np.where(same, rng.normal(0.3, 0.1, same.size), rng.normal(1.0, 0.1, same.size))
    fold = np.repeat(np.arange(10), 100)
    report = evaluate_folds(distances, same, fold)
    assert len(report.fold_accuracies) == 10
    assert report.accuracy_mean > 0.99
    assert 0.4 < report.threshold < 0.9
    assert report.auc > 0.999
    assert report.far_mean <= 0.01


def test_a_rate_that_allows_every_impostor_accepts_every_distance():
    d, s = np.array([0.1, 0.5, 0.7]), np.array([True, False, False])
    assert far_threshold(d, s, 1.0) == MAX_DISTANCE
    assert impostor_threshold(np.zeros(0), 0.01) == MAX_DISTANCE
