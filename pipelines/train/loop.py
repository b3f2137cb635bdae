"""Training a ``ResidualHead`` with the triplet loss and online semi-hard mining, in large batches of
``people`` identities x ``per_person`` faces (FaceNet: all anchor-positive pairs of each identity in the batch)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from rich.progress import Progress

from pipelines.train.data import Faces
from tracker.train.head import ResidualHead
from tracker.train.triplet import semi_hard_triplets, squared_distances, triplet_loss


@dataclass
class Training:
    head: ResidualHead
    losses: list[float] = field(default_factory=list)  # per step
    triplets: list[int] = field(default_factory=list)  # semi-hard triplets found per step


def train_head(faces: Faces, steps: int, progress: Progress, dim_out: int | None = None, alpha: float = 0.2,
               people: int = 45, per_person: int = 4, lr: float = 1e-3, seed: int = 0) -> Training:
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    vectors = torch.from_numpy(faces.vectors)
    by_person = [np.flatnonzero(faces.labels == n) for n in range(len(faces.people))]
    usable = [rows for rows in by_person if len(rows) >= 2]
    if len(usable) < 2:
        raise ValueError(f"training needs two people with two faces or more; {len(usable)} have them")
    training = Training(ResidualHead(vectors.shape[1], dim_out))
    optimiser = torch.optim.Adam(training.head.parameters(), lr=lr)
    task = progress.add_task("training", total=steps)
    for _ in range(steps):
        chosen = rng.choice(len(usable), size=min(people, len(usable)), replace=False)
        rows = np.concatenate([rng.choice(usable[c], size=min(per_person, len(usable[c])), replace=False)
                               for c in chosen])
        out = training.head(vectors[rows])
        labels = torch.from_numpy(faces.labels[rows])
        triplets = semi_hard_triplets(out, labels, alpha)
        loss = triplet_loss(out, triplets, alpha)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        training.losses.append(loss.item())
        training.triplets.append(len(triplets))
        progress.update(task, advance=1, description=f"training (loss {training.losses[-1]:.4f})")
    return training


def all_triplets_loss(head: ResidualHead, faces: Faces, alpha: float = 0.2) -> float:
    """The triplet loss over every (anchor, positive, negative) of ``faces``: a fixed yardstick of a head (the
    mined batches change as it learns). For small sets (it builds every triplet)."""
    with torch.no_grad():
        out = head(torch.from_numpy(faces.vectors))
        d = squared_distances(out)
        labels = torch.from_numpy(faces.labels)
        same = labels[:, None] == labels[None, :]
        positive = same & ~torch.eye(len(labels), dtype=torch.bool)
        violation = torch.relu(d[:, :, None] - d[:, None, :] + alpha)  # [a, p, n]
        valid = positive[:, :, None] & ~same[:, None, :]
        return float(violation[valid].mean())
