"""Scoring a video's tracks and names against ground truth, frame by frame (pure functions).

On every analysed frame, tracked faces are matched one-to-one to the true faces by box
overlap (IoU at least ``MATCH_IOU``, best first). Then:

- **IDF1** (Ristani et al. 2016, as MOT benchmarks report it): the true identities and the
  tracks are paired one-to-one for the whole video so that they agree on as many frames as
  possible; IDF1 = 2 IDTP / (2 IDTP + IDFP + IDFN).
- **ID switches** (CLEAR MOT): a true person's matched track differs from the track last
  matched to them.
- **wrong-name seconds**: frames on which an enrolled person's face carried another name,
  times the analysed frame's duration; **unknowns named**: the same for people never enrolled;
  **absent named**: a name on a face that is not that person's while that person is not in
  view at all (a name conjured up, or a name carried onto a stranger).
- **named coverage**: the share of an enrolled person's analysed frames in view on which
  their face carried their name; **time to first name**: from an enrolled person's first
  analysed frame in view to the first one with their name on their face.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from tracker.track.tracking import iou

MATCH_IOU = 0.3


@dataclass(frozen=True)
class TruthFace:
    person: str  # who it is (LFW name), enrolled or not
    enrolled: bool
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class SeenFace:
    track: int
    name: str | None  # None: unknown
    box: tuple[float, float, float, float]


@dataclass
class VideoScore:
    frames: int  # analysed frames scored
    frame_seconds: float
    idf1: float
    id_switches: int
    wrong_name_seconds: float
    unknown_named_seconds: float
    absent_named_seconds: float
    named_coverage: float  # nan when no enrolled person is in view
    first_name_seconds: dict[str, float | None] = field(default_factory=dict)  # None: never named

    def as_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def match_frame(truth: list[TruthFace], seen: list[SeenFace]) -> list[tuple[int, int]]:
    """``(truth index, seen index)`` pairs, best overlap first, each at least ``MATCH_IOU``."""
    if not truth or not seen:
        return []
    overlap = iou(np.array([t.box for t in truth], np.float64), np.array([s.box for s in seen], np.float64))
    pairs, used_t, used_s = [], set(), set()
    for flat in np.argsort(-overlap, axis=None):
        i, j = np.unravel_index(flat, overlap.shape)
        if overlap[i, j] < MATCH_IOU:
            break
        if i not in used_t and j not in used_s:
            pairs.append((int(i), int(j)))
            used_t.add(i)
            used_s.add(j)
    return pairs


def score(truth: dict[int, list[TruthFace]], seen: dict[int, list[SeenFace]], times: dict[int, float],
          frame_seconds: float) -> VideoScore:
    """Score the analysed frames (the keys of ``seen``) against ``truth``; ``times`` gives each frame's time."""
    tally = _Tally(frame_seconds)
    for number in sorted(seen):
        tally.add(times[number], truth.get(number, []), seen[number])
    return tally.result()


class _Tally:
    def __init__(self, frame_seconds: float) -> None:
        self.frame_seconds = frame_seconds
        self.frames = 0
        self.pairs: dict[tuple[str, int], int] = defaultdict(int)  # (person, track) -> frames together
        self.truth_count = 0
        self.seen_count = 0
        self.switches = 0
        self.last_track: dict[str, int] = {}
        self.wrong = self.unknown_named = self.absent = 0
        self.in_view: dict[str, int] = defaultdict(int)  # enrolled person -> frames in view
        self.named: dict[str, int] = defaultdict(int)  # enrolled person -> frames with their name
        self.first_seen: dict[str, float] = {}
        self.first_named: dict[str, float] = {}

    def add(self, t: float, truth: list[TruthFace], seen: list[SeenFace]) -> None:
        self.frames += 1
        self.truth_count += len(truth)
        self.seen_count += len(seen)
        present = {f.person for f in truth}
        for face in truth:
            if face.enrolled:
                self.in_view[face.person] += 1
                self.first_seen.setdefault(face.person, t)
        matched = dict(match_frame(truth, seen))
        for i, j in matched.items():
            self._pair(t, truth[i], seen[j])
        owners = {j: truth[i].person for i, j in matched.items()}
        for j, face in enumerate(seen):
            if face.name is not None and face.name != owners.get(j) and face.name not in present:
                self.absent += 1

    def _pair(self, t: float, truth: TruthFace, seen: SeenFace) -> None:
        self.pairs[(truth.person, seen.track)] += 1
        if truth.person in self.last_track and self.last_track[truth.person] != seen.track:
            self.switches += 1
        self.last_track[truth.person] = seen.track
        if seen.name is None:
            return
        if not truth.enrolled:
            self.unknown_named += 1
        elif seen.name != truth.person:
            self.wrong += 1
        else:
            self.named[truth.person] += 1
            self.first_named.setdefault(truth.person, t)

    def result(self) -> VideoScore:
        s = self.frame_seconds
        coverage = sum(self.named.values()) / sum(self.in_view.values()) if self.in_view else float("nan")
        first = {p: (round(self.first_named[p] - t0, 3) if p in self.first_named else None)
                 for p, t0 in self.first_seen.items()}
        return VideoScore(self.frames, s, self._idf1(), self.switches, self.wrong * s, self.unknown_named * s,
                          self.absent * s, coverage, first)

    def _idf1(self) -> float:
        from scipy.optimize import linear_sum_assignment  # a third of every `facetrack` command's start: here only

        if not self.truth_count and not self.seen_count:
            return 1.0
        people = sorted({p for p, _ in self.pairs})
        tracks = sorted({t for _, t in self.pairs})
        together = np.zeros((len(people), len(tracks)))
        for (p, t), n in self.pairs.items():
            together[people.index(p), tracks.index(t)] = n
        rows, cols = linear_sum_assignment(-together) if together.size else ([], [])
        idtp = float(together[rows, cols].sum()) if len(rows) else 0.0
        return 2 * idtp / (self.truth_count + self.seen_count)
