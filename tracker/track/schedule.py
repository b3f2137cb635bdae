"""Which of a frame's faces to embed, pure: the embedding schedule of one camera's tracks.

Embedded: a face with no track yet; a track back after a detected frame without its face (someone
else may have walked into its place) or in doubt; a face better than its track's best by
``REEMBED_GAIN``; a box that jumped where its motion does not explain (``JUMP``); a named track
that did not agree with its name on the previous analysed frame (its name is shown only next to
agreement); a named track whose box touches another face or track, and once more when they come
apart; an unnamed track with evidence for someone (every frame, to name it soon); an unnamed track
that matched no one, every ``unknown_interval``, doubling per miss up to 8 times; every face on a cut.
"""

from __future__ import annotations

import numpy as np

from tracker.config import TrackingConfig
from tracker.faces import Faces
from tracker.track.identity import UNKNOWN
from tracker.track.state import FramePlan, TrackState
from tracker.track.tracking import Track, iou

MAX_BACKOFF = 3  # an unknown track's re-embedding interval doubles per miss, up to 8 x unknown_interval
REEMBED_GAIN = 1.2  # a track's face this many times better than its best is embedded again (was tracking.reembed_gain)
JUMP = 0.5  # a box this far (share of its size) from where its motion puts it is verified at once (was tracking.jump)


def remember_touching(plan: FramePlan, states: dict[int, TrackState]) -> None:
    """Each named track of the planned frame remembers whether its face touched another face or track, so that it
    is verified once more when they come apart."""
    for d, own in plan.known.items():
        state = states.get(own)
        if state is not None and state.identity.identity != UNKNOWN:
            state.touching = d in plan.touching


def touching(t: float, faces: Faces, tracks: dict[int, Track], known: dict[int, int]) -> list[bool]:
    """Per face: whether its box overlaps another face's, or another open track's predicted box."""
    if not len(faces):
        return []
    boxes = [faces.boxes] + [track.predicted(t)[None] for track in tracks.values()]
    owners = list(range(len(faces))) + [-1 - track_id for track_id in tracks]
    overlap = iou(faces.boxes, np.concatenate(boxes)) > 0
    own = [(d, -1 - known[d]) if d in known else (d,) for d in range(len(faces))]
    return [any(overlap[d, j] and owners[j] not in own[d] for j in range(len(owners))) for d in range(len(faces))]


def jumped(track: Track, box: np.ndarray, t: float, jump: float) -> bool:
    """The box is not where the track's motion puts it (position or size), by ``jump`` of its size."""
    predicted = track.predicted(t)
    size = max(float(predicted[2] - predicted[0]), 1.0)
    moved = np.abs((box[:2] + box[2:]) / 2 - (predicted[:2] + predicted[2:]) / 2).max()
    grown = abs(float(box[2] - box[0]) - size)
    return max(moved, grown) > jump * size


class EmbeddingSchedule:
    def __init__(self, tracking: TrackingConfig) -> None:
        self.tracking = tracking

    def choose(self, t: float, previous: float, faces: Faces, known: dict[int, int], proxy: np.ndarray, cut: bool,
               tracks: dict[int, Track], states: dict[int, TrackState]) -> tuple[list[int], set[int]]:
        """The faces to embed at clock ``t`` (``previous``: the detected frame before), and the faces whose box
        touches another face or track (``CameraTracks.update`` notes it on each named track, for the next frame)."""
        near = touching(t, faces, tracks, known)
        crossed = self._crossed(near, known, states)
        embed = [d for d in range(len(faces)) if cut or crossed[d] or self._wants(
            tracks.get(known.get(d, -1)), states.get(known.get(d, -1)), faces.boxes[d], float(proxy[d]), t, previous)]
        return embed, {d for d, now in enumerate(near) if now}

    def _crossed(self, near: list[bool], known: dict[int, int], states: dict[int, TrackState]) -> list[bool]:
        """Per face: whether its named track must be verified because faces crossed. A face that touches
        another face or track may have taken the other's track; so may a face whose track touched another
        on its last frame and has now come apart. Unnamed tracks keep their own schedule: they carry no
        name that could travel."""
        result = []
        for d, now in enumerate(near):
            state = states.get(known[d]) if d in known else None
            if state is None or state.identity.identity == UNKNOWN:
                result.append(False)
                continue
            result.append(now or state.touching)
        return result

    def _wants(self, track: Track | None, state: TrackState | None, box: np.ndarray, proxy: float, t: float,
               previous: float) -> bool:
        if track is None or state is None:
            return True
        if state.doubt or track.last_seen < previous:  # back after a frame without its face: whose is it?
            return True
        if proxy > track.best_quality * REEMBED_GAIN or jumped(track, box, t, JUMP):
            return True
        if state.identity.identity != UNKNOWN:  # its name is shown only where its face agreed this frame or the last
            return state.agreed_at < previous
        if state.identity.hopeful:
            return True
        backoff = 2 ** min(max(state.misses - 1, 0), MAX_BACKOFF)  # a stranger costs less the longer they stay
        return t - state.embedded_at >= self.tracking.unknown_interval * backoff
