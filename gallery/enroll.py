"""Enrollment through the live face path: images or a video of one person into the gallery.

Each source goes through the same detector, alignment and embedder as live video. An image
must hold exactly one face (faces too small to enroll, behind the subject, do not count);
low-quality faces are refused with the reason; faces too close to one the person already has
are skipped; a per-person cap keeps the most varied faces.
Every person is saved in one transaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from gallery.store import GalleryError, GalleryStore, NewFace
from gallery.unknowns import NAMED, Unknowns
from tracker.config import EnrollConfig
from tracker.distance import squared_distance
from tracker.errors import ImageError
from tracker.face.align import STORE_224, align, landmarks_on_crop
from tracker.face.card import shipped_card
from tracker.face.quality import rank
from tracker.images import read_image

if TYPE_CHECKING:  # torch: answering a review (the MQTT bridge) enrolls stored embeddings, with no model loaded
    from tracker.face.analyzer import Analysis, FaceAnalyzer

ENROLLED, REFUSED, SKIPPED, DROPPED = "enrolled", "refused", "skipped", "dropped"
DUPLICATE_SHARE = 0.05  # a face this close to one the person has (share of the model's threshold) is skipped
VIDEO_SAMPLES = 60  # frames `enroll --video` looks at, evenly spaced (was enroll.video_samples)
SMALLEST = 12  # px: the smallest face `enroll --accept-small` takes (the least enroll.min_face_size may be)


@dataclass(frozen=True)
class Outcome:
    source: str
    status: str  # enrolled | refused | skipped | dropped
    reason: str = ""


@dataclass(frozen=True)
class ModelFacts:
    """What the enrolment rules read of the model whose embeddings they keep: its id, the embeddings' length, and
    its verification threshold (near-duplicates are a share of it)."""

    model_id: str
    dim: int
    verify_threshold: float


@dataclass(frozen=True)
class PersonResult:
    name: str
    outcomes: list[Outcome]
    faces_total: int  # the person's faces of the active model after enrollment

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)


def _candidate(image: np.ndarray, analysis: Analysis, index: int, source: str) -> NewFace:
    landmarks = analysis.faces.landmarks[index]
    q = analysis.quality
    return NewFace(
        crop=align(image, landmarks, STORE_224),
        landmarks=landmarks_on_crop(landmarks, STORE_224),
        quality={"size": float(q.size[index]), "sharpness": float(q.sharpness[index]),
                 "frontal": float(q.frontal[index])},
        source=source,
        embedding=analysis.embeddings[index],
    )


def most_varied(vectors: np.ndarray, keep: int, first: int = 0) -> list[int]:
    """Greedy farthest-point choice of ``keep`` rows, starting from row ``first``."""
    chosen = [first]
    nearest = squared_distance(vectors, vectors[first])
    while len(chosen) < min(keep, len(vectors)):
        pick = int(np.argmax(nearest))
        chosen.append(pick)
        nearest = np.minimum(nearest, squared_distance(vectors, vectors[pick]))
    return chosen


class Enroller:
    def __init__(self, analyzer: FaceAnalyzer | ModelFacts, store: GalleryStore, policy: EnrollConfig,
                 accept_small: bool = False) -> None:
        """``analyzer``: the face path that finds and embeds the faces of images and videos, or only the facts of
        the model for faces embedded already (a review's, a cluster's: ``enroll``, ``enroll_cluster``).
        ``accept_small``: faces under the size and sharpness gates (down to ``SMALLEST`` px) are enrolled, each
        with a warning that says what it costs; the audit marks them."""
        self._analyzer = None if isinstance(analyzer, ModelFacts) else analyzer
        self.model = analyzer if isinstance(analyzer, ModelFacts) else \
            ModelFacts(analyzer.embedder.model_id, analyzer.embedder.dim, analyzer.embedder.verify_threshold)
        self.store = store
        self.policy = policy
        self.accept_small = accept_small

    @property
    def model_id(self) -> str:
        return self.model.model_id

    @property
    def analyzer(self) -> FaceAnalyzer:
        """The face path, for faces not embedded yet."""
        if self._analyzer is None:
            raise TypeError("this Enroller was given the model's facts only: it enrolls faces embedded already")
        return self._analyzer

    def from_images(self, paths: list[Path]) -> tuple[list[NewFace], list[Outcome]]:
        """One candidate face per image; images that cannot be read or hold 0 or 2+ faces are refused."""
        images, refused = [], []
        for path in paths:
            try:
                images.append((str(path), read_image(path)))
            except ImageError as error:
                refused.append(Outcome(str(path), REFUSED, str(error).removeprefix(f"{path}: ")))
        candidates, outcomes = self.from_arrays(images)
        return candidates, refused + outcomes

    def from_arrays(self, images: list[tuple[str, np.ndarray]]) -> tuple[list[NewFace], list[Outcome]]:
        """One candidate face per ``(source, RGB image)``; images with 0 or 2+ faces are refused.

        Faces smaller than ``enroll.min_face_size`` beside a large one (people far behind the subject)
        do not count: they could not be enrolled anyway.
        """
        candidates, outcomes = [], []
        for source, image in images:
            analysis = self.analyzer.analyze([image])[0]
            index = self._subject(analysis)
            if index is None:
                what = "no face" if not len(analysis) else f"{len(analysis)} faces"
                outcomes.append(Outcome(source, REFUSED, f"{what}; the image must hold exactly one"))
                continue
            candidates.append(_candidate(image, analysis, index, source))
        return candidates, outcomes

    def _subject(self, analysis: Analysis) -> int | None:
        """The image's one face, if it has one: its only face, or its only face large enough to enroll."""
        if len(analysis) == 1:
            return 0
        large = np.flatnonzero(analysis.quality.size >= self.policy.min_face_size)
        return int(large[0]) if len(large) == 1 else None

    def from_video(self, path: Path) -> tuple[list[NewFace], list[Outcome]]:
        """Candidate faces from evenly spaced frames that hold exactly one face."""
        capture = cv2.VideoCapture(str(path))
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if not capture.isOpened() or total <= 0:
            capture.release()
            raise ImageError(f"{path}: not a video this program can read")
        candidates, empty, crowded = [], 0, 0
        for number in np.unique(np.linspace(0, total - 1, VIDEO_SAMPLES).astype(int)):
            capture.set(cv2.CAP_PROP_POS_FRAMES, int(number))
            ok, bgr = capture.read()
            if not ok:
                continue
            image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            analysis = self.analyzer.analyze([image])[0]
            empty += len(analysis) == 0
            crowded += len(analysis) > 1
            if len(analysis) == 1:
                candidates.append(_candidate(image, analysis, 0, f"{path}#frame={number}"))
        capture.release()
        outcomes = []
        if empty or crowded:
            reason = f"{empty} sampled frames without a face, {crowded} with several"
            outcomes.append(Outcome(str(path), SKIPPED, reason))
        return candidates, outcomes

    def enroll(self, name: str, candidates: list[NewFace], outcomes: list[Outcome],
               metadata: dict | None = None) -> PersonResult:
        """Filter, de-duplicate and cap ``candidates``, then save them for ``name`` in one transaction.

        ``metadata``, when given, replaces the person's stored metadata.
        """
        outcomes = list(outcomes)
        good = []
        warnings = {}
        for face in candidates:
            reason = self._quality_problem(face)
            if reason and self.accept_small and self._admissible(face.quality):
                problems, _ = self._gates(face.quality)
                warnings[face.source] = f"admitted under the gates: {'; '.join(problems)}{self._price(face)}"
                good.append(face)
            elif reason:
                outcomes.append(Outcome(face.source, REFUSED, reason))
            else:
                good.append(face)
        existing = self.store.find(name)
        dim = self.model.dim
        ids, vectors = np.zeros(0, np.int64), np.zeros((0, dim), np.float32)
        if existing:
            ids, _, found = self.store.embeddings(self.model_id, existing.id)
            vectors = found.reshape(-1, dim)
        fresh = self._distinct(good, vectors, outcomes)
        keep, drop = self._cap(list(ids), vectors, fresh)
        for i, face in enumerate(fresh):
            if i in keep:
                outcomes.append(Outcome(face.source, ENROLLED, warnings.get(face.source, "")))
            else:
                cap = self.policy.max_faces_per_person
                outcomes.append(Outcome(face.source, DROPPED, f"the cap of {cap} keeps the most varied faces"))
        kept = [face for i, face in enumerate(fresh) if i in keep]
        if kept or drop or (metadata is not None and existing):
            self.store.save_person(name, kept, self.model_id, drop, metadata)
        return PersonResult(name, outcomes, len(ids) - len(drop) + len(kept))

    def enroll_cluster(self, unknowns: Unknowns, cluster_id: int, name: str) -> PersonResult:
        """Enroll the faces of a cluster of unknown sightings as ``name`` (new, or added to that person) through
        the same rules, and mark the cluster named. Refused when none of its faces goes in."""
        faces = unknowns.faces(cluster_id)
        if unknowns.model_id != self.model_id:
            raise GalleryError(f"{self.store.path}: cluster {cluster_id} is by {unknowns.model_id}, the active "
                               f"model is {self.model_id}")
        result = self.enroll(name, [face.as_new_face() for face in faces], [])
        if not result.count(ENROLLED) and not self.store.find(name):
            reasons = "; ".join(sorted({o.reason for o in result.outcomes if o.reason}))
            raise GalleryError(f"{self.store.path}: no face of cluster {cluster_id} could be enrolled ({reasons})")
        unknowns.mark(cluster_id, NAMED, self.store.identity(name).id)
        return result

    def _distinct(self, faces: list[NewFace], stored: np.ndarray, outcomes: list[Outcome]) -> list[NewFace]:
        """The faces not within ``DUPLICATE_SHARE`` of the embedder's threshold of a stored face or an earlier one
        here (a share, since each model has its own scale of distances)."""
        have = list(stored)
        sources = ["a face already enrolled"] * len(have)
        fresh = []
        for face in faces:
            if have:
                distances = squared_distance(np.stack(have), face.embedding)
                closest = int(np.argmin(distances))
                if distances[closest] < DUPLICATE_SHARE * self.model.verify_threshold:
                    outcomes.append(Outcome(face.source, SKIPPED, f"near-duplicate of {sources[closest]}"))
                    continue
            have.append(face.embedding)
            sources.append(face.source)
            fresh.append(face)
        return fresh

    def _quality_problem(self, face: NewFace) -> str:
        """Why the face fails the enrolment gates ("": it passes), with the settings that would take it, whether
        ``enroll --accept-small`` would, and what a reference that small costs."""
        problems, settings = self._gates(face.quality)
        if not problems:
            return ""
        way = f"{' and '.join(settings)} would take it" if settings else "no setting takes a face this small"
        if self._admissible(face.quality):
            way += " (or `facetrack enroll --accept-small`)"
        return f"{'; '.join(problems)}: {way}{self._price(face)}"

    def _gates(self, q: dict[str, float]) -> tuple[list[str], list[str]]:
        """The gates the face fails, and the settings that would let it through."""
        p, problems, settings = self.policy, [], []
        size, sharpness, frontal = q.get("size", 0.0), q.get("sharpness", 0.0), q.get("frontal", 0.0)
        if size < p.min_face_size:
            problems.append(f"face too small ({int(size)} px < {p.min_face_size} px)")
            settings += [f"enroll.min_face_size = {int(size)}"] if size >= SMALLEST else []
        if sharpness < p.min_sharpness:
            problems.append(f"face too blurred (sharpness {sharpness:.1f} < {p.min_sharpness})")
            settings.append(f"enroll.min_sharpness = {math.floor(sharpness * 10) / 10}")
        if frontal < p.min_frontal:
            problems.append(f"face turned away (frontal {frontal:.2f} < {p.min_frontal})")
            settings.append(f"enroll.min_frontal = {math.floor(frontal * 100) / 100}")
        return problems, settings

    def _admissible(self, q: dict[str, float]) -> bool:
        """Whether ``--accept-small`` takes the face: under the size or sharpness gate only, and not under 12 px."""
        return q.get("size", 0.0) >= SMALLEST and q.get("frontal", 0.0) >= self.policy.min_frontal

    def _price(self, face: NewFace) -> str:
        """What a reference this small costs, from the model card's ``small_faces`` table ("" when not small, or
        not measured for this model)."""
        name, size = self.model_id.split(":")[0], face.quality.get("size", 0.0)
        card = shipped_card(name)  # (None: a trained head's model)
        small = card.small_faces if card is not None else None
        if small is None or size >= self.policy.min_face_size:
            return ""
        smallest = small.rates[1][0]
        if size < smallest:
            return f"; what a reference under {smallest} px costs is not measured"
        return (f"; a reference of {int(size)} px is within {name}'s verification threshold of "
                f"{small.rate(size):.2%} of strangers' faces, against {small.rates[0][1]:.2%} for one as large as "
                "LFW's (its model card, measured on LFW)")

    def _cap(self, stored_ids: list[int], stored: np.ndarray, fresh: list[NewFace]) -> tuple[set[int], list[int]]:
        """Indices of ``fresh`` to keep and stored face ids to drop, so the person holds at most the cap."""
        cap = self.policy.max_faces_per_person
        if len(stored_ids) + len(fresh) <= cap:
            return set(range(len(fresh))), []
        vectors = np.concatenate([stored, np.stack([f.embedding for f in fresh])]) if fresh else stored
        first = 0 if stored_ids else int(np.argmax([_score(f) for f in fresh]))
        chosen = set(most_varied(vectors, cap, first))
        n = len(stored_ids)
        return {i - n for i in chosen if i >= n}, [face_id for i, face_id in enumerate(stored_ids) if i not in chosen]


def _score(face: NewFace) -> float:
    """How good a face is to start the varied selection from."""
    return rank(face.quality)
