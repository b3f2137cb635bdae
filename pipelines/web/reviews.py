"""Reviews over HTTP: the tracks that ended almost named (``identity.review``), their faces, and the answers
(yes, no, someone else, undo), with the rules of ``gallery/reviews.py``. An answer is made on a gallery thread
(the faces carry their embeddings: no model runs) and then applied by the gallery watcher at once, so the live
pipeline names with it from its next frame."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from gallery.reviews import Review, Reviews, ReviewTaken
from gallery.store import GalleryError, GalleryStore
from pipelines.web import bodies
from pipelines.web.gallery_io import apply_change, in_gallery
from pipelines.web.keys import SERVICES
from tracker.images import jpeg_of

routes = web.RouteTableDef()


def _review(request: web.Request, store: GalleryStore) -> Review:
    text = request.match_info["review"]
    try:
        return Reviews(store).get(int(text))
    except ValueError:
        raise web.HTTPBadRequest(text=f"review '{text}' is not a number") from None
    except GalleryError:
        raise web.HTTPNotFound(text=f"no review {text}") from None


def _json(review: Review) -> dict:
    return {**dataclasses.asdict(review), "face_url": f"/api/reviews/{review.id}/face.jpg"}


@routes.get("/api/reviews")
async def list_reviews(request: web.Request) -> web.Response:
    """The reviews waiting for an answer, newest first (``?all=true``: answered ones too)."""
    every = request.query.get("all", "false")
    if every not in ("true", "false"):
        raise web.HTTPBadRequest(text=f"all: '{every}' is neither true nor false")
    found = await in_gallery(request, lambda store: Reviews(store).items(answered=every == "true"))
    return web.json_response([_json(r) for r in found])


@routes.get("/api/reviews/{review}/face.jpg")
async def review_face(request: web.Request) -> web.Response:
    """The best face the review asks about (aligned, as the gallery stores faces)."""
    def read(store: GalleryStore) -> bytes:
        faces = Reviews(store).faces(_review(request, store).id)
        if not faces:
            raise web.HTTPNotFound(text=f"review {request.match_info['review']} has no face left")
        return jpeg_of(faces[0].crop)

    return web.Response(body=await in_gallery(request, read), content_type="image/jpeg")


@routes.post("/api/reviews/{review}")
async def answer_review(request: web.Request) -> web.Response:
    """JSON ``{"answer": "yes" | "no" | "other", "name": NAME}`` (``name``: for ``other`` only)."""
    body = bodies.parse(bodies.Answer, await request.read())
    services = request.app[SERVICES]
    running = services.identifier.analyzer.embedder.model_id

    def change(store: GalleryStore):
        review = _review(request, store)
        try:
            return Reviews(store).answer(review.id, body.answer, services.config, body.name, running)
        except ReviewTaken as error:
            raise web.HTTPConflict(text=str(error).split(": ", 1)[-1]) from None
        except GalleryError as error:
            raise web.HTTPUnprocessableEntity(text=str(error).split(": ", 1)[-1]) from None

    answered = await in_gallery(request, change)
    await apply_change(request)
    return web.json_response({**_json(answered.review),
                              "outcomes": [dataclasses.asdict(o) for o in answered.outcomes]})


@routes.post("/api/reviews/{review}/undo")
async def undo_review(request: web.Request) -> web.Response:
    """Take the answer back: what it added goes, and the review waits again."""
    def change(store: GalleryStore) -> tuple[Review, str]:
        review = _review(request, store)
        try:
            return Reviews(store).undo(review.id)
        except ReviewTaken as error:
            raise web.HTTPConflict(text=str(error).split(": ", 1)[-1]) from None

    undone, left = await in_gallery(request, change)
    await apply_change(request)
    return web.json_response({**_json(undone), "note": left or None})
