"""``facetrack eval small-faces``: what a small reference costs, as its model card's ``small_faces`` table.

A reference face enrolled small (a CCTV crop) is compared with every face the camera sees. Each reference
photograph is scaled down (not back up) so that its face is about a target size, then detected, aligned and
embedded as enrolment does; per target, the row's size is the median face size the detector measured (what the
refusal compares), and its share the strangers' faces (full-size LFW photographs of other people) within the
model's verification threshold of those references, beside the same share for the references as LFW has them
(size 0). References the detector no longer finds at a size are left out of its row (the ``measured`` text
counts them). The enrolment refusal quotes it (``gallery/enroll.py``)."""

from __future__ import annotations

import functools
import random
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from rich.progress import Progress

from pipelines.eval.embedding import embed_paths
from tracker.distance import pairwise
from tracker.face.analyzer import FaceAnalyzer
from tracker.face.card import ModelCard, SmallFaces, load_card
from tracker.lfw import image_dir

TARGETS = (24, 32, 40, 48, 64, 80)  # face sizes aimed at, px (0: as in LFW)
LFW_FACE = 110.0  # px: about the size of the face in an LFW photograph (250 px)


def split_people(root: Path, references: int, strangers: int) -> tuple[list[Path], list[Path]]:
    """One photograph each of ``references`` people and of ``strangers`` others (a fixed shuffle of LFW)."""
    folders = sorted(p for p in image_dir(root).iterdir() if p.is_dir())
    random.Random(7).shuffle(folders)
    first = [min(folder.glob("*.jpg")) for folder in folders[: references + strangers]]
    return first[:references], first[references:]


def _scaled(image: np.ndarray, scale: float) -> np.ndarray:
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def small_face_rates(analyzer: FaceAnalyzer, root: Path, bar: Progress, references: int = 1000,
                     strangers: int = 2000) -> tuple[list[tuple[int, float]], list[int]]:
    """``(measured size, share of stranger pairs within the threshold)`` per target (size 0: as in LFW), and how
    many references the detector found at each."""
    refs, others = split_people(root, references, strangers)
    probes = embed_paths(analyzer, others, bar, "strangers, as LFW has them").vectors
    threshold, rows, found = analyzer.verify_threshold, [], []
    for target in (0, *TARGETS):
        label = f"references scaled to a {target} px face" if target else "references as LFW has them"
        view = functools.partial(_scaled, scale=target / LFW_FACE) if target else None
        central = embed_paths(analyzer, refs, bar, label, view=view)
        if len(central.vectors) < 2:
            continue
        size = int(round(float(np.median(central.faces.sizes)))) if target else 0
        rows.append((size, float((pairwise(central.vectors, probes) <= threshold).mean())))
        found.append(len(central.vectors))
    return rows, found


def with_small_faces(model_id: str, rows: list[tuple[int, float]], found: list[int], how: str) -> ModelCard:
    """The shipped card of ``model_id``'s embedder with this ``small_faces`` table."""
    card = load_card(model_id.split(":")[0])
    counts = ", ".join(f"{n} at {s} px" if s else f"{n} as in LFW" for (s, _), n in zip(rows, found))
    measured = (f"{model_id}, LFW references scaled down (found: {counts}) x 2,000 strangers' photographs; "
                f"facetrack eval small-faces --write, {how}")
    return replace(card, small_faces=SmallFaces(measured, card.verify_threshold, tuple(rows)))
