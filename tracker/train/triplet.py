"""FaceNet's training rule: the triplet loss with online semi-hard negative mining within a batch.

For every anchor-positive pair of one identity in the batch (all of them, as the paper does), the negative is
a face of another identity that is farther from the anchor than the positive but still within the margin α:
``d(a, p) < d(a, n) < d(a, p) + α`` (squared L2 on unit vectors). Of those semi-hard negatives the closest is
taken; a pair with none is left out (the paper's rule: the hardest negatives collapse training early, and
easy ones teach nothing). The loss is ``mean(max(0, d(a, p) - d(a, n) + α))`` over the triplets found.

With ``targets`` (FaceNet's harmonic embeddings: a new model's anchors against an old model's faces), the
positives and negatives are taken from ``targets``, row for row the same faces as ``embeddings``, and a face's
own old embedding is one of its positives.
"""

from __future__ import annotations

import torch


def squared_distances(embeddings: torch.Tensor) -> torch.Tensor:
    """(n, n) squared L2 distances between unit rows."""
    return (2.0 - 2.0 * embeddings @ embeddings.T).clamp_min(0.0)


def semi_hard_triplets(embeddings: torch.Tensor, labels: torch.Tensor, alpha: float,
                       targets: torch.Tensor | None = None) -> torch.Tensor:
    """(t, 3) indices (anchor, positive, negative) of the semi-hard triplets of a batch (with ``targets``:
    the positive and negative index ``targets``)."""
    with torch.no_grad():
        d = _distances(embeddings, targets)
        same = labels[:, None] == labels[None, :]
        own = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
        anchors, positives = torch.nonzero(same & ~own if targets is None else same, as_tuple=True)
        d_ap = d[anchors, positives][:, None]
        d_an = d[anchors]  # (pairs, n)
        semi_hard = ~same[anchors] & (d_an > d_ap) & (d_an < d_ap + alpha)
        closest = torch.where(semi_hard, d_an, torch.full_like(d_an, float("inf"))).argmin(dim=1)
        found = semi_hard.any(dim=1)
        return torch.stack([anchors[found], positives[found], closest[found]], dim=1)


def _distances(embeddings: torch.Tensor, targets: torch.Tensor | None) -> torch.Tensor:
    if targets is None:
        return squared_distances(embeddings)
    return (2.0 - 2.0 * embeddings @ targets.T).clamp_min(0.0)


def triplet_loss(embeddings: torch.Tensor, triplets: torch.Tensor, alpha: float,
                 targets: torch.Tensor | None = None) -> torch.Tensor:
    """``mean(max(0, |a - p|² - |a - n|² + α))``; 0 for a batch without triplets."""
    if len(triplets) == 0:
        return embeddings.sum() * 0.0
    others = embeddings if targets is None else targets
    a, p, n = embeddings[triplets[:, 0]], others[triplets[:, 1]], others[triplets[:, 2]]
    return torch.relu(((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1) + alpha).mean()
