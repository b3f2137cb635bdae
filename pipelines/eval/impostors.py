"""LFW faces of people not in the gallery, as extra impostor probes for calibration."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from rich.progress import Progress

from tracker.face.analyzer import FaceAnalyzer
from tracker.images import read_image
from tracker.lfw import central_face, image_dir


def lfw_impostors(analyzer: FaceAnalyzer, root: Path, enrolled: set[str], count: int, bar: Progress) -> np.ndarray:
    """Embeddings of up to ``count`` LFW images, one per person, of people whose names are not enrolled.

    LFW folder names use underscores; an enrolled "Colin Powell" or "Colin_Powell" excludes that folder.
    """
    excluded = {name.replace(" ", "_").lower() for name in enrolled}
    folders = sorted(p for p in image_dir(root).iterdir() if p.is_dir() and p.name.lower() not in excluded)
    random.Random(0).shuffle(folders)
    paths = [min(folder.glob("*.jpg")) for folder in folders[:count] if any(folder.glob("*.jpg"))]
    task = bar.add_task("embedding LFW impostors", total=len(paths))
    vectors = []
    for start in range(0, len(paths), 16):
        images = [read_image(p) for p in paths[start : start + 16]]
        faces = [central_face(f, *im.shape[:2]) for im, f in zip(images, analyzer.detector.detect_batch(images))]
        vectors += [a.embeddings[0] for a in analyzer.embed_faces(images, faces) if len(a)]
        bar.advance(task, len(images))
    return np.stack(vectors) if vectors else np.zeros((0, analyzer.embedder.dim), np.float32)
