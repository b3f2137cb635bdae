"""Reviews: tracks that ended almost named (``identity.review``), waiting for someone to say who they were.

A review is written with its track's sighting (``Unknowns.add``, the sightings writer's transaction): the
candidate, the track's evidence for them and what it lacked for the name. Nothing is learnt without an answer:

- **yes**: the sighting's faces become references of the candidate, each through the enrolment rules (the
  gates, near-duplicates) and the audit's two checks against the gallery as it is (a face that would leave the
  person unlike themselves, or within the threshold of someone else, is left out, and says so); the review never
  pushes out a reference already enrolled (faces over ``enroll.max_faces_per_person`` are left out). The answer
  stands when no face passes (a small or turned face: nothing is learnt, each face says why). The sighting is
  then the person's: erasing them erases it.
- **no**: the faces are recorded as "not this person" (``gallery/negatives.py``).
- **someone else** (a name): as yes, for that person (new, or added to).
- **undo**: what the answer added is taken back, and the review waits again.

A review lasts as long as its sighting (``retention.sightings_days``); erasing its candidate erases it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np

from gallery.audit import CONFUSABLE, UNLIKE, audit
from gallery.database import storable_id
from gallery.enroll import Enroller, Outcome
from gallery.negatives import Negatives
from gallery.store import GalleryError, GalleryStore, NewFace
from gallery.unknowns import ClusterFace, sighting_faces
from tracker.face.card import Tables

YES, NO, OTHER = "yes", "no", "other"


@dataclass(frozen=True)
class Review:
    id: int
    sighting_id: int
    identity_id: int  # the candidate
    name: str  # ...their name
    camera: str
    track_id: int
    evidence: float
    to_bound: float
    created_at: float
    faces: int  # the sighting's faces
    answer: str | None  # None: waiting; YES, NO or OTHER
    answered_as: str | None  # the name an answer of yes or someone else gave the faces
    answered_at: float | None


@dataclass(frozen=True)
class Answered:
    review: Review
    outcomes: list[Outcome]  # per face: enrolled, or why not (yes, someone else); rejected (no)


class Reviews:
    """The reviews of one gallery file."""

    def __init__(self, store: GalleryStore) -> None:
        self.store = store

    def items(self, answered: bool = False) -> list[Review]:
        """The reviews waiting for an answer (with ``answered``: every one), newest first."""
        return self._read("" if answered else "WHERE r.answer IS NULL", ())

    def get(self, review_id: int) -> Review:
        found = self._read("WHERE r.id = ?", (review_id,)) if storable_id(review_id) else []
        if not found:
            raise GalleryError(f"{self.store.path}: no review {review_id}")
        return found[0]

    def faces(self, review_id: int) -> list[ClusterFace]:
        """The faces the review asks about (its sighting's), best first."""
        return sighting_faces(self.store, self.get(review_id).sighting_id)[1]

    def answer(self, review_id: int, answer: str, enroller: Enroller, tables: Tables | None, threshold: float,
               name: str | None = None) -> Answered:
        """Answer a waiting review: ``YES`` (the candidate), ``NO`` (not the candidate) or ``OTHER`` (``name``).
        ``tables`` and ``threshold``: the active model's, for the audit's checks."""
        review = self.get(review_id)
        if review.answer is not None:
            raise GalleryError(f"{self.store.path}: review {review_id} was answered ({review.answer}); undo it first")
        model_id, faces = sighting_faces(self.store, review.sighting_id)
        if model_id != enroller.model_id:
            raise GalleryError(f"{self.store.path}: review {review_id}'s faces are by {model_id}, the active model "
                               f"is {enroller.model_id}")
        new = [face.as_new_face() for face in faces]
        if answer == NO:
            added = Negatives(self.store).add(review.name, new, model_id)
            outcomes = [Outcome(face.source, "rejected", f"not {review.name}") for face in new]
            return Answered(self._mark(review, NO, review.identity_id, added), outcomes)
        who = review.name if answer == YES else name
        if answer not in (YES, OTHER) or not who:
            raise GalleryError(f"{self.store.path}: an answer is yes, no, or someone else with their name")
        kept, outcomes = self._harmless(who, new, model_id, tables, threshold)
        kept, outcomes = self._room(who, kept, outcomes, enroller.policy.max_faces_per_person)
        result = enroller.enroll(who, kept, outcomes)
        person = self.store.find(who)
        if person is None:  # someone new, and none of the faces could make them
            reasons = "; ".join(sorted({o.reason for o in result.outcomes if o.reason}))
            raise GalleryError(f"{self.store.path}: no face of review {review_id} could make a new person {who} "
                               f"({reasons})")
        added = [r[0] for r in self.store.query("SELECT id FROM faces WHERE identity_id = ? AND source LIKE ?",
                                                (person.id, f"sighting {review.sighting_id} face %"))]
        with self.store.transaction() as db:  # the sighting is theirs now: their erasure takes it
            db.execute("UPDATE sightings SET identity_id = ? WHERE id = ?", (person.id, review.sighting_id))
        return Answered(self._mark(review, answer, person.id, added), result.outcomes)

    def undo(self, review_id: int) -> Review:
        """Take an answer back: the faces it enrolled or rejected go, and the review waits again."""
        review = self.get(review_id)
        if review.answer is None:
            raise GalleryError(f"{self.store.path}: review {review_id} has no answer to undo")
        row = self.store.query("SELECT answer_identity, added FROM reviews WHERE id = ?", (review_id,))[0]
        added = json.loads(row[1])
        if review.answer == NO:
            negatives = Negatives(self.store)
            for negative_id in added:
                negatives.remove(review.name, negative_id)
        elif review.answered_as is not None:
            model_id = self.store.query("SELECT model_id FROM sightings WHERE id = ?", (review.sighting_id,))[0][0]
            self.store.save_person(review.answered_as, [], model_id, drop=added)
        with self.store.transaction() as db:
            db.execute("UPDATE sightings SET identity_id = NULL WHERE id = ?", (review.sighting_id,))
            db.execute("UPDATE reviews SET answer = NULL, answer_identity = NULL, added = '[]', answered_at = NULL "
                       "WHERE id = ?", (review_id,))
        return self.get(review_id)

    def _harmless(self, name: str, faces: list[NewFace], model_id: str, tables: Tables | None,
                  threshold: float) -> tuple[list[NewFace], list[Outcome]]:
        """The faces that would leave ``name`` neither unlike themselves nor confusable with someone else, by the
        audit's rules against the gallery of ``model_id`` as it is; the others, each with why."""
        face_ids, owners, vectors = self.store.embeddings(model_id)
        person = self.store.find(name)
        own = person.id if person is not None else -1
        new = np.stack([face.embedding for face in faces]).astype(np.float32)
        ids = np.concatenate([face_ids, -1 - np.arange(len(faces))])  # the new faces: negative ids
        report = audit(ids, np.concatenate([owners, np.full(len(faces), own)]),
                       np.concatenate([vectors.reshape(-1, new.shape[1]), new]), tables, threshold)
        flags = {f.face_id: f.flags for f in report.faces}
        kept, outcomes = [], []
        for i, face in enumerate(faces):
            bad = [flag for flag in flags[-1 - i] if flag in (UNLIKE, CONFUSABLE)]
            if bad:
                outcomes.append(Outcome(face.source, "refused", f"it would make {name} {' and '.join(bad)}"))
            else:
                kept.append(face)
        return kept, outcomes

    def _room(self, name: str, faces: list[NewFace], outcomes: list[Outcome],
              cap: int) -> tuple[list[NewFace], list[Outcome]]:
        """At most as many faces as fit under the cap beside ``name``'s references (none of those pushed out)."""
        person = self.store.find(name)
        room = max(cap - (person.faces if person is not None else 0), 0)
        left = [Outcome(f.source, "dropped", f"{name} holds the cap of {cap} faces") for f in faces[room:]]
        return faces[:room], outcomes + left

    def _mark(self, review: Review, answer: str, identity_id: int, added: list[int]) -> Review:
        with self.store.transaction() as db:
            db.execute("UPDATE reviews SET answer = ?, answer_identity = ?, added = ?, answered_at = ? WHERE id = ?",
                       (answer, identity_id, json.dumps(added), time.time(), review.id))
        return self.get(review.id)

    def _read(self, where: str, params: tuple) -> list[Review]:
        rows = self.store.query(
            "SELECT r.id, r.sighting_id, r.identity_id, i.name, s.camera, s.track_id, r.evidence, r.to_bound, "
            "r.created_at, s.faces, r.answer, a.name, r.answered_at FROM reviews r "
            "JOIN identities i ON i.id = r.identity_id JOIN sightings s ON s.id = r.sighting_id "
            f"LEFT JOIN identities a ON a.id = r.answer_identity {where} ORDER BY r.created_at DESC, r.id DESC",
            params)
        return [Review(*row) for row in rows]
