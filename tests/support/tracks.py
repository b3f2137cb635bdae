"""One camera's rules without models or I/O (``CameraTracks``): faces, looks and verdicts made up."""

from dataclasses import fields

import numpy as np

from tracker.config import TrackingConfig
from tracker.face.analyzer import Analysis
from tracker.face.quality import Quality, frontal_score
from tracker.faces import Faces
from tracker.track.camera import CameraTracks
from tracker.track.identity import UNKNOWN
from tracker.track.state import CameraRules, FrameInfo, GalleryTerms, Verdict

THRESHOLD, MARGIN = 0.2, 0.03
IMAGE = np.full((480, 640, 3), 120, np.uint8)
OTHER_SHOT = np.zeros_like(IMAGE)
OTHER_SHOT[..., 0] = 200  # another shot: other colours
NAMES = {7: "Ann Lee", 8: "Bo Chen"}
TERMS = GalleryTerms("test:0", THRESHOLD, MARGIN, names=NAMES)  # the gallery the camera names with
RULES = {f.name for f in fields(CameraRules)}


def cam(**settings) -> CameraTracks:
    """A camera at the door naming with ``TERMS``: ``settings`` are ``CameraRules`` fields (20 kB crops, the
    threshold as the unit of distances, unless given) and ``tracking`` settings."""
    rules = {"scale": THRESHOLD, "crop_max_bytes": 20_000} | {k: v for k, v in settings.items() if k in RULES}
    tracking = TrackingConfig(**{k: v for k, v in settings.items() if k not in RULES})
    return CameraTracks(camera_id="door", rules=CameraRules(tracking, **rules))


def faces(*lefts: float, size: float = 100.0, nose: float = 0.5) -> Faces:
    """Faces of ``size`` px whose boxes start at x = ``lefts``; frontal, or turned when the nose is off 0.5."""
    boxes = np.array([[x, 100, x + size, 100 + size] for x in lefts], np.float32).reshape(-1, 4)
    marks = np.array([[0.3, 0.4], [0.7, 0.4], [nose, 0.6], [0.35, 0.8], [0.65, 0.8]], np.float32)
    landmarks = boxes[:, None, :2] + marks[None] * size
    return Faces(boxes, np.ones(len(boxes), np.float32), landmarks.reshape(-1, 5, 2))


def look(k: int) -> np.ndarray:
    """The k-th of orthogonal unit embeddings: different looks are 2.0 apart (squared L2)."""
    return np.eye(128, dtype=np.float32)[k]


def drifted(k: int, distance: float) -> np.ndarray:
    """A unit embedding ``distance`` (squared L2) from ``look(k)``, as blur or light make a face drift."""
    cos = 1.0 - distance / 2.0
    return (cos * look(k) + np.sqrt(1.0 - cos**2) * look(100)).astype(np.float32)


def analysis_of(found: Faces, embed: list[int], looks: dict, sharpness: float = 100.0) -> Analysis:
    """Face ``d`` looks like ``look(looks.get(d, d))``, or like ``looks[d]`` when that is an embedding."""
    chosen = found.select(embed)
    n = len(chosen)
    vectors = np.stack([looks[d] if isinstance(looks.get(d), np.ndarray) else look(looks.get(d, d)) for d in embed])
    quality = Quality(chosen.sizes, np.full(n, sharpness, np.float32), frontal_score(chosen.landmarks))
    return Analysis(chosen, np.zeros((n, 150, 150, 3), np.uint8), quality, vectors)


def step(tracks: CameraTracks, t: float, found: Faces, verdicts: dict[int, Verdict],
         looks: dict | None = None, image: np.ndarray = IMAGE, sharpness: float = 100.0,
         gallery: GalleryTerms = TERMS, source: tuple[str, float] | None = None):
    """One analysed frame at time ``t``; ``verdicts`` gives the gallery's answer per face index; ``source``: a
    folder camera's recording and its start on the clock."""
    frame = FrameInfo(1000.0 + t, t, image, source=source)
    tracks.note(frame)
    plan = tracks.plan(frame, found)
    analysis = analysis_of(found, plan.embed, looks or {}, sharpness) if plan.embed else None
    given = [verdicts.get(d, Verdict(UNKNOWN, 4.0, 0.0)) for d in plan.embed]
    tracked, events = tracks.update(frame, found, plan, analysis, given, gallery)
    return plan, tracked, events


def kinds(events) -> list[str]:
    return [e.type for e in events]
