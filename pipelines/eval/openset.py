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
from gallery.matching import GalleryIndex
from gallery.store import GalleryStore
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


def _enroll(analyzer: FaceAnalyzer, config: Config, gallery: Path, people: dict[str, list[Path]],
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


def evaluate_openset(analyzer: FaceAnalyzer, config: Config, root: Path, gallery: Path, bar: Progress, *,
                     min_images: int = 10, enroll_images: int = 5, probes_per_person: int = 10,
                     unknown: int = 1000, calibration_impostors: int = 2000, far: float = 1e-3) -> OpenSetResult:
    started = time.monotonic()
    folders = sorted(p for p in image_dir(root).iterdir() if p.is_dir())
    files = {f.name: sorted(f.glob("*.jpg")) for f in folders}
    known = [name for name, paths in files.items() if len(paths) >= min_images]
    others = [name for name, paths in files.items() if len(paths) < min_images]
    random.Random(0).shuffle(others)
    people = {name: files[name][:enroll_images] for name in known}
    identity_ids, vectors, names = _enroll(analyzer, config, gallery, people, bar)
    index = GalleryIndex(identity_ids, vectors)
    by_name = {v: k for k, v in names.items()}
    probe_paths, truth = [], []
    for name in known:
        extra = files[name][enroll_images : enroll_images + probes_per_person]
        probe_paths += extra
        truth += [by_name.get(name, UNKNOWN)] * len(extra)
    impostor_paths = [files[n][0] for n in others[unknown : unknown + calibration_impostors]]
    impostors = embed_paths(analyzer, impostor_paths, bar, "calibration impostors").vectors
    cal = calibrate(identity_ids, vectors, far, config.match.top_k, impostors)
    known_probes = embed_paths(analyzer, probe_paths, bar, "known probes")
    kept = np.array(truth)[known_probes.found]  # probes without a face are left out
    unknown_vectors = embed_paths(analyzer, [files[n][0] for n in others[:unknown]], bar, "unknown probes").vectors
    margin = config.match.margin
    k = index.search(known_probes.vectors, cal.threshold, margin, config.match.top_k)
    u = index.search(unknown_vectors, cal.threshold, margin, config.match.top_k)
    return OpenSetResult(
        analyzer.embedder.model_id, len(names), len(identity_ids), len(kept), len(unknown_vectors), len(impostor_paths),
        cal.threshold, margin, far,
        float((k.identity == kept).mean()), float((k.nearest == kept).mean()),
        float(((k.identity != UNKNOWN) & (k.identity != kept)).mean()), float((u.identity != UNKNOWN).mean()),
        time.monotonic() - started,
    )
