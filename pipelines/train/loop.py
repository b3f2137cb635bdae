"""Training a ``ResidualHead`` with the triplet loss and online semi-hard mining, in large batches of
``people`` identities x ``per_person`` faces (FaceNet: all anchor-positive pairs of each identity in the batch).

A share of the training people is held out; every ``check_every`` steps the head's VAL at FAR 1e-3 on their
pairs (photographs of one person against photographs of two, never a photograph against itself in another
view) is measured, and the head kept is the best one seen, the untrained head (the base model's own
distances) included: a head is never kept that does worse than its base on people it was not trained on.

A *compatible* head (FaceNet's harmonic embeddings) also learns the cross term: its anchors against the base
model's own embeddings of the positives and negatives, so what it embeds compares with a gallery embedded
by the base model; its held-out VAL is then measured across models (head against base)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
from rich.progress import Progress

from pipelines.train.data import Faces
from tracker.train.head import ResidualHead
from tracker.train.triplet import semi_hard_triplets, squared_distances, triplet_loss
from tracker.verification import impostor_threshold

VALIDATION_FAR = 1e-3


@dataclass
class Training:
    head: ResidualHead
    losses: list[float] = field(default_factory=list)  # per step
    triplets: list[int] = field(default_factory=list)  # semi-hard triplets found per step
    checks: list[tuple[int, float]] = field(default_factory=list)  # (step, held-out VAL at FAR 1e-3)
    best_step: int = 0


def _split(faces: Faces, share: float, rng: np.random.Generator) -> tuple[Faces, Faces | None]:
    """(training, held out): ``share`` of the people (at least two, when there are ten or more) held out."""
    people = np.unique(faces.labels)
    held = int(round(share * len(people))) if len(people) >= 10 else 0
    if held < 2:
        return faces, None
    out = np.isin(faces.labels, rng.choice(people, size=held, replace=False))
    return faces.take(~out), faces.take(out)


def held_out_val(head: ResidualHead, held: Faces, compatible: bool) -> float:
    """VAL at FAR 1e-3 over every pair of the held-out faces (head against head, or head against the base
    model when ``compatible``), a photograph never paired with itself."""
    with torch.no_grad():
        x = torch.from_numpy(held.vectors)
        out = head(x)
        d = (2.0 - 2.0 * out @ (x if compatible else out).T).clamp_min(0.0).numpy()
    labels, photos = held.labels, held.photos if held.photos is not None else np.arange(len(held.labels))
    upper = np.triu(np.ones_like(d, dtype=bool), k=1) if not compatible else np.ones_like(d, dtype=bool)
    pairs = upper & (photos[:, None] != photos[None, :])
    same = labels[:, None] == labels[None, :]
    threshold = impostor_threshold(d[pairs & ~same], VALIDATION_FAR)
    genuine = d[pairs & same]
    return float(np.mean(genuine <= threshold)) if len(genuine) else 0.0


def _pca_basis(vectors: np.ndarray, dim: int) -> torch.Tensor:
    """The ``dim`` principal axes of ``vectors`` (rows), as a (dim, dim_in) projection."""
    _, _, axes = np.linalg.svd(vectors - vectors.mean(0), full_matrices=False)
    return torch.from_numpy(axes[:dim].astype(np.float32))


def train_head(faces: Faces, steps: int, progress: Progress, dim_out: int | None = None, alpha: float = 0.2,
               people: int = 45, per_person: int = 4, lr: float = 1e-3, seed: int = 0, compatible: bool = False,
               held_out: float = 0.1, check_every: int = 50) -> Training:
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    training_faces, held = _split(faces, held_out, rng)
    dim_in = faces.vectors.shape[1]
    if compatible and dim_out not in (None, dim_in):
        raise ValueError(f"a compatible head keeps the base model's {dim_in} dimensions (asked: {dim_out})")
    vectors = torch.from_numpy(training_faces.vectors)
    by_person = [np.flatnonzero(training_faces.labels == n) for n in range(len(faces.people))]
    usable = [rows for rows in by_person if len(rows) >= 2]
    if len(usable) < 2:
        raise ValueError(f"training needs two people with two faces or more; {len(usable)} have them")
    basis = None if dim_out in (None, dim_in) else _pca_basis(training_faces.vectors, dim_out)
    training = Training(ResidualHead(dim_in, dim_out, basis=basis))
    optimiser = torch.optim.Adam(training.head.parameters(), lr=lr)
    best_val, best_state = -1.0, None
    task = progress.add_task("training", total=steps)
    for step in range(steps + 1):
        if held is not None and step % check_every == 0:
            val = held_out_val(training.head, held, compatible)
            training.checks.append((step, val))
            if val > best_val:
                best_val, best_state, training.best_step = val, copy.deepcopy(training.head.state_dict()), step
        if step == steps:
            break
        chosen = rng.choice(len(usable), size=min(people, len(usable)), replace=False)
        rows = np.concatenate([rng.choice(usable[c], size=min(per_person, len(usable[c])), replace=False)
                               for c in chosen])
        out = training.head(vectors[rows])
        labels = torch.from_numpy(training_faces.labels[rows])
        triplets = semi_hard_triplets(out, labels, alpha)
        loss = triplet_loss(out, triplets, alpha)
        if compatible:
            loss = loss + _cross_loss(out, vectors[rows], labels, alpha)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        training.losses.append(loss.item())
        training.triplets.append(len(triplets))
        shown = f"training (loss {training.losses[-1]:.4f}" + (f", held-out VAL {best_val:.4f})" if held else ")")
        progress.update(task, advance=1, description=shown)
    if best_state is not None:
        training.head.load_state_dict(best_state)
    return training


def _cross_loss(new: torch.Tensor, old: torch.Tensor, labels: torch.Tensor, alpha: float) -> torch.Tensor:
    """The harmonic term: the head's outputs as anchors, the base model's embeddings of the same faces as
    positives and negatives."""
    return triplet_loss(new, semi_hard_triplets(new, labels, alpha, targets=old), alpha, targets=old)


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
