"""The semi-hard miner and the triplet loss on batches built by hand, where the right answer is known."""

import math

import torch

from tracker.train.head import ResidualHead
from tracker.train.triplet import semi_hard_triplets, triplet_loss


def unit(*angles_degrees: float) -> torch.Tensor:
    """Points on the unit circle: squared distance between angles a and b is 2 - 2 cos(a - b)."""
    return torch.tensor([[math.cos(math.radians(a)), math.sin(math.radians(a))] for a in angles_degrees])


def d(a: float, b: float) -> float:
    return 2 - 2 * math.cos(math.radians(a - b))


def test_the_miner_takes_the_closest_negative_farther_than_the_positive_within_the_margin():
    # anchor 0 deg and its positive at 20 deg (d = 0.121); negatives at 10 deg (harder than the positive:
    # not semi-hard), 30 deg (d = 0.268: semi-hard), 35 deg (semi-hard, farther) and 120 deg (d = 3: easy)
    embeddings = unit(0, 20, 10, 30, 35, 120)
    labels = torch.tensor([0, 0, 1, 2, 3, 4])
    alpha = 0.2
    triplets = semi_hard_triplets(embeddings, labels, alpha)
    by_pair = {(int(a), int(p)): int(n) for a, p, n in triplets}
    assert by_pair[(0, 1)] == 3  # 30 deg: the closest of the semi-hard ones (not 10 deg, not 35 deg)
    assert d(0, 20) < d(0, 30) < d(0, 20) + alpha  # what semi-hard means, checked on the numbers
    # from the positive's side (anchor 20 deg, positive 0 deg, d = 0.121): 10 deg and 30 deg are nearer than
    # the positive, 35 deg is at d = 0.068 (nearer too): no semi-hard negative, so the pair is left out
    assert (1, 0) not in by_pair
    assert all(int(labels[a]) == int(labels[p]) != int(labels[n]) for a, p, n in triplets)


def test_the_loss_is_the_margin_violation_and_zero_without_triplets():
    embeddings = unit(0, 20, 30)
    triplets = torch.tensor([[0, 1, 2]])
    expected = max(0.0, d(0, 20) - d(0, 30) + 0.2)
    assert abs(float(triplet_loss(embeddings, triplets, 0.2)) - expected) < 1e-5
    assert float(triplet_loss(embeddings, torch.zeros((0, 3), dtype=torch.long), 0.2)) == 0.0


def test_an_untrained_head_keeps_the_base_embeddings():
    x = torch.nn.functional.normalize(torch.randn(8, 16), dim=1)
    head = ResidualHead(16)
    assert torch.allclose(head(x), x, atol=1e-6)  # a gallery compares with it as with the base model at first
    small = ResidualHead(16, 8)(x)
    assert small.shape == (8, 8) and torch.allclose(small.norm(dim=1), torch.ones(8), atol=1e-6)
