"""Unknown people over HTTP: the clusters of sightings, their faces, and naming, merging, ignoring
and erasing them, with the same rules as ``facetrack unknowns``. Naming enrolls on the model
executor's thread and then has the gallery watcher apply it at once, so the person is named from the next frame."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from gallery.enroll import ENROLLED, Enroller
from gallery.store import GalleryError, GalleryStore
from gallery.unknowns import IGNORED, NAMED, OPEN, Unknowns
from pipelines.web import bodies
from pipelines.web.gallery_io import apply_change, in_gallery
from pipelines.web.keys import SERVICES
from tracker.images import jpeg_of

routes = web.RouteTableDef()


def _unknowns(request: web.Request, store: GalleryStore) -> Unknowns:
    return Unknowns(store, request.app[SERVICES].identifier.model_id)


def _cluster_id(request: web.Request, store: GalleryStore) -> int:
    text = request.match_info["cluster"]
    try:
        cluster_id = int(text)
    except ValueError:
        raise web.HTTPBadRequest(text=f"cluster '{text}' is not a number") from None
    try:
        _unknowns(request, store).cluster(cluster_id)
    except GalleryError:
        raise web.HTTPNotFound(text=f"no cluster {cluster_id} of unknown faces") from None
    return cluster_id


@routes.get("/api/unknowns")
async def list_clusters(request: web.Request) -> web.Response:
    """Open clusters, most recently seen first (``?all=true``: named and ignored ones too)."""
    every = request.query.get("all", "false")
    if every not in ("true", "false"):
        raise web.HTTPBadRequest(text=f"all: '{every}' is neither true nor false")
    statuses = (OPEN, NAMED, IGNORED) if every == "true" else (OPEN,)
    clusters = await in_gallery(request, lambda store: [dataclasses.asdict(c)
                                                        for c in _unknowns(request, store).clusters(statuses)])
    return web.json_response(clusters)


@routes.get("/api/unknowns/{cluster}")
async def show_cluster(request: web.Request) -> web.Response:
    def read(store: GalleryStore):
        cluster_id = _cluster_id(request, store)
        unknowns = _unknowns(request, store)
        return unknowns.cluster(cluster_id), unknowns.faces(cluster_id)

    cluster, faces = await in_gallery(request, read)
    face_list = [{"id": f.id, "sighting": f.sighting_id, "camera": f.camera, "quality": f.quality,
                  "captured_at": f.captured_at} for f in faces]
    return web.json_response({**dataclasses.asdict(cluster), "face_list": face_list})


@routes.get("/api/unknowns/{cluster}/faces/{face}/crop.jpg")
async def face_crop(request: web.Request) -> web.Response:
    def read(store: GalleryStore) -> bytes:
        cluster_id = _cluster_id(request, store)
        text = request.match_info["face"]
        face = _unknowns(request, store).face(cluster_id, int(text)) if text.isdigit() else None
        if face is None:
            raise web.HTTPNotFound(text=f"cluster {cluster_id} has no face {request.match_info['face']}")
        return jpeg_of(face.crop)

    return web.Response(body=await in_gallery(request, read), content_type="image/jpeg")


@routes.post("/api/unknowns/{cluster}/name")
async def name_cluster(request: web.Request) -> web.Response:
    """JSON ``{"name": NAME}``: enroll the cluster's faces as NAME (new, or added to that person)."""
    services = request.app[SERVICES]
    cluster_id = await in_gallery(request, lambda store: _cluster_id(request, store))
    name = bodies.parse(bodies.NameCluster, await request.read()).name

    def work(analyzer):
        with GalleryStore(services.gallery, create=False) as store:
            enroller = Enroller(analyzer, store, services.config.enroll)
            return enroller.enroll_cluster(Unknowns(store, enroller.model_id), cluster_id, name)

    try:
        result = await services.executor.call(work)
    except GalleryError as error:
        raise web.HTTPUnprocessableEntity(text=str(error).split(": ", 1)[-1]) from None
    await apply_change(request)
    return web.json_response({"name": name, "cluster": cluster_id, "enrolled": result.count(ENROLLED),
                              "faces": result.faces_total,
                              "outcomes": [dataclasses.asdict(o) for o in result.outcomes]}, status=201)


@routes.post("/api/unknowns/{cluster}/merge")
async def merge_clusters(request: web.Request) -> web.Response:
    """JSON ``{"other": ID}``: the other cluster's sightings join this one."""
    other = bodies.parse(bodies.Merge, await request.read()).other

    def change(store: GalleryStore) -> dict:
        cluster_id = _cluster_id(request, store)
        if other == cluster_id:
            raise web.HTTPBadRequest(text="other: a cluster cannot be merged with itself")
        unknowns = _unknowns(request, store)
        try:
            unknowns.cluster(other)
        except GalleryError as error:
            raise web.HTTPNotFound(text=str(error).split(": ", 1)[-1]) from None
        try:
            unknowns.merge(cluster_id, other)
        except GalleryError as error:  # a cluster named as a person merged into another
            raise web.HTTPConflict(text=str(error).split(": ", 1)[-1]) from None
        return dataclasses.asdict(unknowns.cluster(cluster_id))

    return web.json_response(await in_gallery(request, change))


@routes.post("/api/unknowns/{cluster}/ignore")
async def ignore_cluster(request: web.Request) -> web.Response:
    def change(store: GalleryStore) -> dict:
        cluster_id = _cluster_id(request, store)
        unknowns = _unknowns(request, store)
        unknowns.mark(cluster_id, IGNORED)
        return dataclasses.asdict(unknowns.cluster(cluster_id))

    return web.json_response(await in_gallery(request, change))


@routes.delete("/api/unknowns/{cluster}")
async def delete_cluster(request: web.Request) -> web.Response:
    """Erase the cluster, its sightings and their face crops for good."""
    await in_gallery(request, lambda store: _unknowns(request, store).delete(_cluster_id(request, store)))
    return web.Response(status=204)
