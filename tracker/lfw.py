"""Labeled Faces in the Wild: the pairs protocol files and the image folder.

Which face of an image is its subject: ``tracker.face.analyzer.central_face``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tracker.errors import DatasetError

IMAGE_DIRS = ("images_deepfunneled", "lfw-deepfunneled", "lfw")


@dataclass(frozen=True)
class Pairs:
    """Image pairs with ``same`` labels and a fold number each; ``images`` lists every image once."""

    images: list[Path]
    first: np.ndarray  # (p,) index into images
    second: np.ndarray
    same: np.ndarray  # (p,) bool
    fold: np.ndarray  # (p,) int

    def __len__(self) -> int:
        return len(self.same)


def image_dir(root: Path) -> Path:
    for name in IMAGE_DIRS:
        if (root / name).is_dir():
            return root / name
    raise DatasetError(f"{root}: no LFW image folder (looked for {', '.join(IMAGE_DIRS)})")


def read_pairs(root: Path, pairs_file: Path) -> Pairs:
    """Parse a pairs file (View 2 ``pairs.txt``: a ``folds count`` header; View 1: a ``count`` header).

    Each fold holds ``count`` same-person lines (``name i j``) then ``count`` different-person
    lines (``name1 i name2 j``).
    """
    images_root = image_dir(root)
    try:
        lines = [line.split() for line in pairs_file.read_text().splitlines() if line.strip()]
    except OSError as error:
        raise DatasetError(f"{pairs_file}: cannot read: {error.strerror or error}") from None
    try:
        header = [int(x) for x in lines[0]]
        folds, per_class = header if len(header) == 2 else (1, header[0])
    except (ValueError, IndexError):
        raise DatasetError(f"{pairs_file}:1: expected a header 'folds count' or 'count'") from None
    body = lines[1:]
    if len(body) != folds * per_class * 2:
        raise DatasetError(f"{pairs_file}: header promises {folds * per_class * 2} pairs, file has {len(body)}")
    index: dict[Path, int] = {}
    first, second, same = [], [], []
    for number, fields in enumerate(body, start=2):
        try:
            if len(fields) == 3:
                a, b = (fields[0], int(fields[1])), (fields[0], int(fields[2]))
            elif len(fields) == 4:
                a, b = (fields[0], int(fields[1])), (fields[2], int(fields[3]))
            else:
                raise ValueError
        except ValueError:
            raise DatasetError(f"{pairs_file}:{number}: expected 'name i j' or 'name1 i name2 j'") from None
        paths = [images_root / name / f"{name}_{i:04d}.jpg" for name, i in (a, b)]
        first.append(index.setdefault(paths[0], len(index)))
        second.append(index.setdefault(paths[1], len(index)))
        same.append(len(fields) == 3)
    fold = np.repeat(np.arange(folds), per_class * 2)
    return Pairs(list(index), np.array(first), np.array(second), np.array(same), fold)

