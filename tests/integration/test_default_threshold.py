"""Trustworthy names out of the box: with the shipped config (no calibration), a gallery of 30 LFW
people names almost no stranger and most held-out photographs of the people it knows."""

import random

import numpy as np
import pytest

from gallery.enroll import Enroller
from gallery.identify import Identifier
from gallery.store import GalleryStore
from gallery.threshold import AUTO
from tests.support.data import LFW, needs_data
from tracker.images import read_image
from tracker.track.identity import UNKNOWN

pytestmark = needs_data


def lfw_people() -> tuple[list[str], list[str]]:
    """30 people with 10+ images to enroll, 100 others never enrolled (a fixed shuffle)."""
    folders = sorted((LFW / "images_deepfunneled").iterdir())
    counts = {f.name: len(list(f.glob("*.jpg"))) for f in folders if f.is_dir()}
    known = sorted(n for n, c in counts.items() if c >= 10)
    others = sorted(n for n, c in counts.items() if c < 10)
    random.Random(10).shuffle(known)
    random.Random(11).shuffle(others)
    return known[:30], others[:100]


def photos(name: str) -> list:
    return sorted((LFW / "images_deepfunneled" / name).glob("*.jpg"))


@pytest.fixture(scope="module")
def enrolled(analyzer, config, tmp_path_factory):
    known, strangers = lfw_people()
    path = tmp_path_factory.mktemp("default-threshold") / "gallery.db"
    with GalleryStore(path) as store:
        enroller = Enroller(analyzer, store, config.enroll)
        for name in known:
            enroller.enroll(name, *enroller.from_images(photos(name)[:3]))
        identifier = Identifier(analyzer, store, config.match)
    return identifier, known, strangers


def central_names(identifier: Identifier, paths: list) -> list[str | None]:
    """Who the gallery says the subject (central face) of each photograph is; None: unknown or no face."""
    analyses, _ = identifier.analyzer.embed_central([read_image(p) for p in paths])
    names = []
    for analysis in analyses:
        if not len(analysis):
            names.append(None)
            continue
        who = int(identifier.view.match(analysis.embeddings).identity[0])
        names.append(identifier.view.names[who] if who != UNKNOWN else None)
    return names


def test_the_default_threshold_follows_match_far_for_this_gallery(enrolled, config):
    identifier, known, _ = enrolled
    rule = identifier.view.rule
    assert rule.source == AUTO and config.match.threshold == 0 and config.match.far == 1e-3
    assert rule.identities == 30 and 60 <= rule.faces <= 90
    assert rule.expected_far == pytest.approx(config.match.far, rel=0.05)
    assert rule.value < identifier.analyzer.verify_threshold  # stricter than one pair's equal-error point


def test_few_strangers_are_named_and_most_known_photographs_are(enrolled):
    identifier, known, strangers = enrolled
    probes = [p for name in known for p in photos(name)[3:6]]
    truth = [name for name in known for _ in range(3)]
    named = central_names(identifier, probes)
    right = sum(n == t for n, t in zip(named, truth))
    wrong = [(t, n) for n, t in zip(named, truth) if n is not None and n != t]
    stranger_names = [n for n in central_names(identifier, [photos(s)[0] for s in strangers]) if n is not None]
    assert len(probes) == 90
    assert len(stranger_names) <= 1, stranger_names
    assert right >= 0.75 * 90, f"{right} of 90 known photographs named right (wrongly named: {wrong})"
    assert np.isfinite(identifier.view.threshold)
