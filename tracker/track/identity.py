"""Who a track is: weighted evidence over its frames, sticky once decided.

Each observation is the gallery's verdict on one face of the track: the nearest identity,
its distance and margin, and how much the face counts (the camera gives its frontal-pose
score). An observation within the threshold and margin adds
``weight * (1 - distance / threshold)`` to that identity; any other adds ``weight`` to
"unknown". The track is named as soon as one identity's evidence reaches ``resolve`` and is
at least ``dominance`` times every other identity's (at the calibrated threshold one good
frame is strong evidence, so frames that match no one do not hold a decision back: they only
count as ``unknown``); weak frames never unname it, and it changes name only when another
identity's evidence reaches ``dominance`` times the current one's. Unknown faces stay unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

UNKNOWN = -1


@dataclass(frozen=True)
class Observation:
    identity: int  # nearest identity id, UNKNOWN when the gallery is empty
    distance: float  # the identity's distance (squared L2, mean of its top-k faces)
    margin: float
    weight: float  # how much the face counts, 0-1
    threshold: float  # the gallery's threshold in force when the face was matched


@dataclass
class TrackIdentity:
    margin: float
    resolve: float = 0.5
    dominance: float = 2.0
    evidence: dict[int, float] = field(default_factory=dict)
    unknown: float = 0.0
    identity: int = UNKNOWN
    best_distance: float = 4.0  # the best distance seen for the named identity

    def observe(self, o: Observation) -> str | None:
        """Add one observation; returns "resolved" or "changed" when the decision moves, else None."""
        if o.identity != UNKNOWN and o.distance <= o.threshold and o.margin >= self.margin:
            gain = o.weight * (1.0 - o.distance / max(o.threshold, 1e-9))
            self.evidence[o.identity] = self.evidence.get(o.identity, 0.0) + gain
        else:
            self.unknown += o.weight
        if o.identity == self.identity:
            self.best_distance = min(self.best_distance, o.distance)
        return self._decide(o)

    def _decide(self, o: Observation) -> str | None:
        if not self.evidence:
            return None
        leader = max(self.evidence, key=self.evidence.get)
        lead = self.evidence[leader]
        others = max([v for k, v in self.evidence.items() if k != leader], default=0.0)
        if self.identity == UNKNOWN:
            if lead >= self.resolve and lead >= self.dominance * others:
                self.identity = leader
                self.best_distance = o.distance if o.identity == leader else self.best_distance
                return "resolved"
        elif leader != self.identity and lead >= self.dominance * self.evidence.get(self.identity, 0.0):
            self.identity = leader
            self.best_distance = o.distance if o.identity == leader else 4.0
            return "changed"
        return None
