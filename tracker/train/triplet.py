"""FaceNet's training rule: the triplet loss with online semi-hard negative mining within a batch.

For every anchor-positive pair of one identity in the batch (all of them, as the paper does), the negative is
a face of another identity that is farther from the anchor than the positive but still within the margin α:
``d(a, p) < d(a, n) < d(a, p) + α`` (squared L2 on unit vectors). Of those semi-hard negatives the closest is
taken; a pair with none is left out (the paper's rule: the hardest negatives collapse training early, and
easy ones teach nothing). The loss is ``mean(max(0, d(a, p) - d(a, n) + α))`` over the triplets found.
"""

from __future__ import annotations

import torch


def squared_distances(embeddings: torch.Tensor) -> torch.Tensor:
    """(n, n) squared L2 distances between unit rows."""
    return (2.0 - 2.0 * embeddings @ embeddings.T).clamp_min(0.0)


def semi_hard_triplets(embeddings: torch.Tensor, labels: torch.Tensor, alpha: float) -> torch.Tensor:
    """(t, 3) indices (anchor, positive, negative) of the semi-hard triplets of a batch."""
    with torch.no_grad():
        d = squared_distances(embeddings)
        same = labels[:, None] == labels[None, :]
        eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
        anchors, positives = torch.nonzero(same & ~eye, as_tuple=True)
        d_ap = d[anchors, positives][:, None]
        d_an = d[anchors]  # (pairs, n)
        semi_hard = ~same[anchors] & (d_an > d_ap) & (d_an < d_ap + alpha)
        closest = torch.where(semi_hard, d_an, torch.full_like(d_an, float("inf"))).argmin(dim=1)
        found = semi_hard.any(dim=1)
        return torch.stack([anchors[found], positives[found], closest[found]], dim=1)


def triplet_loss(embeddings: torch.Tensor, triplets: torch.Tensor, alpha: float) -> torch.Tensor:
    """``mean(max(0, |a - p|² - |a - n|² + α))``; 0 for a batch without triplets."""
    if len(triplets) == 0:
        return embeddings.sum() * 0.0
    a, p, n = (embeddings[triplets[:, k]] for k in range(3))
    return torch.relu(((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1) + alpha).mean()
