"""The values one camera's rules share, between the rules and with their caller: the camera's fixed rules
(``CameraRules``), what the camera keeps of an open track (``TrackState``), a frame as the rules see it
(``FrameInfo``), what ``plan`` decided for its faces (``FramePlan``), the gallery as a frame's rules read it
(``GalleryTerms``), the gallery's verdict on one face (``Verdict``), and what comes out: a face of a frame
(``TrackedFace``) and an open track as the HTTP side shows it (``TrackView``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from tracker.config import TrackingConfig
from tracker.images import blurred_jpeg_base64, face_region, jpeg_base64
from tracker.track.identity import (
    UNKNOWN,
    Observation,
    TrackIdentity,
    one_face_names,
    pose_discount,
    threshold_evidence,
)
from tracker.track.sighting import BestFaces, Sighting
from tracker.track.zones import Zones

if TYPE_CHECKING:  # annotations only: the tracker's rules need no torch
    from tracker.face.analyzer import Analysis

SPLIT_SHARE = 1.1  # the split distance: a share of the embedder's own threshold (docs/tuning.md; was a setting)
CLEAR_SIZE = 48.0  # a face this large (px) and this frontal (no pose discount) is clear: the faces whose evidence
CLEAR_FRONTAL = 0.75  # alone may call a track a stranger (``TrackState.clear``)


@dataclass(frozen=True)
class CameraRules:
    """A camera's rules that do not change while it runs."""

    tracking: TrackingConfig
    scale: float  # the embedder's own (LFW) threshold: the unit of its distances, that of ``split_share``
    crop_max_bytes: int  # of an event's face crop (0: events carry none)
    sighting_faces: int = 0  # the best faces an unknown track's sighting keeps (0: no sightings)
    keep_named: bool = False  # named tracks leave a sighting too
    blur_unknown: bool = False  # the events of a track not (yet) named carry its face crop blurred
    video: bool = False  # the camera is a video file: events carry the frame's position in it (``video_time``)
    zones: Zones = field(default_factory=lambda: Zones({}))  # which events name, and people enter and leave
    split_share: float = SPLIT_SHARE  # a face this far from its track's look (a share of ``scale``) leaves it


@dataclass
class TrackState:
    """What the camera keeps of one open track besides its box, and what one embedded face of it changes (``see``)."""

    identity: TrackIdentity
    crop: str | None = None  # best face crop, JPEG base64
    blurred: str | None = None  # the same crop blurred, for the events of an unknown track (blur_unknown)
    crop_weight: float = -1.0
    first_time: float = 0.0  # capture time of the track's first and latest face
    last_time: float = 0.0
    last_clock: float = 0.0  # the tracker clock of its latest face (a video file's position)
    first_clock: float = 0.0  # ...and of its first
    last_source: tuple[str, float] | None = None  # a folder camera's recording of its latest face
    embedded_at: float = -1e9  # frame time (tracker clock) of its latest embedding
    agreed_at: float = -1e9  # ...of its latest embedded face that agreed with its name
    touching: bool = False  # its box overlapped another face's or track's on its latest detected frame
    misses: int = 0  # embeddings in a row that matched no one
    doubt: bool = False  # its latest face looked a little unlike it: the next one decides
    best: BestFaces = field(default_factory=lambda: BestFaces(0))  # its best faces, for its sighting
    carried: set[int] = field(default_factory=set)  # every identity it was named, now or before (erasure ends it)
    clear: TrackIdentity | None = None  # the sequential test over its clear faces alone (None: none yet)
    stranger: bool = False  # it was said to be nobody enrolled (``track.unknown``)
    review: tuple[int, float, float] | None = None  # unnamed, in the review band as of its last face: (identity,
    # evidence, what its evidence or its lead still lacked for the name)

    def present(self, frame: FrameInfo) -> None:
        """Its face is on the detected ``frame``."""
        self.last_time, self.last_clock, self.last_source = frame.time, frame.clock, frame.source

    def see(self, frame: FrameInfo, analysis: Analysis, face: int, weight: float, verdict: Verdict,
            gallery: GalleryTerms, rules: CameraRules, cut: bool) -> str | None:
        """One embedded face of the track (``face`` of ``analysis``, of quality ``weight``): the best crop and faces
        kept, the verdict's evidence added to its sequential test. Returns its decision ("resolved", "changed";
        "unknown": its clear faces' own test holds everyone enrolled at the floor, before any name; None: nothing
        new)."""
        q, box = analysis.quality, analysis.faces.boxes[face]
        self.embedded_at = frame.clock
        if weight > self.crop_weight:
            self.take_crop(frame, box, weight, rules)
        if self.identity.identity == UNKNOWN or rules.keep_named:  # a named track never ends unknown
            quality = {"size": float(q.size[face]), "sharpness": float(q.sharpness[face]),
                       "frontal": float(q.frontal[face])}
            self.best.offer(frame.image, frame.in_image(analysis.faces.landmarks[face]), quality,
                            analysis.embeddings[face], frame.time, weight)
        # Evidence is discounted by pose alone: strangers' faces fall within a distance no more often when small or
        # blurred (LFW measured at 26-48 px), about twice as often when turned.
        seen = verdict.observation(float(q.frontal[face]), frame.time, cut, gallery)
        self.misses = 0 if seen.evidence > 0 else self.misses + 1
        decision = self.identity.observe(seen, gallery.bound)
        if q.size[face] >= CLEAR_SIZE and q.frontal[face] >= CLEAR_FRONTAL:
            self.clear = self.clear or TrackIdentity(gallery.bound)
            self.clear.observe(seen, gallery.bound)
        if self.identity.agrees(seen):
            self.agreed_at = frame.clock
        if self.identity.identity == UNKNOWN:  # in the review band now, or not (later faces may take it out)
            leader, evidence, lead = self.identity.leader()
            asks = min(evidence, lead) >= gallery.review_bound and leader in gallery.names  # (not someone erased)
            self.review = (leader, evidence, self.identity.bound - min(evidence, lead)) if asks else None
        if decision:
            if self.carried - {self.identity.identity}:  # the best face so far was shown as someone else's
                self.blurred = None
                self.take_crop(frame, box, weight, rules)
            self.carried.add(self.identity.identity)
        elif not (self.stranger or self.carried) and self.clear is not None and self.clear.stranger:
            self.stranger = True
            return "unknown"
        return decision

    def asked(self) -> tuple[int, float, float] | None:
        """What an ended track asks someone to decide: (identity, evidence, what it lacked for the name) when it was
        never named, nor called a stranger, and its evidence for one identity (and its lead) stands past the review
        bound (``identity.review``); else None."""
        return None if self.identity.identity != UNKNOWN or self.carried or self.stranger else self.review

    def sighting(self, camera_id: str, track_id: int, model_id: str, keep_named: bool) -> Sighting | None:
        """What the ended track leaves for review: its best faces, if it ended unknown (or ``keep_named``)."""
        identity = self.identity.identity
        if not self.best.faces or (identity != UNKNOWN and not keep_named):
            return None
        return Sighting(camera_id, track_id, self.first_time, self.last_time, model_id, self.best.faces,
                        None if identity == UNKNOWN else identity, self.asked())

    def take_crop(self, frame: FrameInfo, box: np.ndarray, weight: float, rules: CameraRules) -> None:
        """The face in ``box`` (in the boxes' frame) becomes the track's best: its crop, and the crop blurred when
        unknown tracks' are."""
        self.crop_weight = weight
        limit = rules.crop_max_bytes
        self.crop = jpeg_base64(face_region(frame.image, frame.in_image(box)), limit) if limit else None
        if rules.blur_unknown and self.crop:
            self.blurred = blurred_jpeg_base64(self.crop, limit)

    def explain(self, track_id: int, gallery: GalleryTerms) -> dict:
        """Why the track is (not) named: its evidence per identity, the bound, its latest observations, by name."""
        why, name = self.identity.explain(), gallery.name_of

        def by_name(evidence: dict[int, float]) -> dict[str, float]:
            return {name(k): v for k, v in evidence.items()}

        return {"track": track_id, **why, "name": name(why["identity"]), "evidence": by_name(why["evidence"]),
                "observations": [{**o, "nearest": name(o["nearest"]), "evidence": by_name(o["evidence"])}
                                 for o in why["observations"]]}


@dataclass(frozen=True)
class FramePlan:
    """What ``plan`` decided for one frame's faces."""

    quality: np.ndarray  # (n,) quality proxy from box size and pose
    embed: list[int]  # indices of the faces to embed
    known: dict[int, int] = field(default_factory=dict)  # face index -> the open track its box continues
    cut: bool = False  # the frame changed like a shot cut: every track is verified
    touching: set[int] = field(default_factory=set)  # faces whose box overlaps another face's or track's

    def embeddings(self, analysis: Analysis | None, faces: int) -> np.ndarray | None:
        """(faces, d): the embeddings of the faces ``embed`` chose, from ``analysis``; NaN rows for the others
        (None: nothing embedded)."""
        if analysis is None:
            return None
        rows = np.full((faces, analysis.embeddings.shape[1]), np.nan, np.float32)
        rows[self.embed] = analysis.embeddings
        return rows


@dataclass(frozen=True)
class GalleryTerms:
    """What a camera's rules read of the gallery, one value for a whole frame (part of ``gallery.view.GalleryView``):
    whose embeddings it holds, the naming rule (a face within ``threshold`` and ``margin`` ahead of the runner-up
    names its nearest identity; a track names one once its evidence reaches ``bound``), and who is called what."""

    model_id: str
    threshold: float  # the threshold in force for the gallery as it is
    margin: float
    bound: float = math.log(1000.0)  # the evidence a track needs for a name (ln(identities / match.far))
    review_bound: float = math.inf  # ...for a review, ``identity.review`` (ln(identities / match.review_far))
    names: Mapping[int, str] = field(default_factory=dict)  # identity id -> name

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", MappingProxyType(dict(self.names)))  # shared across threads: read-only

    def name_of(self, identity: int | None) -> str:
        """An identity's name; "unknown" for ``UNKNOWN`` (or None) and for one no longer in the gallery."""
        return self.names.get(identity, "unknown") if identity is not None and identity != UNKNOWN else "unknown"


@dataclass(frozen=True)
class Verdict:
    """The gallery's verdict on one face: the nearest identity (``UNKNOWN`` with an empty gallery), its
    distance, and its margin over the runner-up. The naming rule it is read by is the frame's ``GalleryTerms``."""

    identity: int
    distance: float
    margin: float
    refused: bool = False  # closer to faces rejected as not the identity than to the identity's own
    evidence: float | None = None  # the log-likelihood ratio for ``identity`` (gallery/evidence.py); None: no
    # calibration for the model, so a face within the threshold counts as the bound, one beyond it as minus it
    runner_up: int = UNKNOWN  # the second nearest identity
    runner_evidence: float | None = None  # ...and its evidence (None: as for ``evidence``, at distance + margin)

    def names(self, terms: GalleryTerms) -> bool:
        """Whether this one face names its identity (``facetrack identify``'s rule): within the threshold, the
        margin ahead of the runner-up, and not refused."""
        return self.identity != UNKNOWN and bool(one_face_names(self.distance, self.margin, terms.threshold,
                                                                terms.margin, self.refused))

    def observation(self, frontal: float, time: float, cut: bool, terms: GalleryTerms) -> Observation:
        """What the face tells the track's sequential test: the evidence for its nearest two identities, less
        ``pose_discount(frontal)``."""
        discount = pose_discount(frontal)
        gain = (self.evidence if self.evidence is not None
                else threshold_evidence(self.distance, terms.threshold, terms.bound))
        runner = (self.runner_evidence if self.runner_evidence is not None
                  else threshold_evidence(self.distance + self.margin, terms.threshold, terms.bound))
        return Observation(self.identity, gain - discount, self.runner_up, runner - discount, self.refused,
                           self.distance, self.margin, frontal, time, cut)


@dataclass(frozen=True)
class FrameInfo:
    """The parts of a frame the rules need: its capture time, its tracker clock, its pixels (RGB). ``size``: the
    (width, height) the faces' boxes are in when ``image`` has other pixels (a sub-stream camera's sub-stream
    frame, its boxes in its main stream's pixels); None: the image's own."""

    time: float
    clock: float
    image: np.ndarray
    size: tuple[int, int] | None = None
    source: tuple[str, float] | None = None  # a folder camera's recording and its start on the clock

    def box_size(self) -> tuple[int, int]:
        """The width and height of the frame the tracks' boxes are in."""
        return self.size or (self.image.shape[1], self.image.shape[0])

    def in_image(self, points: np.ndarray) -> np.ndarray:
        """Box corners or landmarks (x, y pairs, in the last axis) from the boxes' frame into ``image``'s pixels."""
        if self.size is None:
            return points
        fx, fy = self.image.shape[1] / self.size[0], self.image.shape[0] / self.size[1]
        return points * np.array([fx, fy] * (points.shape[-1] // 2), np.float32)


@dataclass(frozen=True)
class TrackedFace:
    """A face of an analysed frame: its box, its track, and the track's name (None: unknown)."""

    box: np.ndarray  # (4,) x1 y1 x2 y2, frame pixels
    track_id: int
    name: str | None

    def label(self) -> str:
        return f"#{self.track_id} {self.name or 'unknown'}"


@dataclass(frozen=True)
class TrackView:
    """An open track as the HTTP side shows it."""

    id: int
    box: list[float]
    name: str
    identity_id: int | None
    since: float
    last_seen: float
    crop_jpeg: str | None

    @classmethod
    def of(cls, track_id: int, box: np.ndarray, state: TrackState, gallery: GalleryTerms) -> TrackView:
        who = state.identity.identity
        return cls(track_id, [round(float(v), 1) for v in box], gallery.name_of(who), who if who != UNKNOWN else None,
                   state.first_time, state.last_time, state.crop)
