"""LFW faces of people not in the gallery, as extra impostor probes for calibration."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from rich.progress import Progress

from pipelines.eval.embedding import embed_paths
from tracker.face.analyzer import FaceAnalyzer
from tracker.lfw import image_dir


def lfw_impostors(analyzer: FaceAnalyzer, root: Path, enrolled: set[str], count: int, bar: Progress) -> np.ndarray:
    """Embeddings of up to ``count`` LFW images, one per person, of people whose names are not enrolled.

    LFW folder names use underscores; an enrolled "Colin Powell" or "Colin_Powell" excludes that folder.
    """
    excluded = {name.replace(" ", "_").lower() for name in enrolled}
    folders = sorted(p for p in image_dir(root).iterdir() if p.is_dir() and p.name.lower() not in excluded)
    random.Random(0).shuffle(folders)
    paths = [min(folder.glob("*.jpg")) for folder in folders[:count] if any(folder.glob("*.jpg"))]
    return embed_paths(analyzer, paths, bar, "embedding LFW impostors").vectors
