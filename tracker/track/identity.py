"""Who a track is: a sequential test over its frames' evidence, sticky once decided.

Each observation is the gallery's verdict on one face of the track, already in calibrated terms:
for its nearest identity and its runner-up, the log-likelihood ratio of "this face is theirs"
against "this face is a stranger's nearest match in this gallery" (``gallery/evidence.py``,
measured per model on LFW, so the same number means the same thing for every embedder). The
camera discounts it for a turned face (``pose_discount``: turned faces come close to strangers
about twice as often).

Per identity the track sums its frames' evidence (Wald's sequential probability ratio test):
a stranger's track reaches ``bound = ln(1 / far)`` for a given identity with probability at most
``far`` when frames are independent. The track is named when one identity's evidence reaches the
bound and leads every other identity's by the bound too (the runner-up is held to the same
rule); a named track changes name only by the same two tests for another identity. An identity
not among a face's nearest two gets that face's runner-up evidence when it is negative (it is at
least that far away). Evidence never falls below ``-bound`` (Wald's other decision, "not this
identity", after which the test starts again), so a bad start never blocks a later good face.
Faces refused for an identity ("not this person") count ``-bound`` against it. One face on its own
names by ``one_face_names`` (``facetrack identify``'s rule), written here once as well.

``trace`` keeps the latest observations with what they did, for "why (not) named".
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

UNKNOWN = -1
TRACE = 40  # observations a track's trace keeps


def one_face_names(distance, gap, threshold: float, margin: float, refused=False):
    """The single-image rule (``facetrack identify``; for the camera, a face clearly someone other than its
    track's name): within the threshold in force, ``margin`` ahead of the runner-up, and not refused. Takes
    numbers or arrays alike."""
    return (np.asarray(distance) <= threshold) & (np.asarray(gap) >= margin) & ~np.asarray(refused, bool)


def threshold_evidence(distance: float, threshold: float, bound: float) -> float:
    """The evidence of a face for a model without calibration tables: within the threshold in force it counts as
    the bound (one face names, as ``identify`` would), beyond it as minus the bound."""
    return bound if distance <= threshold else -bound


def bound_for(far: float) -> float:
    """The evidence a track needs for a name: ``ln(1 / far)``."""
    return math.log(1.0 / far)


def pose_discount(frontal: float) -> float:
    """Evidence subtracted for a turned face: ln 2 below a frontal score of 0.5, none from 0.75 (strangers'
    turned faces fall within a given distance of an enrolled face about twice as often; docs/benchmarks.md)."""
    return math.log(2.0) * min(max((0.75 - frontal) / 0.25, 0.0), 1.0)


@dataclass(frozen=True)
class Observation:
    identity: int  # nearest identity id, UNKNOWN when the gallery is empty
    evidence: float  # its log-likelihood ratio, pose discount applied
    runner_up: int = UNKNOWN  # the second nearest identity
    runner_evidence: float = 0.0
    refused: bool = False  # closer to faces rejected as not ``identity`` than to its own
    distance: float = 4.0  # for the trace and ``best_distance``
    margin: float = 0.0
    frontal: float = 1.0
    time: float = 0.0  # frame time
    cut: bool = False  # the frame was a shot cut


@dataclass
class TrackIdentity:
    bound: float
    evidence: dict[int, float] = field(default_factory=dict)
    identity: int = UNKNOWN
    best_distance: float = 4.0  # the best distance seen for the named identity
    trace: deque = field(default_factory=lambda: deque(maxlen=TRACE))
    named_at: tuple[float, float] | None = None  # (frame time, evidence) of the latest naming decision

    def observe(self, o: Observation, bound: float | None = None) -> str | None:
        """Add one observation (``bound``: the gallery's bound now, when it changed); returns "resolved" or
        "changed" when the decision moves, else None. An observation whose evidence is not a number (a NaN
        from a damaged embedding) is refused: it is no evidence at all."""
        self.bound = bound or self.bound
        if not (math.isfinite(o.evidence) and math.isfinite(o.runner_evidence)):
            return None
        gains: dict[int, float] = {}
        if o.identity != UNKNOWN:
            gains[o.identity] = -self.bound if o.refused else o.evidence
        if o.runner_up != UNKNOWN:
            gains[o.runner_up] = o.runner_evidence
        for other in self.evidence:
            if other not in gains:  # farther than the runner-up: at least as much against it
                gains[other] = min(o.runner_evidence, 0.0) if o.runner_up != UNKNOWN else 0.0
        for who, gain in gains.items():
            self.evidence[who] = max(self.evidence.get(who, 0.0) + gain, -self.bound)
        if o.identity == self.identity:
            self.best_distance = min(self.best_distance, o.distance)
        decision = self._decide(o)
        self.trace.append({"time": round(o.time, 3), "nearest": o.identity, "distance": round(o.distance, 4),
                           "margin": round(o.margin, 4), "frontal": round(o.frontal, 3),
                           "gain": round(gains.get(o.identity, 0.0), 3), "refused": o.refused, "cut": o.cut,
                           "evidence": {k: round(v, 3) for k, v in self.evidence.items()}, "decision": decision})
        return decision

    def agrees(self, o: Observation) -> bool:
        """Whether the face supports the track's name: nearest to it, not refused, more likely it than a stranger."""
        return self.identity != UNKNOWN and o.identity == self.identity and not o.refused and o.evidence >= 0.0

    @property
    def stranger(self) -> bool:
        """Wald's other decision for everyone enrolled: an unnamed track with a face matched, whose every
        identity's evidence is at the floor (``-bound``: each at least ``1 / far`` times likelier a stranger's
        than theirs). With an empty gallery, any face matched."""
        return self.identity == UNKNOWN and bool(self.trace) and all(v <= -self.bound for v in self.evidence.values())

    @property
    def hopeful(self) -> bool:
        """An unnamed track with evidence for someone: worth embedding every frame."""
        return any(v > 0.0 for v in self.evidence.values())

    def leader(self) -> tuple[int, float, float]:
        """The identity with most evidence, its evidence, and its lead over the next."""
        if not self.evidence:
            return UNKNOWN, 0.0, 0.0
        ranked = sorted(self.evidence.items(), key=lambda kv: -kv[1])
        lead = ranked[0][1] - (ranked[1][1] if len(ranked) > 1 else -self.bound)
        return ranked[0][0], ranked[0][1], lead

    def forget(self, identity: int) -> bool:
        """The gallery changed ``identity`` (erased, renamed, a face rejected): its evidence is dropped and a
        track named it is unnamed until new faces decide again. Returns whether the track was named it."""
        self.evidence.pop(identity, None)
        if self.identity != identity:
            return False
        self.identity, self.best_distance = UNKNOWN, 4.0
        return True

    def _decide(self, o: Observation) -> str | None:
        leader, evidence, lead = self.leader()
        if leader == self.identity or not (evidence >= self.bound and lead >= self.bound):  # NaN: not named
            return None
        decision = "resolved" if self.identity == UNKNOWN else "changed"
        self.identity, self.named_at = leader, (o.time, evidence)
        self.best_distance = o.distance if o.identity == leader else 4.0
        return decision

    def explain(self) -> dict:
        """Why the track is (not) named: the bound, each identity's evidence, the latest observations."""
        leader, evidence, lead = self.leader()
        if self.identity != UNKNOWN and self.named_at is not None:
            at, reached = self.named_at
            why = (f"named at {at:.2f}: evidence {reached:.2f} reached the bound {self.bound:.2f} (now "
                   f"{self.evidence.get(self.identity, 0.0):.2f}; a name changes only when another's evidence "
                   "reaches the bound and leads it by the bound)")
        elif leader == UNKNOWN:
            why = "not named: no face of it was matched against the gallery yet"
        elif evidence < self.bound:
            why = f"not named: the best evidence {evidence:.2f} is below the bound {self.bound:.2f}"
        else:
            why = f"not named: the lead {lead:.2f} over the runner-up is below the bound {self.bound:.2f}"
        return {"why": why, "bound": round(self.bound, 3), "identity": self.identity,
                "evidence": {k: round(v, 3) for k, v in self.evidence.items()}, "observations": list(self.trace)}
