"""``GET /api/audit``: the gallery audit (``gallery.audit``, without strangers: ``facetrack gallery audit
--strangers`` adds them). It compares every face with every other (20,000 faces: about 18 s), so it runs on a
thread of its own, never on the gallery threads other requests share, and is made once per state of the gallery
(its latest change) and model: requests meanwhile wait for that one and share it; one audit is kept."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from gallery.audit import audit, small_faces
from gallery.store import GalleryStore
from pipelines.web.keys import SERVICES
from tracker.config import EnrollConfig
from tracker.face.card import Tables

routes = web.RouteTableDef()
_thread = ThreadPoolExecutor(1, thread_name_prefix="gallery-audit")
_kept: list[tuple[tuple, dict]] = []  # (the gallery's state, its audit): only ever touched on ``_thread``


@routes.get("/api/audit")
async def audit_gallery(request: web.Request) -> web.Response:
    """The gallery audit: reference faces unlike their person or confusable with another."""
    services = request.app[SERVICES]
    identifier = services.identifier
    model_id, view = identifier.model_id, identifier.view
    report = await asyncio.get_running_loop().run_in_executor(_thread, _audit, services.gallery, model_id,
                                                              view.evidence.tables, view.threshold,
                                                              services.config.enroll)
    return web.json_response(report)


def _audit(location, model_id: str, tables: Tables | None, threshold: float, policy: EnrollConfig) -> dict:
    """The audit of the gallery as it is now: the kept one when nothing changed since it was made."""
    with GalleryStore(location, create=False) as store:
        latest = tuple(store.query("SELECT id, at FROM changes ORDER BY id DESC LIMIT 1"))  # (ids restart: at too)
        state = (str(location), model_id, threshold, latest, policy)
        if _kept and _kept[0][0] == state:
            return _kept[0][1]
        report = _report(store, model_id, tables, threshold, policy)
    _kept[:] = [(state, report)]
    return report


def _report(store: GalleryStore, model_id: str, tables: Tables | None, threshold: float, policy: EnrollConfig) -> dict:
    face_ids, identity_ids, vectors = store.embeddings(model_id)
    names = {i.id: i.name for i in store.identities()}
    report = audit(face_ids, identity_ids, vectors, tables, threshold, small=small_faces(store, policy))
    pair = report.closest_pair
    return {"model_id": model_id, "threshold": threshold, "faces": len(report.faces),
            "closest_pair": None if pair is None else {"a": names.get(pair[0]), "b": names.get(pair[1]),
                                                       "distance": round(pair[2], 4)},
            "flagged": [{"name": names.get(f.identity_id), "face_id": f.face_id, "flags": f.flags,
                         "own_distance": f.own_distance, "own_share": f.own_share,
                         "other": names.get(f.other_identity), "other_distance": f.other_distance}
                        for f in report.flagged()]}
