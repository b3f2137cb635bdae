"""``facetrack eval small-faces``: what a small reference costs, as its model card's ``small_faces`` table.

A reference face enrolled small (a CCTV crop) is compared with every face the camera sees. Per face size, the
share of strangers' faces (full-size LFW photographs of other people) that fall within the model's verification
threshold of a reference shrunk to that size (``embedding.shrink``, detected and embedded through the same face
path), beside the same share for the references as LFW has them (size 0). The enrolment refusal quotes it
(``gallery/enroll.py``); distances are symmetric, so it is also what a small face seen live costs against a
full-size reference."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

from rich.progress import Progress

from pipelines.eval.embedding import embed_paths
from tracker.distance import pairwise
from tracker.face.analyzer import FaceAnalyzer
from tracker.face.card import ModelCard, SmallFaces, load_card
from tracker.lfw import image_dir

SIZES = (24, 32, 40, 48, 64, 80)  # face sizes measured, px (0: as in LFW, about 110 px)


def split_people(root: Path, references: int, strangers: int) -> tuple[list[Path], list[Path]]:
    """One photograph each of ``references`` people and of ``strangers`` others (a fixed shuffle of LFW)."""
    folders = sorted(p for p in image_dir(root).iterdir() if p.is_dir())
    random.Random(7).shuffle(folders)
    first = [min(folder.glob("*.jpg")) for folder in folders[: references + strangers]]
    return first[:references], first[references:]


def small_face_rates(analyzer: FaceAnalyzer, root: Path, bar: Progress, references: int = 1000,
                     strangers: int = 2000) -> tuple[list[tuple[int, float]], int]:
    """``(size, share of stranger pairs within the threshold)`` per size (0: full), and the pairs at full size."""
    refs, others = split_people(root, references, strangers)
    probes = embed_paths(analyzer, others, bar, "strangers, as LFW has them").vectors
    threshold, rows, pairs = analyzer.verify_threshold, [], 0
    for size in (0, *SIZES):
        label = f"references at {size} px" if size else "references as LFW has them"
        vectors = embed_paths(analyzer, refs, bar, label, face=size or None).vectors
        within = pairwise(vectors, probes) <= threshold
        rows.append((size, float(within.mean())))
        pairs = pairs or within.size
    return rows, pairs


def with_small_faces(model_id: str, rows: list[tuple[int, float]], pairs: int, how: str) -> ModelCard:
    """The shipped card of ``model_id``'s embedder with this ``small_faces`` table."""
    card = load_card(model_id.split(":")[0])
    measured = (f"{model_id}, 1,000 LFW references x 2,000 strangers' photographs ({pairs:,} pairs at full size); "
                f"facetrack eval small-faces --write, {how}")
    return replace(card, small_faces=SmallFaces(measured, card.verify_threshold, tuple(rows)))
