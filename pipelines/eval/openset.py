"""``facetrack eval openset``: open-set identification on LFW through the real gallery.

People with at least ``min_images`` LFW images are enrolled with up to ``enroll_images``
each (through ``Enroller``, into a real gallery file); their other images (up to
``probes_per_person``) are known probes. One image each of ``unknown`` people with fewer
images, never enrolled, are unknown probes. The threshold comes from ``calibrate`` at the
target FAR, leave-one-out over the enrolled faces plus ``calibration_impostors`` further LFW
people, disjoint from the unknown probes.

``evaluate_sizes`` measures the defaults instead: no calibration, the threshold in force for
galleries of growing size (``match.far``, ``gallery/threshold.py``), on the same probes, and
optionally on probes whose faces are shrunk to a camera's small faces (``probe_faces``; the
gallery is enrolled from the full-size photographs, as users enroll).
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.progress import Progress

from gallery.calibrate import calibrate
from gallery.enroll import Enroller
from gallery.matching import GalleryIndex
from gallery.store import GalleryStore
from gallery.threshold import threshold_for_faces
from pipelines.eval.embedding import embed_paths
from tracker.config import Config
from tracker.face.analyzer import FaceAnalyzer
from tracker.lfw import image_dir
from tracker.track.identity import UNKNOWN


@dataclass(frozen=True)
class OpenSetResult:
    model_id: str
    enrolled_people: int
    enrolled_faces: int
    known_probes: int
    unknown_probes: int
    calibration_impostors: int
    threshold: float
    margin: float
    far_target: float
    rank1_named: float  # known probes named correctly at the threshold
    rank1_nearest: float  # known probes whose nearest identity is right, whatever the threshold
    known_wrongly_named: float  # known probes named as someone else
    unknown_named: float  # unknown probes named as anyone (false alarms)
    seconds: float

    def as_json(self) -> dict:
        return asdict(self)


def enroll_split(analyzer: FaceAnalyzer, config: Config, gallery: Path, people: dict[str, list[Path]],
                 bar: Progress) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Enroll each person's images into the gallery file; its identity ids, vectors and names."""
    with GalleryStore(gallery) as store:
        enroller = Enroller(analyzer, store, config.enroll)
        task = bar.add_task("enrolling", total=len(people))
        for name, paths in people.items():
            enroller.enroll(name, *enroller.from_images(paths))
            bar.advance(task)
        _, identity_ids, vectors = store.embeddings(analyzer.embedder.model_id)
        return identity_ids, vectors, {i.id: i.name for i in store.identities()}


@dataclass(frozen=True)
class Split:
    """LFW people split for open-set identification: who is enrolled with which images, and the probes."""

    enroll: dict[str, list[Path]]  # person -> enrollment images
    probes: dict[str, list[Path]]  # person -> held-out images (known probes)
    strangers: list[Path]  # one image each of people never enrolled (unknown probes)
    spare: list[str]  # further never-enrolled people (calibration impostors)


def split_lfw(root: Path, min_images: int = 10, enroll_images: int = 5, probes_per_person: int = 10,
              unknown: int = 1000) -> Split:
    folders = sorted(p for p in image_dir(root).iterdir() if p.is_dir())
    files = {f.name: sorted(f.glob("*.jpg")) for f in folders}
    known = [name for name, paths in files.items() if len(paths) >= min_images]
    others = [name for name, paths in files.items() if len(paths) < min_images]
    random.Random(0).shuffle(others)
    return Split({name: files[name][:enroll_images] for name in known},
                 {name: files[name][enroll_images : enroll_images + probes_per_person] for name in known},
                 [files[n][0] for n in others[:unknown]], [files[n][0] for n in others[unknown:]])


def embed_known_probes(analyzer: FaceAnalyzer, split: Split, by_name: dict[str, int], bar: Progress,
                       face: int | None = None):
    """The known probes' embeddings and each one's true identity id."""
    paths = [p for name in split.enroll for p in split.probes[name]]
    truth = np.array([by_name.get(name, UNKNOWN) for name in split.enroll for _ in split.probes[name]])
    probes = embed_paths(analyzer, paths, bar, "known probes" + (f", {face} px" if face else ""), face=face)
    return probes.vectors, truth[probes.found]  # probes without a face are left out


def evaluate_openset(analyzer: FaceAnalyzer, config: Config, root: Path, gallery: Path, bar: Progress, *,
                     calibration_impostors: int = 2000, far: float = 1e-3) -> OpenSetResult:
    started = time.monotonic()
    split = split_lfw(root)
    identity_ids, vectors, names = enroll_split(analyzer, config, gallery, split.enroll, bar)
    index = GalleryIndex(identity_ids, vectors)
    impostor_paths = split.spare[:calibration_impostors]
    impostors = embed_paths(analyzer, impostor_paths, bar, "calibration impostors").vectors
    cal = calibrate(identity_ids, vectors, far, config.match.top_k, impostors)
    known_vectors, kept = embed_known_probes(analyzer, split, {v: k for k, v in names.items()}, bar)
    unknown_vectors = embed_paths(analyzer, split.strangers, bar, "unknown probes").vectors
    margin = config.match.margin
    k = index.search(known_vectors, cal.threshold, margin, config.match.top_k)
    u = index.search(unknown_vectors, cal.threshold, margin, config.match.top_k)
    return OpenSetResult(
        analyzer.embedder.model_id, len(names), len(identity_ids), len(kept), len(unknown_vectors), len(impostor_paths),
        cal.threshold, margin, far,
        float((k.identity == kept).mean()), float((k.nearest == kept).mean()),
        float(((k.identity != UNKNOWN) & (k.identity != kept)).mean()), float((u.identity != UNKNOWN).mean()),
        time.monotonic() - started,
    )


@dataclass(frozen=True)
class SizeRow:
    """The threshold in force (no calibration) for a gallery of ``people``, and what it named, for probes
    with faces of ``probe_face`` px (None: LFW's own size)."""

    probe_face: int | None
    people: int
    faces: int
    top_k: int
    margin: float
    threshold: float
    source: str
    expected_far: float | None
    known_probes: int
    known_named: float  # named correctly
    known_wrong: float  # named as someone else
    strangers: int
    strangers_named: float

    def as_json(self) -> dict:
        return asdict(self)


def evaluate_sizes(analyzer: FaceAnalyzer, config: Config, root: Path, gallery: Path, bar: Progress,
                   sizes: list[int], variants: list[tuple[int, float]],
                   probe_faces: list[int | None] | None = None) -> list[SizeRow]:
    """The default threshold (``match.far``, no calibration) for galleries of the first ``sizes`` people
    (a fixed shuffle of LFW's people with 10+ images), for each ``(top_k, margin)`` variant and each
    probe face size (None: as in LFW)."""
    split = split_lfw(root)
    identity_ids, vectors, names = enroll_split(analyzer, config, gallery, split.enroll, bar)
    order = sorted(names)
    random.Random(1).shuffle(order)
    rows = []
    for face in probe_faces or [None]:
        known_vectors, truth = embed_known_probes(analyzer, split, {v: k for k, v in names.items()}, bar, face)
        label = "unknown probes" + (f", {face} px" if face else "")
        strangers = embed_paths(analyzer, split.strangers, bar, label, face=face).vectors
        for size in sizes:
            members = np.isin(identity_ids, order[:size])
            for top_k, margin in variants:
                match = config.match.model_copy(update={"top_k": top_k, "margin": margin})
                rows.append(_size_row(analyzer, match, identity_ids[members], vectors[members], known_vectors, truth,
                                      strangers, face))
    return rows


def _size_row(analyzer: FaceAnalyzer, match, identity_ids: np.ndarray, vectors: np.ndarray,
              known_vectors: np.ndarray, truth: np.ndarray, strangers: np.ndarray, face: int | None) -> SizeRow:
    rule = threshold_for_faces(match, analyzer.embedder.tables, analyzer.verify_threshold, identity_ids)
    index = GalleryIndex(identity_ids, vectors)
    enrolled = np.isin(truth, identity_ids)
    k = index.search(known_vectors[enrolled], rule.value, match.margin, match.top_k)
    u = index.search(strangers, rule.value, match.margin, match.top_k)
    named = k.identity != UNKNOWN
    return SizeRow(face, rule.identities, rule.faces, match.top_k, match.margin, rule.value, rule.source,
                   rule.expected_far, int(enrolled.sum()), float((k.identity == truth[enrolled]).mean()),
                   float((named & (k.identity != truth[enrolled])).mean()), len(strangers),
                   float((u.identity != UNKNOWN).mean()))
