"""Who a head may be trained on: LFW's View 2 protocol keeps each fold's people apart, so a head evaluated on
fold k is trained only on people who are not in fold k ("unrestricted, labeled outside data" in LFW's terms)."""

from __future__ import annotations

from pathlib import Path

from tracker.errors import DatasetError
from tracker.lfw import Pairs, image_dir


def person_of(image: Path) -> str:
    return image.parent.name


def fold_people(pairs: Pairs, fold: int) -> set[str]:
    """Every person with an image in fold ``fold``'s pairs (folds count from 1, as LFW numbers them)."""
    folds = sorted(set(pairs.fold.tolist()))
    if fold - 1 not in folds:
        raise DatasetError(f"fold {fold}: the pairs file has folds 1-{len(folds)}")
    rows = pairs.fold == fold - 1
    return {person_of(pairs.images[i]) for i in (*pairs.first[rows], *pairs.second[rows])}


def training_images(root: Path, excluded: set[str], min_images: int = 2) -> dict[str, list[Path]]:
    """The images of every LFW person with at least ``min_images`` who is not in ``excluded``."""
    people = {}
    for folder in sorted(p for p in image_dir(root).iterdir() if p.is_dir()):
        images = sorted(folder.glob("*.jpg"))
        if folder.name not in excluded and len(images) >= min_images:
            people[folder.name] = images
    return people


def refuse_test_people(training: set[str], test: set[str], fold: int) -> None:
    """The fold rule: training on a test fold's person is refused, naming them."""
    shared = sorted(training & test)
    if shared:
        named = ", ".join(shared[:5]) + (", ..." if len(shared) > 5 else "")
        raise DatasetError(f"fold {fold}: {len(shared)} of the training people are in the test fold ({named}); "
                           "the protocol keeps them apart")
