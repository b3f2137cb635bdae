""""Not this person" feedback measured on LFW: ``facetrack eval feedback``.

The open-set split of ``pipelines.eval.openset`` (158 people enrolled with 5 photographs each,
the threshold calibrated at the target FAR on impostors disjoint from everyone probed). The
strangers are the never-enrolled people with 2 or more photographs who are not calibration
impostors. Each stranger's photographs are probed in LFW's order; the first one named as an
enrolled person (a false accept) is rejected as that person, as an operator would reject it,
and the stranger's other photographs are then probed without and with the rejections (all
strangers' at once, as a gallery holds them). The cost is measured on the known probes: the
enrolled people's own held-out photographs, named without and with every rejection in place.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.progress import Progress

from gallery.calibrate import calibrate
from gallery.matching import GalleryIndex
from pipelines.eval.embedding import embed_paths
from pipelines.eval.openset import embed_known_probes, enroll_split, split_lfw
from tracker.config import Config
from tracker.face.analyzer import FaceAnalyzer
from tracker.track.identity import UNKNOWN


@dataclass(frozen=True)
class FeedbackResult:
    model_id: str
    threshold: float
    far_target: float
    top_k: int
    margin: float
    enrolled_people: int
    strangers: int  # never-enrolled people with 2+ photographs (a face found in 2+)
    stranger_photos: int
    false_accepts: int  # strangers with a photograph named as someone: each rejected once
    probes: int  # those strangers' other photographs
    wrong_before: int  # of ``probes``, named as anyone, without the rejections
    wrong_after: int  # ... with them
    same_before: int  # named as the very person the stranger was rejected as
    same_after: int
    known_probes: int
    known_named_before: float  # enrolled people's held-out photographs named correctly
    known_named_after: float
    known_wrong_before: float  # ... named as someone else
    known_wrong_after: float
    pairs: list[tuple[str, str]]  # (stranger, the person their photograph was wrongly named as)
    seconds: float

    def as_json(self) -> dict:
        return asdict(self)


def _strangers(split, calibration: int) -> dict[str, list[Path]]:
    """Never-enrolled people with 2+ photographs who are not among the first ``calibration`` spare people."""
    people = [p.parent for p in split.strangers + split.spare[calibration:]]
    photos = {folder.name: sorted(folder.glob("*.jpg")) for folder in people}
    return {name: paths for name, paths in photos.items() if len(paths) >= 2}


def evaluate_feedback(analyzer: FaceAnalyzer, config: Config, root: Path, gallery: Path, bar: Progress, *,
                      calibration_impostors: int = 2000, far: float = 1e-3) -> FeedbackResult:
    started = time.monotonic()
    split = split_lfw(root)
    identity_ids, vectors, names = enroll_split(analyzer, config, gallery, split.enroll, bar)
    impostors = embed_paths(analyzer, split.spare[:calibration_impostors], bar, "calibration impostors").vectors
    top_k, margin = config.match.top_k, config.match.margin
    threshold = calibrate(identity_ids, vectors, far, top_k, impostors).threshold
    known_vectors, truth = embed_known_probes(analyzer, split, {v: k for k, v in names.items()}, bar)

    people = _strangers(split, calibration_impostors)
    paths = [p for photos in people.values() for p in photos]
    owner = np.array([name for name, photos in people.items() for _ in photos])
    found = embed_paths(analyzer, paths, bar, "strangers' photographs")
    owner, stranger_vectors = owner[found.found], found.vectors
    counts = Counter(owner.tolist())
    eligible = {who for who, n in counts.items() if n >= 2}  # a face found in 2+ photographs

    before = GalleryIndex(identity_ids, vectors)
    named = before.search(stranger_vectors, threshold, margin, top_k).identity
    trigger, rejected_as = {}, {}  # stranger -> row of the first photograph named; the person it was named as
    for row, (who, as_whom) in enumerate(zip(owner, named)):
        if as_whom != UNKNOWN and who not in trigger and who in eligible:
            trigger[who], rejected_as[who] = row, int(as_whom)
    negatives = (np.array([rejected_as[w] for w in trigger], np.int64),
                 stranger_vectors[[trigger[w] for w in trigger]]) if trigger else None  # none: nothing to reject
    after = GalleryIndex(identity_ids, vectors, negatives=negatives)

    probe_rows = np.array([r for r, who in enumerate(owner) if who in trigger and r != trigger[who]], int)
    wanted = np.array([rejected_as[owner[r]] for r in probe_rows], np.int64)
    b = named[probe_rows]
    a = after.search(stranger_vectors[probe_rows], threshold, margin, top_k).identity if len(probe_rows) else b
    kb = before.search(known_vectors, threshold, margin, top_k).identity
    ka = after.search(known_vectors, threshold, margin, top_k).identity
    wrong = lambda k: float(((k != UNKNOWN) & (k != truth)).mean())  # noqa: E731
    return FeedbackResult(
        analyzer.embedder.model_id, float(threshold), far, top_k, margin, len(names),
        len(eligible), sum(counts[w] for w in eligible), len(trigger),
        len(probe_rows), int((b != UNKNOWN).sum()), int((a != UNKNOWN).sum()), int((b == wanted).sum()),
        int((a == wanted).sum()), len(truth), float((kb == truth).mean()), float((ka == truth).mean()), wrong(kb),
        wrong(ka), sorted((w, names[rejected_as[w]]) for w in trigger), time.monotonic() - started,
    )
