"""Cameras over HTTP: live status, add and remove at run time, current tracks, crops, live view; with
several workers, adding and removing go through the shared registry, and ``/api/workers`` shows them."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
from dataclasses import asdict
from pathlib import Path

import cv2
import redis
from aiohttp import web
from pydantic import ValidationError

from pipelines.annotate import draw_boxes, draw_zones
from pipelines.live.runtime import Camera, Runtime
from pipelines.live.sources import Frame, is_file
from pipelines.live.workers import status
from pipelines.web.keys import RUNTIME, SERVICES, STREAMS
from tracker.config import CameraConfig
from tracker.images import blur_boxes, blurred_jpeg_base64
from tracker.redact import redact
from tracker.track.state import TrackedFace
from tracker.track.zones import Zones
from tracker.whereabouts import HOME

routes = web.RouteTableDef()
LIVE_FPS = 5.0  # frames a second of a live MJPEG view, at most (was http.live_fps)


def _runtime(request: web.Request) -> Runtime:
    if RUNTIME not in request.app:
        raise web.HTTPNotFound(text="no live pipeline here: cameras are served by facetrack run")
    return request.app[RUNTIME]


def _camera(request: web.Request) -> Camera:
    camera = _runtime(request).cameras.get(request.match_info["camera"])
    if camera is None:
        raise web.HTTPNotFound(text=f"no camera '{request.match_info['camera']}'")
    return camera


def describe(camera: Camera) -> dict:
    return {**public(camera.config), **asdict(camera.status())}


def public(camera: CameraConfig) -> dict:
    """A camera's settings as shown over HTTP: its URL without the password in it."""
    return {**camera.model_dump(), "url": redact(camera.url), "detect_url": redact(camera.detect_url)}


def view(frame: Frame, faces: list[TrackedFace], blur_unknown: bool = False,
         zones: Zones | None = None) -> bytes | None:
    """The frame with its zones, and its faces' boxes, track ids and names drawn (unknown faces blurred first,
    with ``blur_unknown``), as JPEG."""
    image = frame.rgb()
    image = blur_boxes(image, [f.box for f in faces if f.name is None]) if blur_unknown else image
    if zones:
        image = draw_zones(image, zones.pixels(image.shape[1], image.shape[0]))
    image = draw_boxes(image, [(f.box, f.label(), f.name is not None) for f in faces])
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 75])
    return jpeg.tobytes() if ok else None


@routes.get("/api/cameras")
async def list_cameras(request: web.Request) -> web.Response:
    return web.json_response([describe(c) for c in _runtime(request).cameras.values()])


@routes.get("/api/presence")
async def presence(request: web.Request) -> web.Response:
    return web.json_response([{"identity_id": p.identity_id, "name": p.name,
                               "state": "home" if p.state == HOME else "away", "cameras": p.cameras, "zones": p.zones,
                               "last_camera": p.last_camera, "last_seen": p.last_seen, "since": p.since}
                              for p in _runtime(request).presence()])


@routes.post("/api/cameras")
async def add_camera(request: web.Request) -> web.Response:
    runtime = _runtime(request)
    try:
        camera = CameraConfig.model_validate(await request.json())
    except ValueError as error:  # bad JSON or a field out of range
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()) \
            if isinstance(error, ValidationError) else "the body must be a JSON object"
        raise web.HTTPBadRequest(text=f"camera: {detail}") from None
    for url in filter(None, (camera.url, camera.detect_url)):
        _check_local(url, request.app[SERVICES].config.http.camera_dirs)
    if runtime.workers is not None:  # into the shared registry: the worker it belongs to starts it
        if camera.id in await runtime.workers.registry():
            raise web.HTTPConflict(text=f"camera '{camera.id}' exists already")
        await runtime.workers.register([camera])
        return web.json_response({**public(camera), "registered": True}, status=202)
    if camera.id in runtime.cameras:
        raise web.HTTPConflict(text=f"camera '{camera.id}' exists already")
    return web.json_response(describe(runtime.add_camera(camera)), status=201)


def _check_local(url: str, camera_dirs: list[str]) -> None:
    """Over HTTP, a local source is only a video file under ``http.camera_dirs`` (devices: config only)."""
    if url.isdigit():
        raise web.HTTPForbidden(text="camera url: local devices are added in the config file only")
    if not is_file(url):
        return
    path = Path(url).resolve()
    if not any(path.is_relative_to(Path(folder).resolve()) for folder in camera_dirs):
        allowed = ", ".join(camera_dirs) or "none set"
        raise web.HTTPForbidden(text=f"camera url: {url} is not under http.camera_dirs ({allowed})")
    if not path.is_file():
        raise web.HTTPBadRequest(text=f"camera url: {url}: no such video file")


@routes.delete("/api/cameras/{camera}")
async def remove_camera(request: web.Request) -> web.Response:
    runtime = _runtime(request)
    if runtime.workers is not None:  # from the shared registry: the worker that has it stops it
        if not await runtime.workers.unregister(request.match_info["camera"]):
            raise web.HTTPNotFound(text=f"no camera '{request.match_info['camera']}' in the workers' registry")
        return web.Response(status=204)
    camera = _camera(request)
    await runtime.remove_camera(camera.config.id)
    return web.Response(status=204)


@routes.get("/api/workers")
@routes.get("/api/cluster")  # its name until 2026-12: kept for one release (deprecated in the OpenAPI document)
async def workers_status(request: web.Request) -> web.Response:
    """The workers sharing the cameras (last heartbeat, cameras), and who holds each camera."""
    runtime = _runtime(request)
    if runtime.workers is None:
        raise web.HTTPNotFound(text="this worker runs alone (workers.enabled is false)")
    config = request.app[SERVICES].config
    client = redis.Redis.from_url(runtime.workers.redis_url, socket_connect_timeout=2, socket_timeout=5)
    try:
        body = await asyncio.to_thread(status, client, config.events.prefix, config.workers.failover_seconds)
    except redis.RedisError as error:
        raise web.HTTPServiceUnavailable(text=f"redis: {error}") from None
    finally:
        client.close()
    return web.json_response({"this_worker": runtime.workers.worker, **body})


@routes.get("/api/cameras/{camera}/tracks")
async def tracks(request: web.Request) -> web.Response:
    views = _camera(request).tracks()
    return web.json_response([{**asdict(v), "crop_jpeg": None, "has_crop": v.crop_jpeg is not None} for v in views])


def _track_id(request: web.Request) -> int:
    try:
        return int(request.match_info["track"])
    except ValueError:
        raise web.HTTPBadRequest(text=f"track '{request.match_info['track']}' is not a number") from None


@routes.get("/api/cameras/{camera}/tracks/{track}/why")
async def track_why(request: web.Request) -> web.Response:
    """Why an open track is (not) named: each identity's evidence, the bound, its latest observations."""
    camera, track_id = _camera(request), _track_id(request)
    why = camera.why(track_id)
    if why is None:
        raise web.HTTPNotFound(text=f"camera '{camera.config.id}' has no open track {track_id}")
    return web.json_response(why)


@routes.get("/api/cameras/{camera}/tracks/{track}/crop.jpg")
async def track_crop(request: web.Request) -> web.Response:
    camera = _camera(request)
    track_id = _track_id(request)
    view = camera.track(track_id)
    if view is None or view.crop_jpeg is None:
        raise web.HTTPNotFound(text=f"camera '{camera.config.id}' has no open track {track_id} with a face crop")
    crop = view.crop_jpeg
    if view.identity_id is None and request.app[SERVICES].config.http.blur_unknown:
        crop = blurred_jpeg_base64(crop, 1_000_000)
    return web.Response(body=base64.b64decode(crop), content_type="image/jpeg")


@routes.get("/cameras/{camera}/live.mjpg")
async def live(request: web.Request) -> web.StreamResponse:
    """The camera's analysed frames with boxes, track ids and names, as multipart MJPEG.

    Frames are drawn and encoded only for connected viewers, at most ``LIVE_FPS`` per second.
    """
    camera = _camera(request)
    http = request.app[SERVICES].config.http
    streams = request.app[STREAMS]
    with streams.viewer():
        response = web.StreamResponse(headers={"Content-Type": "multipart/x-mixed-replace; boundary=frame"})
        await response.prepare(request)
        sent, zones = None, camera.loop.tracks.rules.zones  # the zones the camera's tracker uses
        while camera.config.id in _runtime(request).cameras and not streams.closing.is_set():
            latest = camera.latest()
            if latest is not None and latest[0] is not sent:
                sent = latest[0]
                jpeg = await streams.frame(camera.config.id, sent, functools.partial(view, *latest, http.blur_unknown,
                                                                                  zones))
                if jpeg:
                    try:
                        await response.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                             + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n")
                    except ConnectionResetError:  # the viewer left
                        break
            await _wait(streams.closing, 1.0 / LIVE_FPS)
    return response


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
