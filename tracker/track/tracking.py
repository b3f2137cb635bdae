"""Multi-face tracking for one camera: pure and synchronous, ``update()`` per frame, ``reset()``.

Association is motion-predicted box overlap: each track's box moves on at its smoothed
velocity to the frame's time, and detections are matched greedily by IoU (highest first,
at least ``MIN_IOU``). A detection left over that carries an embedding may re-join a track
that missed the last frames when the embeddings agree (``reid_distance``): a person who
was briefly hidden keeps their track. Tracks unseen for ``max_age`` seconds end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tracker.distance import squared_distance
from tracker.faces import Faces

MIN_IOU = 0.2  # a face continues a track whose predicted box it overlaps this much (was tracking.min_iou)

@dataclass
class Track:
    id: int
    box: np.ndarray  # (4,) x1 y1 x2 y2 at last_seen
    velocity: np.ndarray  # (4,) pixels per second
    last_seen: float
    embedding: np.ndarray | None = None  # running unit mean of its faces
    best_quality: float = 0.0

    def predicted(self, t: float) -> np.ndarray:
        return self.box + self.velocity * (t - self.last_seen)


@dataclass(frozen=True)
class Step:
    """What one ``update`` did: the track id of each detection, and which tracks started or ended."""

    track_ids: np.ndarray  # (n,) per detection
    started: list[Track] = field(default_factory=list)
    ended: list[Track] = field(default_factory=list)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union of boxes ``a (n, 4)`` and ``b (m, 4)``."""
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(br - tl, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


class FaceTracker:
    def __init__(self, min_iou: float = MIN_IOU, max_age: float = 1.5, reid_distance: float = 0.25,
                 smoothing: float = 0.5, first_id: int = 1) -> None:
        self.first_id = first_id
        self.min_iou = min_iou
        self.max_age = max_age
        self.reid_distance = reid_distance
        self.smoothing = smoothing
        self.reset()

    def reset(self) -> None:
        self.tracks: dict[int, Track] = {}
        self._next_id = self.first_id

    def match(self, t: float, boxes: np.ndarray, fixed: dict[int, int | None] | None = None) -> dict[int, int]:
        """Detection index -> track id by predicted overlap, without changing any state.

        ``fixed`` detections keep the track the caller gave them (None: a new track) and take no other."""
        fixed = fixed or {}
        pairs = {d: k for d, k in fixed.items() if k is not None}
        live = [tr for tr in self.tracks.values() if tr.id not in pairs.values()]
        if not live or not len(boxes):
            return pairs
        overlap = iou(boxes, np.stack([tr.predicted(t) for tr in live]))
        used: set[int] = set()
        for flat in np.argsort(-overlap, axis=None):
            d, k = np.unravel_index(flat, overlap.shape)
            if overlap[d, k] < self.min_iou:
                break
            if d not in pairs and d not in fixed and k not in used:
                pairs[int(d)] = live[k].id
                used.add(k)
        return pairs

    def update(self, t: float, faces: Faces, embeddings: np.ndarray | None = None,
               quality: np.ndarray | None = None, fixed: dict[int, int | None] | None = None) -> Step:
        """Advance to frame time ``t`` with this frame's ``faces``.

        ``embeddings (n, d)`` may hold NaN rows for faces not embedded this frame;
        ``quality (n,)`` is each face's quality score (higher is better); ``fixed`` gives some
        detections their track (None: a new one) whatever the overlaps say.
        """
        n = len(faces)
        quality = np.zeros(n) if quality is None else quality
        pairs = self.match(t, faces.boxes, fixed)
        self._relink(t, faces, embeddings, pairs, set(fixed or ()))
        started = []
        ids = np.zeros(n, np.int64)
        for d in range(n):
            vector = None if embeddings is None or np.isnan(embeddings[d]).any() else embeddings[d]
            if d in pairs:
                self._observe(self.tracks[pairs[d]], t, faces.boxes[d], vector, float(quality[d]))
            else:
                track = Track(self._next_id, faces.boxes[d].astype(np.float64), np.zeros(4), t,
                              embedding=vector, best_quality=float(quality[d]))
                self._next_id += 1
                self.tracks[track.id] = track
                started.append(track)
                pairs[d] = track.id
            ids[d] = pairs[d]
        ended = [tr for tr in self.tracks.values() if t - tr.last_seen > self.max_age]
        for tr in ended:
            del self.tracks[tr.id]
        return Step(ids, started, ended)

    def end(self, track_id: int) -> Track:
        """End one track now (its face turned out to be someone else's)."""
        return self.tracks.pop(track_id)

    def end_all(self) -> list[Track]:
        """End every open track (the camera stops)."""
        ended = list(self.tracks.values())
        self.tracks.clear()
        return ended

    def _relink(self, t: float, faces: Faces, embeddings: np.ndarray | None, pairs: dict[int, int],
                fixed: set[int]) -> None:
        if embeddings is None:
            return
        taken = set(pairs.values())
        missing = [(tr, tr.embedding) for tr in self.tracks.values()
                   if tr.id not in taken and tr.last_seen < t and tr.embedding is not None]
        for d in range(len(faces)):
            if d in pairs or d in fixed or not missing or np.isnan(embeddings[d]).any():
                continue
            distances = [float(squared_distance(embedding, embeddings[d])) for _, embedding in missing]
            best = int(np.argmin(distances))
            if distances[best] < self.reid_distance:
                pairs[d] = missing.pop(best)[0].id

    def _observe(self, track: Track, t: float, box: np.ndarray, vector: np.ndarray | None, quality: float) -> None:
        dt = t - track.last_seen
        if dt > 0:
            velocity = (box - track.box) / dt
            track.velocity = self.smoothing * track.velocity + (1 - self.smoothing) * velocity
        track.box = box.astype(np.float64)
        track.last_seen = t
        if vector is not None:
            mean = vector if track.embedding is None else track.embedding + vector
            track.embedding = mean / np.linalg.norm(mean)
        track.best_quality = max(track.best_quality, quality)
