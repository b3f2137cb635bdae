"""Training a head with the triplet loss on real LFW faces: the fold rule keeps the test fold's people out,
and a short run lowers the loss over every triplet while its outputs stay unit vectors."""

import numpy as np
import pytest
import torch
from rich.progress import Progress

from pipelines.eval.views import view
from pipelines.train.data import cached_faces
from pipelines.train.folds import fold_people, refuse_test_people, training_images
from pipelines.train.loop import all_triplets_loss, train_head
from tests.support.data import LFW, needs_data, tiny_lfw
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
        faces = cached_faces(analyzer, few, tmp_path, progress, (view("26"),))
        again = cached_faces(analyzer, few, tmp_path, progress, (view("26"),))  # from the cache: the same numbers
        before = all_triplets_loss(ResidualHead(faces.vectors.shape[1]), faces, alpha)
        training = train_head(faces, steps=150, progress=progress, alpha=alpha, people=20, per_person=4, lr=3e-3,
                              held_out=0.0)
    after = all_triplets_loss(training.head, faces, alpha)
    assert np.array_equal(again.vectors, faces.vectors) and len(faces.vectors) >= 100
    assert after < 0.8 * before, (before, after)
    out = training.head(torch.from_numpy(faces.vectors))
    assert torch.allclose(out.norm(dim=1), torch.ones(len(out)), atol=1e-5)


def test_the_head_kept_is_never_worse_on_held_out_people_than_the_untrained_one(analyzer, fold_one, tmp_path):
    people = {p: images[:6] for p, images in training_images(LFW, excluded=fold_one, min_images=6).items()}
    forty = dict(sorted(people.items())[20:60])
    alpha = 0.2 * analyzer.verify_threshold
    with Progress(disable=True) as progress:
        faces = cached_faces(analyzer, forty, tmp_path, progress, (view("full"), view("26+jpeg")))
        # a learning rate far too large: the head wanders off and the held-out check has to catch it
        training = train_head(faces, steps=120, progress=progress, alpha=alpha, people=20, lr=0.05,
                              held_out=0.25, check_every=20, compatible=True)
    steps, vals = zip(*training.checks)
    assert steps[0] == 0 and len(steps) == 7 and len(set(vals)) > 1
    assert training.best_step == steps[int(np.argmax(vals))] and max(vals) >= vals[0]


def test_ten_folds_scores_each_folds_head_on_its_own_pairs_beside_the_frozen_model(analyzer, tmp_path):
    from pipelines.train.evaluate import ten_folds

    a, b, c, d = "Aaron_Peirsol", "Abdullah_Gul", "Adrien_Brody", "Al_Gore"
    tiny_lfw(tmp_path / "lfw", (a, b, c, d),
             f"2 2\n{a} 1 2\n{a} 2 3\n{a} 1 {b} 1\n{a} 2 {b} 2\n{c} 1 2\n{c} 2 3\n{c} 1 {d} 1\n{c} 2 {d} 2\n")
    pairs = read_pairs(tmp_path / "lfw", tmp_path / "lfw" / "pairs.txt")
    with Progress(disable=True) as progress:
        report = ten_folds(analyzer, tmp_path / "lfw", pairs, tmp_path, progress, (view("full"),),
                           (view("full"), view("32")), steps=20, alpha=0.5 * analyzer.verify_threshold)
    assert set(report["probes"]) == {"full", "32"}
    for row in report["probes"].values():
        assert len(row["frozen"]["folds"]) == len(row["trained"]["folds"]) == 2
        assert all(0.0 <= x <= 1.0 for x in row["trained"]["folds"])
    assert report["probes"]["full"]["frozen"]["accuracy"] >= 0.75  # real photographs, easy pairs


def test_a_sites_named_faces_train_a_head_when_enough_people_have_two(analyzer, config, fold_one, tmp_path):
    from gallery.enroll import Enroller
    from gallery.store import GalleryStore
    from pipelines.train.data import SITE_PEOPLE, joined, site_faces

    people = sorted(training_images(LFW, excluded=fold_one, min_images=3))[:SITE_PEOPLE]
    gallery = tmp_path / "site.db"
    with GalleryStore(gallery) as store:
        enroller = Enroller(analyzer, store, config.enroll)
        for person in people[:-1]:
            enroller.enroll(person, *enroller.from_images(training_images(LFW, set())[person][:3]))
        enroller.enroll(people[-1], *enroller.from_images(training_images(LFW, set())[people[-1]][:1]))
    model = analyzer.embedder.model_id
    with pytest.raises(DatasetError, match=f"9 people with two faces or more by {model}; training on a site's "
                                           f"faces needs {SITE_PEOPLE}"):
        site_faces(gallery, model)
    with GalleryStore(gallery) as store:
        enroller = Enroller(analyzer, store, config.enroll)
        enroller.enroll(people[-1], *enroller.from_images(training_images(LFW, set())[people[-1]][1:3]))
    site = site_faces(gallery, model)
    assert site.people == [f"site:{p}" for p in people] and np.bincount(site.labels).min() >= 2
    with Progress(disable=True) as progress:
        lfw = cached_faces(analyzer, {p: training_images(LFW, set())[p][:2] for p in people[:3]}, tmp_path, progress,
                           (view("full"),))
        both = joined(lfw, site)
        training = train_head(both, steps=20, progress=progress, people=13, held_out=0.0)
    assert len(both.people) == 13 and set(both.labels) == set(range(13))
    assert len(set(both.photos)) == len(both.photos)  # every photograph numbered once
    assert training.losses and all(np.isfinite(training.losses))
