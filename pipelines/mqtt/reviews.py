"""Reviews over MQTT: the gallery's waiting reviews (tracks that ended almost named, ``gallery/reviews.py``) as
Home Assistant entities, and the answers that come back on a command topic.

Per waiting review (``mqtt.topic_prefix``, ``facetrack`` by default), all retained while it waits:

- ``<prefix>/review/<id>/state``: the candidate, the camera, the track, the evidence and what it lacked (JSON);
- ``<prefix>/review/<id>/image``: the track's best face (JPEG; not published with ``http.blur_unknown``);
- discovery: a device per review ("Is this <candidate>?") with the face's ``image``, the ``button``s yes and no,
  and a ``text`` entity to name someone else; all on the command topic ``<prefix>/review/<id>/answer``, which
  takes the body ``POST /api/reviews/<id>`` takes: ``{"answer": "yes" | "no" | "other", "name": NAME}``.

``<prefix>/reviews`` (retained) counts the waiting reviews (a ``sensor``); each answer's outcome, or why it was
refused, goes to ``<prefix>/review/<id>/result`` (not retained). A review answered anywhere (here, the dashboard,
the CLI), expired with its sighting, or erased with its candidate has its topics cleared and its entities removed.
Off unless ``mqtt.reviews`` is set: anyone the broker lets publish on the command topic can answer (the broker's
ACL decides), and the faces go to every client that may read the topics. With it off, the review topics an earlier
run left are cleared."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from aiohttp import web

from gallery.reviews import Review, Reviews
from gallery.store import GalleryError, GalleryStore
from pipelines.web import bodies
from tracker.config import Config
from tracker.images import jpeg_of

REVIEW_SECONDS = 2.0  # how often the gallery is asked which reviews wait


class ReviewDesk:
    """The gallery's waiting reviews and their answers, for the bridge: blocking calls (the bridge runs them on a
    thread), each with the gallery opened for it, as the HTTP handlers do."""

    def __init__(self, config: Config, location: Path | str) -> None:
        self.config, self.location = config, location

    def ready(self) -> bool:
        """Whether there is a gallery to ask (a SQLite file that ``facetrack run`` has not made yet: not)."""
        return not isinstance(self.location, Path) or self.location.is_file()

    def waiting(self) -> list[Review]:
        with GalleryStore(self.location, create=False) as store:
            return Reviews(store).items()

    def face(self, review_id: int) -> bytes | None:
        """The review's best face as JPEG (None: none left, or faces not for the broker: ``http.blur_unknown``)."""
        if self.config.http.blur_unknown:
            return None
        with GalleryStore(self.location, create=False) as store:
            faces = Reviews(store).faces(review_id)
        return jpeg_of(faces[0].crop) if faces else None

    def answer(self, review_id: int, payload: bytes) -> dict:
        """Apply an answer from the command topic: its outcome, or ``{"error": why}`` (the review waits on)."""
        try:
            body = bodies.parse(bodies.Answer, payload)
        except web.HTTPBadRequest as error:
            return {"id": review_id, "error": error.text}
        if not self.ready():  # (opening it would make an empty file)
            return {"id": review_id, "error": f"no gallery at {self.location} yet"}
        try:
            with GalleryStore(self.location, create=False) as store:
                done = Reviews(store).answer(review_id, body.answer, self.config, body.name)
        except GalleryError as error:  # answered already, no such review, no face could make someone new
            return {"id": review_id, "error": str(error).split(": ", 1)[-1]}
        r = done.review
        return {"id": r.id, "answer": r.answer, "answered_as": r.answered_as,
                "outcomes": [dataclasses.asdict(o) for o in done.outcomes]}


def review_topics(topics: str, discovery: str, review_id: int) -> list[str]:
    """Every retained topic of a waiting review: its state, its face, its discovery configs."""
    base = f"{topics}/review/{review_id}"
    found = [f"{base}/state", f"{base}/image"]
    if discovery:
        node = f"facetrack_review_{review_id}"
        found += [f"{discovery}/image/{node}/config", f"{discovery}/button/{node}_yes/config",
                  f"{discovery}/button/{node}_no/config", f"{discovery}/text/{node}_someone/config"]
    return found


def review_messages(topics: str, discovery: str, common: dict, review: Review,
                    face: bytes | None) -> list[tuple[str, bytes | str]]:
    """The retained messages of a waiting review (``review_topics``' order; a face not published: none)."""
    base = f"{topics}/review/{review.id}"
    state = {"id": review.id, "candidate": review.name, "identity_id": review.identity_id, "camera": review.camera,
             "track_id": review.track_id, "faces": review.faces, "evidence": round(review.evidence, 2),
             "to_bound": round(review.to_bound, 2),
             "ended": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(review.created_at))}
    found: list[tuple[str, bytes | str]] = [(f"{base}/state", json.dumps(state))]
    if face is not None:
        found.append((f"{base}/image", face))
    if not discovery:
        return found
    node, command = f"facetrack_review_{review.id}", f"{base}/answer"
    device = {**common["device"], "identifiers": [node], "name": f"Is this {review.name}? (review {review.id})",
              "via_device": common["device"]["identifiers"][0]}
    entity = {**common, "device": device, "json_attributes_topic": f"{base}/state"}
    _, _, image, yes, no, someone = review_topics(topics, discovery, review.id)
    if face is not None:
        found.append((image, json.dumps({**entity, "name": "Face", "unique_id": f"{node}_face",
                                         "image_topic": f"{base}/image", "content_type": "image/jpeg"})))
    found += [
        (yes, json.dumps({**entity, "name": f"Yes, {review.name}", "unique_id": f"{node}_yes", "command_topic": command,
                          "payload_press": json.dumps({"answer": "yes"}), "icon": "mdi:account-check"})),
        (no, json.dumps({**entity, "name": f"No, not {review.name}", "unique_id": f"{node}_no",
                         "command_topic": command, "payload_press": json.dumps({"answer": "no"}),
                         "icon": "mdi:account-cancel"})),
        (someone, json.dumps({**entity, "name": "Someone else", "unique_id": f"{node}_someone",
                              "command_topic": command, "icon": "mdi:account-edit",
                              "command_template": '{"answer": "other", "name": {{ value | tojson }}}'})),
    ]
    return found


def waiting_summary(reviews: dict[int, Review]) -> str:
    """``<prefix>/reviews``: how many wait, and who each asks about."""
    return json.dumps({"waiting": len(reviews), "reviews": [
        {"id": r.id, "candidate": r.name, "camera": r.camera} for r in sorted(reviews.values(), key=lambda r: r.id)]})
