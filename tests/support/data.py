"""The shared data folder (../shared/data, or FACETRACK_TEST_DATA) and the real faces the tests use; a test
needing it is marked ``needs_data`` and skips with the reason when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("FACETRACK_TEST_DATA", ROOT.parent / "shared" / "data"))
LFW = DATA / "lfw"
STILLS = DATA / "stills"
VIDEO = DATA / "video" / "street_1080p.mp4"

needs_data = pytest.mark.skipif(not LFW.is_dir(), reason=f"shared test data not found at {DATA}")


def lfw_image(name: str, number: int) -> Path:
    return LFW / "images_deepfunneled" / name / f"{name}_{number:04d}.jpg"


# Eight real faces for the embedders' distance tests: two LFW photographs each of two people, then the four
# facenet-pytorch test stills (four more people).
EIGHT_FACES = ([lfw_image(name, n) for name, n in (("Colin_Powell", 1), ("Colin_Powell", 2), ("Tony_Blair", 1),
                                                  ("Tony_Blair", 2))]
               + [STILLS / "people" / p / "1.jpg" for p in ("angelina_jolie", "kate_siegel", "paul_rudd",
                                                               "shea_whigham")])


def tiny_lfw(folder: Path, named: tuple[str, ...], pairs: str, people: int = 12) -> list[Path]:
    """An LFW-shaped folder: ``people`` people's photographs and those of ``named`` (five each at most, linked,
    not copied) with ``pairs`` as its pairs.txt; returns the first ``people`` people's source folders."""
    source = LFW / "images_deepfunneled"
    chosen = sorted(p for p in source.iterdir() if p.is_dir() and len(list(p.glob("*.jpg"))) >= 4)[:people]
    images = folder / "images_deepfunneled"
    for person in {*chosen, *(source / name for name in named)}:
        (images / person.name).mkdir(parents=True)
        for photo in sorted(person.glob("*.jpg"))[:5]:
            (images / person.name / photo.name).symlink_to(photo)
    (folder / "pairs.txt").write_text(pairs)
    return chosen
