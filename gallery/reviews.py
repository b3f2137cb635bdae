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
- **undo**: what the answer added is taken back (what is still there), and the review waits again; a person the
  answer made is left, faceless, for ``gallery erase``.

An answer or an undo claims the review first, in one statement, so two at once cannot both apply.

A review lasts as long as its sighting (``retention.sightings_days``); erasing its candidate erases it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np

from gallery.audit import CONFUSABLE, UNLIKE, audit
from gallery.database import storable_id
from gallery.enroll import Enroller, ModelFacts, Outcome
from gallery.negatives import Negatives
from gallery.store import GalleryError, GalleryStore, NewFace
from gallery.threshold import stored_threshold
from gallery.unknowns import ClusterFace, sighting_faces
from tracker.config import Config
from tracker.face.card import Tables
from tracker.head_record import model_name, tables_of, verify_threshold_of

YES, NO, OTHER = "yes", "no", "other"
UNDOING = "undoing"  # claimed by an undo in progress


class ReviewTaken(GalleryError):
    """The review is not in the state the request needs: answered already (undo it first), or nothing to undo."""


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
    answered_as: str | None  # whose the faces are now by the answer (yes, someone else), or not (no)
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

    def answer(self, review_id: int, answer: str, config: Config, name: str | None = None,
               running: str | None = None) -> Answered:
        """Answer a waiting review: ``YES`` (the candidate), ``NO`` (not the candidate) or ``OTHER`` (``name``), by
        the rules of the model ``config`` makes active: its facts, tables and threshold in force come from its card
        or head record and the gallery (no model is loaded: the faces carry their embeddings). ``running``: the
        model id ``facetrack run`` runs, when the caller knows it (its HTTP handlers); without it, the review's
        faces must be by the one version of the active model the gallery holds faces of. The review is claimed
        first, in one statement: of two answers at once, one is refused ("was answered")."""
        review = self.get(review_id)
        who = {YES: review.name, NO: review.name, OTHER: name}.get(answer)
        if not who:
            raise GalleryError(f"{self.store.path}: an answer is yes, no, or someone else with their name")
        model_id, faces = sighting_faces(self.store, review.sighting_id)
        if not faces:
            raise GalleryError(f"{self.store.path}: review {review_id} has no face left to answer about")
        self._same_model(review_id, model_id, model_name(config.models), running)
        self._claim(review_id, answer, None)
        try:
            new = [face.as_new_face() for face in faces]
            if answer == NO:
                added = Negatives(self.store).add(who, new, model_id)
                outcomes = [Outcome(face.source, "rejected", f"not {who}") for face in new]
                return Answered(self._mark(review, review.identity_id, added, False), outcomes)
            model = ModelFacts(model_id, len(new[0].embedding), verify_threshold_of(config.models))
            tables = tables_of(config.models, model_id)
            threshold = stored_threshold(self.store, config.match, model_id, tables, model.verify_threshold).value
            return self._add_faces(review, who, new, Enroller(model, self.store, config.enroll), tables, threshold)
        except BaseException:
            self._release(review_id, answer, None)
            raise

    def _same_model(self, review_id: int, model_id: str, active: str, running: str | None) -> None:
        """Refuse a review whose faces are not by the model the gallery names with now (answered, they would be
        references no live frame is compared with, audited against the wrong faces)."""
        versions = sorted(m for m in self.store.model_counts() if m.startswith(f"{active}:"))
        if (running or model_id) != model_id or model_id not in versions:
            raise GalleryError(f"{self.store.path}: review {review_id}'s faces are by {model_id}, the active model "
                               f"is {running or active}; the gallery's faces are by {', '.join(versions) or 'none'}")
        if running is None and len(versions) > 1:
            raise GalleryError(f"{self.store.path}: the gallery holds faces of {len(versions)} versions of {active} "
                               f"({', '.join(versions)}): answer review {review_id} on the dashboard, which knows the "
                               "one `facetrack run` runs")

    def _add_faces(self, review: Review, who: str, new: list[NewFace], enroller: Enroller, tables: Tables | None,
                   threshold: float) -> Answered:
        created = self.store.find(who) is None
        kept, outcomes = self._harmless(who, new, enroller.model_id, tables, threshold)
        kept, outcomes = self._room(who, kept, outcomes, enroller.policy.max_faces_per_person)
        source = f"sighting {review.sighting_id} face %"
        before = set(self._faces_from(who, source))
        result = enroller.enroll(who, kept, outcomes)
        person = self.store.find(who)
        if person is None:  # someone new, and none of the faces could make them
            reasons = "; ".join(sorted({o.reason for o in result.outcomes if o.reason}))
            raise GalleryError(f"{self.store.path}: no face of review {review.id} could make a new person {who} "
                               f"({reasons})")
        added = sorted(set(self._faces_from(who, source)) - before)  # not those enrolled another way before
        with self.store.transaction() as db:  # the sighting is theirs now: their erasure takes it
            db.execute("UPDATE sightings SET identity_id = ? WHERE id = ?", (person.id, review.sighting_id))
        return Answered(self._mark(review, person.id, added, created), result.outcomes)

    def undo(self, review_id: int) -> tuple[Review, str]:
        """Take an answer back: the faces it enrolled or rejected (those still there) go, and the review waits
        again. Returns it and what is left to say ("" or: the person the answer made has no face left)."""
        review = self.get(review_id)
        if review.answer is None:
            raise ReviewTaken(f"{self.store.path}: review {review_id} has no answer to undo")
        added, created = self._added(review_id)
        self._claim(review_id, UNDOING, review.answer)
        try:
            left = ""
            if review.answer == NO:
                Negatives(self.store).take_back(review.identity_id, added)
            elif review.answered_as is not None:
                model_id = self.store.query("SELECT model_id FROM sightings WHERE id = ?", (review.sighting_id,))[0][0]
                self.store.save_person(review.answered_as, [], model_id, drop=added)
                if created and self.store.identity(review.answered_as).faces == 0:
                    left = (f"{review.answered_as}, whom the answer made, has no face left: `facetrack gallery erase "
                            f"{review.answered_as}` removes them")
            with self.store.transaction() as db:
                db.execute("UPDATE sightings SET identity_id = NULL WHERE id = ?", (review.sighting_id,))
                db.execute("UPDATE reviews SET answer = NULL, answer_identity = NULL, added = '[]', created = 0, "
                           "answered_at = NULL WHERE id = ?", (review_id,))
        except BaseException:
            self._release(review_id, UNDOING, review.answer)
            raise
        return self.get(review_id), left

    def _claim(self, review_id: int, answer: str, was: str | None) -> None:
        """Mark the review ``answer`` if it is still ``was`` (None: waiting), in one statement."""
        with self.store.transaction() as db:
            claimed = db.execute("UPDATE reviews SET answer = ?, answered_at = ? WHERE id = ? AND "
                                 + ("answer IS NULL" if was is None else "answer = ?"),
                                 (answer, time.time(), review_id) + (() if was is None else (was,))).rowcount
        if claimed != 1:  # answered (or undone) already, or by another request at this moment
            state = self.get(review_id).answer
            raise ReviewTaken(f"{self.store.path}: review {review_id} was answered ({state}); undo it first"
                              if was is None else f"{self.store.path}: review {review_id} has no answer to undo"
                              if state is None else f"{self.store.path}: review {review_id} is {state}")

    def _release(self, review_id: int, answer: str, was: str | None) -> None:
        """Undo a claim whose work failed: the review is ``was`` again."""
        with self.store.transaction() as db:
            db.execute("UPDATE reviews SET answer = ?, answered_at = NULL WHERE id = ? AND answer = ?",
                       (was, review_id, answer))

    def _added(self, review_id: int) -> tuple[list[int], bool]:
        added, created = self.store.query("SELECT added, created FROM reviews WHERE id = ?", (review_id,))[0]
        return json.loads(added), bool(created)

    def _faces_from(self, name: str, source: str) -> list[int]:
        return [r[0] for r in self.store.query("SELECT f.id FROM faces f JOIN identities i ON i.id = f.identity_id "
                                               "WHERE i.name = ? AND f.source LIKE ?", (name, source))]

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

    def _mark(self, review: Review, identity_id: int, added: list[int], created: bool) -> Review:
        """The claimed answer's outcome: whose faces they are now, the ids it added, whether it made the person."""
        with self.store.transaction() as db:
            db.execute("UPDATE reviews SET answer_identity = ?, added = ?, created = ? WHERE id = ?",
                       (identity_id, json.dumps(added), int(created), review.id))
        return self.get(review.id)

    def _read(self, where: str, params: tuple) -> list[Review]:
        rows = self.store.query(
            "SELECT r.id, r.sighting_id, r.identity_id, i.name, s.camera, s.track_id, r.evidence, r.to_bound, "
            "r.created_at, s.faces, r.answer, a.name, r.answered_at FROM reviews r "
            "JOIN identities i ON i.id = r.identity_id JOIN sightings s ON s.id = r.sighting_id "
            f"LEFT JOIN identities a ON a.id = r.answer_identity {where} ORDER BY r.created_at DESC, r.id DESC",
            params)
        return [Review(*row) for row in rows]
