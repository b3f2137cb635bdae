"""Shared fixtures: the shared data folder, a config whose caches live in a temporary folder,
and one analyzer (real MTCNN + real dlib weights) loaded once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tracker.config import load_config, with_changes

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FACETRACK_TEST_DATA", ROOT.parent / "shared" / "data"))
LFW = DATA / "lfw"
STILLS = DATA / "stills"
VIDEO = DATA / "video" / "street_1080p.mp4"

needs_data = pytest.mark.skipif(not LFW.is_dir(), reason=f"shared test data not found at {DATA}")


def lfw_image(name: str, number: int) -> Path:
    return LFW / "images_deepfunneled" / name / f"{name}_{number:04d}.jpg"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def config(cache_dir: Path):
    base = load_config(ROOT / "config.toml", environ={})
    return with_changes(base, "test", models={"cache_dir": str(cache_dir), "device": "cpu"})


@pytest.fixture(scope="session")
def analyzer(config):
    from tracker.face.analyzer import FaceAnalyzer

    return FaceAnalyzer.from_config(config)
