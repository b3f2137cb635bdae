"""Training a head with the triplet loss on real LFW faces: the fold rule keeps the test fold's people out,
and a short run lowers the loss over every triplet while its outputs stay unit vectors."""

import numpy as np
import pytest
import torch
from rich.progress import Progress

from pipelines.train.data import cached_faces
from pipelines.train.folds import fold_people, refuse_test_people, training_images
from pipelines.train.loop import all_triplets_loss, train_head
from tests.support.data import LFW, needs_data
from tracker.errors import DatasetError
from tracker.lfw import read_pairs
from tracker.train.head import ResidualHead

pytestmark = needs_data


@pytest.fixture(scope="module")
def fold_one():
    pairs = read_pairs(LFW, LFW / "pairs.txt")
    return fold_people(pairs, 1)


def test_the_training_people_of_a_fold_are_never_its_test_people(fold_one):
    training = training_images(LFW, excluded=fold_one)
    assert len(training) > 1000 and not set(training) & fold_one
    someone = sorted(fold_one)[0]
    with pytest.raises(DatasetError, match=f"fold 1: 1 of the training people are in the test fold \\({someone}\\)"):
        refuse_test_people({someone, *list(training)[:3]}, fold_one, 1)


def test_a_short_training_run_lowers_the_triplet_loss_and_keeps_unit_outputs(analyzer, fold_one, tmp_path):
    people = {p: images[:6] for p, images in training_images(LFW, excluded=fold_one, min_images=6).items()}
    few = dict(sorted(people.items())[:20])  # twenty people, six photographs each, as 26 px faces
    alpha = 0.5 * analyzer.verify_threshold  # the margin in the model's own unit
    with Progress(disable=True) as progress:
        faces = cached_faces(analyzer, few, tmp_path, progress, sizes=(26,))
        again = cached_faces(analyzer, few, tmp_path, progress, sizes=(26,))  # from the cache: the same numbers
        before = all_triplets_loss(ResidualHead(faces.vectors.shape[1]), faces, alpha)
        training = train_head(faces, steps=150, progress=progress, alpha=alpha, people=20, per_person=4, lr=3e-3)
    after = all_triplets_loss(training.head, faces, alpha)
    assert np.array_equal(again.vectors, faces.vectors) and len(faces.vectors) >= 100
    assert after < 0.8 * before, (before, after)
    out = training.head(torch.from_numpy(faces.vectors))
    assert torch.allclose(out.norm(dim=1), torch.ones(len(out)), atol=1e-5)
