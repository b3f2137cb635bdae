"""``facetrack eval audit``: the gallery audit measured on LFW with bad references planted on purpose.

A gallery of ``people`` LFW people (four photographs each) gets three kinds of bad reference, each filed under
``planted`` of them as a fifth face: another person's photograph (a stranger not in the gallery), a tiny face
(shrunk to 16 px and back), a blurred small face (24 px, then blurred). The audit (``gallery.audit``) runs with
one half of the strangers (LFW people not enrolled, one photograph each); the other half measures the share of
strangers named at the threshold in force, with the gallery as it is, without the faces the audit flagged,
and without exactly the planted faces (what a perfect audit would remove)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.progress import Progress

from gallery.audit import audit, named_without, within_threshold
from gallery.threshold import threshold_for_faces
from pipelines.eval.embedding import embed_paths
from pipelines.eval.views import view
from tracker.config import MatchConfig
from tracker.face.analyzer import FaceAnalyzer
from tracker.lfw import image_dir

KINDS = {"another person": None, "tiny face (16 px)": "16", "blurred small face (24 px)": "24+blur"}


@dataclass
class AuditMeasure:
    people: int
    faces: int
    threshold: float
    found: dict[str, tuple[int, int]]  # kind -> (flagged, planted)
    clean_flagged: tuple[int, int]  # (flagged, clean faces)
    strangers: int
    named: dict[str, float]  # "as it is", "flagged removed", "planted removed" -> share of held-out strangers


def measure_audit(analyzer: FaceAnalyzer, root: Path, match: MatchConfig, progress: Progress, people: int = 200,
                  planted: int = 20, strangers: int = 2000) -> AuditMeasure:
    folders = sorted(p for p in image_dir(root).iterdir() if p.is_dir())
    photos = {f.name: sorted(f.glob("*.jpg")) for f in folders}
    rng = random.Random(27)
    enrolled = rng.sample(sorted(n for n, p in photos.items() if len(p) >= 5), people)
    others = rng.sample(sorted(set(photos) - set(enrolled)), strangers + planted * len(KINDS))
    refs = [p for name in enrolled for p in photos[name][:4]]
    central = embed_paths(analyzer, refs, progress, "the references")
    vectors = [central.vectors]
    owners = [np.array([i for i, name in enumerate(enrolled) for _ in photos[name][:4]])[central.found]]
    kinds = [np.full(int(central.found.sum()), "")]
    victims = rng.sample(range(people), planted * len(KINDS))
    for k, (kind, name) in enumerate(KINDS.items()):
        chosen = victims[k * planted:(k + 1) * planted]
        paths = ([photos[others[strangers + k * planted + j]][0] for j in range(planted)] if name is None
                 else [photos[enrolled[i]][4] for i in chosen])
        bad = embed_paths(analyzer, paths, progress, f"planted: {kind}", view=None if name is None else view(name))
        vectors.append(bad.vectors)
        owners.append(np.array(chosen)[bad.found])
        kinds.append(np.full(int(bad.found.sum()), kind))
    vectors, owners, kinds = np.concatenate(vectors), np.concatenate(owners), np.concatenate(kinds)
    face_ids = np.arange(len(vectors))
    tables = analyzer.embedder.tables
    threshold = threshold_for_faces(match, tables, analyzer.verify_threshold, owners).value
    strange = embed_paths(analyzer, [photos[n][0] for n in others[:strangers]], progress, "strangers").vectors
    half = len(strange) // 2
    report = audit(face_ids, owners, vectors, tables, threshold, strange[:half])
    flagged = {f.face_id for f in report.flagged()}
    held_out = within_threshold(strange[half:], vectors, threshold)

    def share_named(removed: set[int]) -> float:
        return named_without(held_out, face_ids, removed) / len(held_out)

    planted_ids = {int(i) for i in face_ids[kinds != ""]}
    return AuditMeasure(
        people, len(vectors), threshold,
        {kind: (int(sum(1 for i in face_ids[kinds == kind] if i in flagged)), int((kinds == kind).sum()))
         for kind in KINDS},
        (len(flagged - planted_ids), int((kinds == "").sum())), len(strange) - half,
        {"as it is": share_named(set()), "flagged removed": share_named(flagged),
         "planted removed": share_named(planted_ids)})
