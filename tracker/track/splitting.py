"""Which embedded faces leave their tracks, pure: track splitting by look and by name.

A face fits its track ("yes") unless it is clearly named as someone other than the track's name
(``identify``'s single-face rule) or looks unlike the track: beyond ``DOUBT`` times the split
distance it is "no"; between one and ``DOUBT`` times it is a "doubt" (blur or a light change make
a face drift), settled by the next frame, except on a cut or beside another face. A face that does
not fit leaves: for the open track it fits within the re-join distance (so faces that took each
other's tracks as they crossed go back), else for a new track, and the track it left ends
(someone new stands where its person stood) unless its own face went back to it.
"""

from __future__ import annotations

import math

import numpy as np

from tracker.distance import squared_distance
from tracker.track.identity import UNKNOWN
from tracker.track.state import FramePlan, GalleryTerms, TrackState, Verdict
from tracker.track.tracking import Track

DOUBT = 1.5  # a face up to this many split distances from its track's look is a doubt, not a split, once


class Splitter:
    def __init__(self, split_distance: float) -> None:
        self.split_distance = split_distance

    def fit(self, track: Track, named: int, embedding: np.ndarray, verdict: Verdict, terms: GalleryTerms) -> str:
        """"yes", "doubt" or "no" for a face of ``track``, which is named ``named`` (``UNKNOWN``: unnamed), by the
        gallery's ``terms``."""
        if named != UNKNOWN and verdict.names(terms) and verdict.identity != named:
            return "no"
        if track.embedding is None:
            return "yes"
        distance = float(squared_distance(track.embedding, embedding))
        if distance <= self.split_distance:
            return "yes"
        return "doubt" if distance <= DOUBT * self.split_distance else "no"

    def decide(self, plan: FramePlan, embeddings: np.ndarray, verdicts: list[Verdict], tracks: dict[int, Track],
               states: dict[int, TrackState], terms: GalleryTerms,
               reid_distance: float) -> tuple[dict[int, int | None], list[int]]:
        """The faces that leave their track, each with the open track it goes to (None: a new one), and the
        tracks that end. ``embeddings`` and ``verdicts`` are those of ``plan.embed``, in order."""
        wrong = {}  # face index -> (its place in the analysis, the track it disagrees with)
        for i, d in enumerate(plan.embed):
            own = plan.known.get(d)
            if own is None:
                continue
            state = states[own]
            fit = self.fit(tracks[own], state.identity.identity, embeddings[i], verdicts[i], terms)
            if fit == "doubt" and not state.doubt and not plan.cut and d not in plan.touching:
                state.doubt = True  # a doubt once, when nothing else explains the change
                continue
            state.doubt = False
            if fit != "yes":
                wrong[d] = (i, own)
        if not wrong:
            return {}, []
        free = (set(tracks) - set(plan.known.values())) | {k for _, k in wrong.values()}
        moved: dict[int, int | None] = {}
        for d, (i, own) in wrong.items():
            moved[d] = self._home(free - {own} - set(moved.values()), embeddings[i], verdicts[i], tracks, states,
                                  terms, reid_distance)
        ended = [own for d, (_, own) in wrong.items() if moved[d] is None and own not in moved.values()]
        return moved, ended

    def _home(self, candidates: set[int], embedding: np.ndarray, verdict: Verdict, tracks: dict[int, Track],
              states: dict[int, TrackState], terms: GalleryTerms, reid_distance: float) -> int | None:
        """The open track among ``candidates`` the face fits, closest first, within ``reid_distance``."""
        def distance(k: int) -> float:  # inf: a track without faces embedded yet
            own = tracks[k].embedding
            return math.inf if own is None else float(squared_distance(own, embedding))

        fits = [k for k in candidates if distance(k) < reid_distance
                and self.fit(tracks[k], states[k].identity.identity, embedding, verdict, terms) == "yes"]
        return min(fits, key=distance, default=None)
