"""``facetrack eval openset``: open-set identification on LFW through the real gallery.

People with at least ``min_images`` LFW images are enrolled with up to ``enroll_images``
each (through ``Enroller``, into a real gallery file); their other images (up to
``probes_per_person``) are known probes. One image each of ``unknown`` people with fewer
images, never enrolled, are unknown probes. The threshold comes from ``calibrate`` at the
target FAR, leave-one-out over the enrolled faces plus ``calibration_impostors`` further LFW
people, disjoint from the unknown probes.
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
from gallery.matching import UNKNOWN, GalleryIndex
from gallery.store import GalleryStore
from tracker.config import Config
from tracker.face.analyzer import FaceAnalyzer
from tracker.images import read_image
from tracker.lfw import central_face, image_dir


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


def _embed(analyzer: FaceAnalyzer, paths: list[Path], bar: Progress, label: str) -> np.ndarray:
    """The central face's embedding of each image; images without a face are left out."""
    task = bar.add_task(label, total=len(paths))
    vectors = []
    for start in range(0, len(paths), 16):
        images = [read_image(p) for p in paths[start : start + 16]]
        faces = [central_face(f, *im.shape[:2]) for im, f in zip(images, analyzer.detector.detect_batch(images))]
        vectors += [a.embeddings[0] for a in analyzer.embed_faces(images, faces) if len(a)]
        bar.advance(task, len(images))
    return np.stack(vectors)


def evaluate_openset(analyzer: FaceAnalyzer, config: Config, root: Path, gallery: Path, bar: Progress, *,
                     min_images: int = 10, enroll_images: int = 5, probes_per_person: int = 10,
                     unknown: int = 1000, calibration_impostors: int = 2000, far: float = 1e-3) -> OpenSetResult:
    started = time.monotonic()
    folders = sorted(p for p in image_dir(root).iterdir() if p.is_dir())
    files = {f.name: sorted(f.glob("*.jpg")) for f in folders}
    known = [name for name, paths in files.items() if len(paths) >= min_images]
    others = [name for name, paths in files.items() if len(paths) < min_images]
    random.Random(0).shuffle(others)
    with GalleryStore(gallery) as store:
        enroller = Enroller(analyzer, store, config.enroll)
        task = bar.add_task("enrolling", total=len(known))
        for name in known:
            enroller.enroll(name, *enroller.from_images(files[name][:enroll_images]))
            bar.advance(task)
        _, identity_ids, vectors = store.embeddings(analyzer.embedder.model_id)
        names = {i.id: i.name for i in store.identities()}
    index = GalleryIndex(identity_ids, vectors)
    by_name = {v: k for k, v in names.items()}
    probe_paths, truth = [], []
    for name in known:
        extra = files[name][enroll_images : enroll_images + probes_per_person]
        probe_paths += extra
        truth += [by_name.get(name, UNKNOWN)] * len(extra)
    impostor_paths = [files[n][0] for n in others[unknown : unknown + calibration_impostors]]
    impostors = _embed(analyzer, impostor_paths, bar, "calibration impostors")
    cal = calibrate(identity_ids, vectors, far, config.match.top_k, impostors)
    known_vectors = []
    task = bar.add_task("known probes", total=len(probe_paths))
    kept_truth = []
    for start in range(0, len(probe_paths), 16):
        images = [read_image(p) for p in probe_paths[start : start + 16]]
        faces = [central_face(f, *im.shape[:2]) for im, f in zip(images, analyzer.detector.detect_batch(images))]
        for a, t in zip(analyzer.embed_faces(images, faces), truth[start : start + 16]):
            if len(a):
                known_vectors.append(a.embeddings[0])
                kept_truth.append(t)
        bar.advance(task, len(images))
    unknown_vectors = _embed(analyzer, [files[n][0] for n in others[:unknown]], bar, "unknown probes")
    margin = config.match.margin
    k = index.search(np.stack(known_vectors), cal.threshold, margin, config.match.top_k)
    u = index.search(unknown_vectors, cal.threshold, margin, config.match.top_k)
    kept = np.array(kept_truth)
    return OpenSetResult(
        analyzer.embedder.model_id, len(names), len(identity_ids), len(kept), len(unknown_vectors), len(impostor_paths),
        cal.threshold, margin, far,
        float((k.identity == kept).mean()), float((k.nearest == kept).mean()),
        float(((k.identity != UNKNOWN) & (k.identity != kept)).mean()), float((u.identity != UNKNOWN).mean()),
        time.monotonic() - started,
    )
