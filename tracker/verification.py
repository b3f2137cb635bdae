"""Verification metrics on pair distances: accuracy with k-fold thresholds, VAL at a FAR, ROC, AUC.

A pair is called "same" when its squared distance (of unit embeddings: 0 to ``MAX_DISTANCE``) is at most
the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_DISTANCE = 4.0  # the largest squared L2 distance between unit vectors


def best_threshold(distances: np.ndarray, same: np.ndarray) -> float:
    """The threshold with the highest accuracy on these pairs (midway between neighbouring distances)."""
    order = np.argsort(distances, kind="stable")
    d, s = distances[order], same[order]
    # Accepting the first i pairs: correct = same among them + different among the rest.
    correct = np.concatenate([[0], np.cumsum(s)]) + np.concatenate([[(~s).sum()], (~s).sum() - np.cumsum(~s)])
    cut = np.concatenate([[d[0] - 1e-6], (d[:-1] + d[1:]) / 2, [d[-1] + 1e-6]])
    valid = np.concatenate([[True], d[:-1] < d[1:], [True]])  # never split tied distances
    best = int(np.argmax(np.where(valid, correct, -1)))
    return float(cut[best])


def accuracy(distances: np.ndarray, same: np.ndarray, threshold: float) -> float:
    return float(np.mean((distances <= threshold) == same))


def far_threshold(distances: np.ndarray, same: np.ndarray, far: float) -> float:
    """The largest threshold whose false-accept rate on these pairs is at most ``far``."""
    return impostor_threshold(distances[~same], far)


def impostor_threshold(impostors: np.ndarray, far: float) -> float:
    """The largest threshold that accepts at most a ``far`` share of these impostor distances.

    Just below the impostor distance the share does not allow. Where it allows them all (``far`` >= 1, or
    no impostors), every pair is accepted: ``MAX_DISTANCE``, not the largest impostor distance.
    """
    ordered = np.sort(impostors)
    allowed = int(np.floor(far * len(ordered)))
    if allowed >= len(ordered):
        return MAX_DISTANCE
    return float(np.nextafter(ordered[allowed], -np.inf))


def roc_curve(distances: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-accept rates as the threshold sweeps over every distance."""
    order = np.argsort(distances, kind="stable")
    s = same[order]
    tar = np.concatenate([[0.0], np.cumsum(s) / max(s.sum(), 1)])
    far = np.concatenate([[0.0], np.cumsum(~s) / max((~s).sum(), 1)])
    return far, tar


def auc(distances: np.ndarray, same: np.ndarray) -> float:
    """Area under the ROC: the chance a same pair is closer than a different pair (ties count half)."""
    genuine, impostor = distances[same], np.sort(distances[~same])
    below = np.searchsorted(impostor, genuine, side="left")
    ties = np.searchsorted(impostor, genuine, side="right") - below
    wins = len(impostor) - below - ties
    return float((wins + ties / 2).sum() / (len(genuine) * len(impostor)))


@dataclass(frozen=True)
class FoldReport:
    accuracy_mean: float
    accuracy_std: float
    threshold: float  # mean of the fold thresholds
    val_mean: float
    val_std: float
    far_mean: float
    auc: float
    fold_accuracies: list[float]
    fold_thresholds: list[float]


@dataclass(frozen=True)
class FoldScore:
    accuracy: float
    threshold: float  # the best-accuracy threshold, chosen on the other folds
    val: float  # same-person pairs accepted at the threshold for ``far``, chosen on the other folds
    far: float  # different-person pairs accepted at it


def score_fold(distances: np.ndarray, same: np.ndarray, test: np.ndarray, far: float) -> FoldScore:
    """One fold of View 2: thresholds chosen on the pairs outside ``test`` (on ``test`` itself when there are
    none), scored on ``test``."""
    train = ~test if (~test).any() else test
    t = best_threshold(distances[train], same[train])
    accepted = distances[test] <= far_threshold(distances[train], same[train], far)
    return FoldScore(accuracy(distances[test], same[test], t), t, float(accepted[same[test]].mean()),
                     float(accepted[~same[test]].mean()))


def evaluate_folds(distances: np.ndarray, same: np.ndarray, fold: np.ndarray, far: float = 1e-3) -> FoldReport:
    """Each fold's threshold chosen on the other folds, then scored on it (LFW's View 2 protocol).

    With a single fold, thresholds are chosen and scored on the same pairs.
    """
    accs, thresholds, vals, fars = [], [], [], []
    for k in np.unique(fold):
        scored = score_fold(distances, same, fold == k, far)
        accs.append(scored.accuracy)
        thresholds.append(scored.threshold)
        vals.append(scored.val)
        fars.append(scored.far)
    return FoldReport(
        float(np.mean(accs)), float(np.std(accs)), float(np.mean(thresholds)),
        float(np.mean(vals)), float(np.std(vals)), float(np.mean(fars)), auc(distances, same), accs, thresholds,
    )
