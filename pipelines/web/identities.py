"""The gallery over HTTP: people, their faces, enrollment by upload or from a track, recognition.
("Not this person" feedback is ``pipelines.web.negatives``.)

Enrollment and recognition run on the model executor's thread (the one owner of the models)
with the same rules and messages as ``facetrack enroll`` and ``facetrack identify``; after a
change the gallery watcher applies it at once (``apply_change``), as every change is applied.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging

import redis
from aiohttp import BodyPartReader, web

from gallery.enroll import ENROLLED, REFUSED, Enroller, Outcome
from gallery.negatives import Negatives
from gallery.store import GalleryError, GalleryStore
from pipelines.events.erase import sweep_configured, sweep_erased
from pipelines.web import bodies
from pipelines.web.gallery_io import apply_change, identity_or_404, in_gallery
from pipelines.web.keys import RUNTIME, SERVICES
from tracker.errors import ImageError, TrackerError
from tracker.images import decode_image, jpeg_of

logger = logging.getLogger(__name__)
routes = web.RouteTableDef()


@routes.get("/api/identities")
async def list_identities(request: web.Request) -> web.Response:
    rule = request.app[SERVICES].identifier.view.rule
    headers = {"X-Match-Threshold": f"{rule.value:.4f}", "X-Match-Threshold-Source": rule.source,
               "X-Match-Expected-FAR": "unknown" if rule.expected_far is None else f"{rule.expected_far:.6f}",
               "X-Gallery-People": str(rule.identities), "X-Gallery-Faces": str(rule.faces)}
    people = await in_gallery(request, lambda store: [dataclasses.asdict(i) for i in store.identities()])
    return web.json_response(people, headers=headers)


@routes.get("/api/identities/{name}")
async def show_identity(request: web.Request) -> web.Response:
    def read(store: GalleryStore) -> dict:
        identity = identity_or_404(store, request.match_info["name"])
        faces = [{"id": f.id, "quality": f.quality, "source": f.source, "added_at": f.added_at}
                 for f in store.faces(identity.id)]
        rejected = [{"id": n.id, "source": n.source, "added_at": n.added_at} for n in Negatives(store).of(identity.id)]
        return {**dataclasses.asdict(identity), "face_list": faces, "negative_list": rejected}

    return web.json_response(await in_gallery(request, read))


@routes.get("/api/identities/{name}/faces/{face}/crop.jpg")
async def face_crop(request: web.Request) -> web.Response:
    def read(store: GalleryStore) -> bytes:
        identity = identity_or_404(store, request.match_info["name"])
        face = next((f for f in store.faces(identity.id) if str(f.id) == request.match_info["face"]), None)
        if face is None:
            raise web.HTTPNotFound(text=f"'{identity.name}' has no face {request.match_info['face']}")
        return jpeg_of(face.crop)

    return web.Response(body=await in_gallery(request, read), content_type="image/jpeg")


async def uploads(request: web.Request, fields_allowed: tuple[str, ...] = ()) -> tuple[dict[str, str],
                                                                                     list[tuple[str, bytes]]]:
    """The form fields (of ``fields_allowed``) and the ``image`` files of a multipart request; any other part is
    refused, as the OpenAPI document says."""
    if not request.content_type.startswith("multipart/"):
        raise web.HTTPBadRequest(text="send multipart/form-data: a 'name' field and one or more 'image' files")
    limit = request.app[SERVICES].config.http.max_upload_bytes
    if (request.content_length or 0) > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    fields, files, total = {}, [], 0
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError):
        raise web.HTTPBadRequest(text="malformed multipart body (no boundary?)") from None
    try:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise web.HTTPBadRequest(text="nested multipart bodies are not accepted")
            data = bytearray()
            while chunk := await part.read_chunk():
                total += len(chunk)
                if total > limit:
                    raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=total)
                data.extend(chunk)
            if part.name == "image":
                files.append((part.filename or f"upload {len(files) + 1}", bytes(data)))
            elif part.name in fields_allowed:
                fields[part.name] = data.decode(errors="replace")
            else:
                expected = ", ".join(f"'{f}'" for f in (*fields_allowed, "image"))
                raise web.HTTPBadRequest(text=f"unknown form field {part.name!r} (expected {expected})")
    except ValueError as error:  # aiohttp: "Reading after EOF" and the like
        raise web.HTTPBadRequest(text=f"malformed or truncated multipart body ({error})") from None
    return fields, files


async def decode_uploads(request: web.Request, files: list[tuple[str, bytes]]):
    """The uploaded files as ``(source, RGB image)``, and an outcome for each that is not an image."""
    http = request.app[SERVICES].config.http
    images, refused, budget = [], [], http.max_request_pixels  # many small files can decode to gigabytes
    for source, data in files:
        limit = min(http.max_image_pixels, budget)
        try:  # decoding is CPU work: off the event loop, so the server keeps answering meanwhile
            image = await asyncio.to_thread(decode_image, data, source, limit)
        except ImageError as error:
            reason = str(error).removeprefix(f"{source}: ")
            if limit < http.max_image_pixels and "over the limit" in reason:
                reason = f"the upload's images together are over http.max_request_pixels ({http.max_request_pixels:,})"
            refused.append(Outcome(source, REFUSED, reason))
            continue
        budget -= image.shape[0] * image.shape[1]
        images.append((source, image))
    return images, refused


async def _run_enroll(request: web.Request, name: str, files: list[tuple[str, bytes]],
                      metadata: dict | None) -> web.Response:
    """Decode the files (refusing what cannot be), then enroll on the model thread, as ``facetrack enroll`` does."""
    services = request.app[SERVICES]
    images, refused = await decode_uploads(request, files)

    def work(analyzer):
        with GalleryStore(services.gallery, create=False) as store:
            enroller = Enroller(analyzer, store, services.config.enroll)
            return enroller.enroll(name, *enroller.from_arrays(images), metadata=metadata)

    result = await services.executor.call(work) if images else None
    outcomes = [dataclasses.asdict(o) for o in refused + (result.outcomes if result else [])]
    enrolled = sum(o["status"] == ENROLLED for o in outcomes)
    if enrolled:
        await apply_change(request)
    body = {"name": name, "enrolled": enrolled, "faces": result.faces_total if result else 0, "outcomes": outcomes}
    if not enrolled:
        body.update(error=f"nothing enrolled for '{name}': every image was refused or skipped", status=422)
    return web.json_response(body, status=201 if enrolled else 422)


@routes.post("/api/identities")
async def create_identity(request: web.Request) -> web.Response:
    """multipart/form-data: ``name``, optional ``metadata`` (a JSON object), one or more ``image`` files."""
    fields, files = await uploads(request, ("name", "metadata"))
    if not fields.get("name", "").strip():
        raise web.HTTPBadRequest(text="a 'name' field is needed")
    name = bodies.person_name(fields["name"])
    if not files:
        raise web.HTTPBadRequest(text="no image files in the upload")
    metadata = bodies.metadata(fields["metadata"]) if "metadata" in fields else None
    return await _run_enroll(request, name, files, metadata)


@routes.post("/api/identities/{name}/from-track")
async def enroll_from_track(request: web.Request) -> web.Response:
    """JSON ``{"camera": ID, "track": N}``: enroll the open track's best face crop under ``name``."""
    if RUNTIME not in request.app:
        raise web.HTTPNotFound(text="no live pipeline here: tracks exist under facetrack run")
    body = bodies.parse(bodies.FromTrack, await request.read())
    camera_id, track_id = body.camera, body.track
    camera = request.app[RUNTIME].cameras.get(camera_id)
    if camera is None:
        raise web.HTTPNotFound(text=f"no camera '{camera_id}'")
    view = camera.track(track_id)
    if view is None or view.crop_jpeg is None:
        raise web.HTTPNotFound(text=f"camera '{camera_id}' has no open track {track_id} with a face crop")
    source = f"camera {camera_id} track {track_id}"
    name = bodies.person_name(request.match_info["name"])  # the same rules as any other new name
    return await _run_enroll(request, name, [(source, base64.b64decode(view.crop_jpeg))], None)


@routes.patch("/api/identities/{name}")
async def rename_identity(request: web.Request) -> web.Response:
    """JSON ``{"name": NEW}``."""
    new = bodies.parse(bodies.Rename, await request.read()).name

    def change(store: GalleryStore):
        identity_or_404(store, request.match_info["name"])
        try:
            store.rename(request.match_info["name"], new)
        except GalleryError as error:
            raise web.HTTPConflict(text=str(error).split(": ", 1)[-1]) from None
        return store.identity(new)

    identity = await in_gallery(request, change)
    await apply_change(request)
    return web.json_response(dataclasses.asdict(identity))


@routes.delete("/api/identities/{name}")
async def delete_identity(request: web.Request) -> web.Response:
    """Erase the person for good, as ``facetrack gallery erase``: the gallery first, then the Stream."""
    services = request.app[SERVICES]
    body = await in_gallery(request, lambda store: _erase(store, request.match_info["name"], services))
    await apply_change(request)
    return web.json_response(body)


def _erase(store: GalleryStore, name: str, services) -> dict:
    """The gallery first, then the Stream: the server's Redis, or (``facetrack serve`` without ``redis.url``) the
    one ``facetrack gallery erase`` would reach."""
    identity_or_404(store, name)
    removed = store.erase(name)
    stream = {"deleted": None, "pending": True}
    try:
        if services.redis_url:
            client = redis.Redis.from_url(services.redis_url, socket_connect_timeout=2, socket_timeout=10)
            try:
                deleted = sweep_erased(store, client, services.config.events.prefix)
            finally:
                client.close()
        else:
            deleted = sweep_configured(services.config, store)
        stream = {"deleted": deleted, "pending": False}
    except (redis.RedisError, TrackerError) as error:  # `facetrack gallery erase`, or a run's retention pass
        logger.warning("erase %s: the Stream is swept later: %s", name, error)
    return {**removed, "stream": stream}


@routes.post("/api/recognize")
async def recognize(request: web.Request) -> web.Response:
    """An image (multipart ``image`` file, or the raw body) in; its faces with boxes and names out."""
    services = request.app[SERVICES]
    if request.content_type.startswith("multipart/"):
        _, files = await uploads(request)
        if len(files) != 1:
            raise web.HTTPBadRequest(text="send exactly one image file")
        source, data = files[0]
    else:
        source, data = "the request body", await request.read()
    image = await asyncio.to_thread(decode_image, data, source, services.config.http.max_image_pixels)
    faces = await services.executor.call(lambda _: services.identifier.identify(image))
    return web.json_response({"faces": [f.as_json() for f in faces]})
