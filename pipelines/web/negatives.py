""""Not this person" over HTTP: faces wrongly named as someone, rejected as them, and taken back.

The same rules as ``facetrack gallery reject``: an uploaded image must hold exactly one face
(found on the model executor's thread), a sighting gives all its stored faces. After a change
the gallery watcher applies it at once (``apply_change``), so the rejection holds from the next frame.
"""

from __future__ import annotations

import dataclasses

from aiohttp import web

from gallery.enroll import Enroller
from gallery.negatives import Negatives
from gallery.store import GalleryError, GalleryStore
from gallery.unknowns import sighting_faces
from pipelines.web import bodies
from pipelines.web.gallery_io import apply_change, identity_or_404, in_gallery
from pipelines.web.identities import decode_uploads, uploads
from pipelines.web.keys import SERVICES

routes = web.RouteTableDef()


@routes.post("/api/identities/{name}/negatives")
async def reject(request: web.Request) -> web.Response:
    """multipart/form-data ``image`` files (one face each), or JSON ``{"sighting": ID}``: faces wrongly named
    as ``name``. Faces closer to them than to the person's own are not named so again."""
    services = request.app[SERVICES]
    name = (await in_gallery(request, lambda store: identity_or_404(store, request.match_info["name"]))).name
    outcomes = []
    if request.content_type == "application/json":
        sighting = bodies.parse(bodies.RejectSighting, await request.read()).sighting

        def read(store: GalleryStore):
            try:
                model_id, found = sighting_faces(store, sighting)
            except GalleryError:
                raise web.HTTPNotFound(text=f"no sighting {sighting}") from None
            return model_id, [face.as_new_face() for face in found]

        model_id, faces = await in_gallery(request, read)
    elif request.content_type.startswith("multipart/"):
        _, files = await uploads(request)
        if not files:
            raise web.HTTPBadRequest(text="no image files in the upload")
        images, outcomes = await decode_uploads(request, files)

        def work(analyzer):
            with GalleryStore(services.gallery, create=False) as store:
                return Enroller(analyzer, store, services.config.enroll).from_arrays(images)

        faces, refused = await services.executor.call(work) if images else ([], [])
        outcomes += refused
        model_id = services.identifier.model_id
    else:
        raise web.HTTPBadRequest(text='send multipart/form-data with "image" files, or JSON {"sighting": ID}')
    body = {"name": name, "outcomes": [dataclasses.asdict(o) for o in outcomes]}
    if not faces:
        return web.json_response({**body, "rejected": 0, "error": f"no face to reject as '{name}'", "status": 422},
                                 status=422)
    def change(store: GalleryStore) -> list[int]:
        try:
            return Negatives(store).add(name, faces, model_id)
        except GalleryError:  # the person was removed meanwhile
            raise web.HTTPNotFound(text=f"no identity named '{name}'") from None

    ids = await in_gallery(request, change)
    await apply_change(request)
    return web.json_response({**body, "rejected": len(ids), "ids": ids}, status=201)


@routes.delete("/api/identities/{name}/negatives/{negative}")
async def take_back(request: web.Request) -> web.Response:
    """Take back a rejected face (rejected by mistake)."""
    text = request.match_info["negative"]
    try:
        negative_id = int(text)
    except ValueError:
        raise web.HTTPBadRequest(text=f"rejected face '{text}' is not a number") from None
    def change(store: GalleryStore) -> None:
        name = identity_or_404(store, request.match_info["name"]).name
        try:
            Negatives(store).remove(name, negative_id)
        except GalleryError:
            raise web.HTTPNotFound(text=f"'{name}' has no rejected face {negative_id}") from None

    await in_gallery(request, change)
    await apply_change(request)
    return web.Response(status=204)
