"""The OpenAPI document of the HTTP API, served at ``/api/openapi.json``."""

from __future__ import annotations

from aiohttp import web

from gallery import validate
from pipelines.web import bodies
from pipelines.web.events import STREAM_ID
from tracker.config import CameraConfig
from tracker.events import Event

routes = web.RouteTableDef()


def _error(description: str) -> dict:
    schema = {"$ref": "#/components/schemas/Error"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _json(description: str, schema: dict | None = None) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema or {"type": "object"}}}}


def _inline(schema: dict) -> dict:
    """pydantic's JSON Schema as an OpenAPI 3.0 schema (nullable instead of null unions, boolean bounds)."""
    schema = dict(schema)
    schema.pop("title", None)
    props = {}
    for key, value in schema.get("properties", {}).items():
        value = dict(value)
        value.pop("title", None)
        if "anyOf" in value:  # X | None
            kinds = [v for v in value.pop("anyOf") if v.get("type") != "null"]
            value.update(kinds[0] if len(kinds) == 1 else {"anyOf": kinds})
            value["nullable"] = True
        if "const" in value:
            value["enum"] = [value.pop("const")]
        for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if isinstance(value.get(bound), int | float) and not isinstance(value[bound], bool):
                value[limit], value[bound] = value[bound], True  # JSON Schema 2020 -> OpenAPI 3.0
        props[key] = value
    schema["properties"] = props
    return schema


def _body(model) -> dict:
    """A JSON request body as its pydantic model validates it (the server's rules are the document's)."""
    return {"required": True, "content": {"application/json": {"schema": _inline(model.model_json_schema())}}}


ID = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}  # what a gallery stores
NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
CAMERA = {"name": "camera", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
TRACK = {"name": "track", "in": "path", "required": True, "schema": ID}
PERSON_NAME = bodies.PERSON_NAME_SCHEMA
IMAGES = {"type": "array", "minItems": 1, "items": {"type": "string", "format": "binary"}}
FILTERS = [
    {"name": "camera", "in": "query", "schema": {"type": "string"}, "description": "Camera ids, comma-separated"},
    {"name": "type", "in": "query", "schema": {"type": "string"}, "description": "Event types, comma-separated"},
]
AUTH = [{"bearer": []}]
UNAUTHORISED = {"401": _error("No bearer token"), "403": _error("Wrong token")}
MATCH_HEADERS = {name: {"description": text, "schema": {"type": "string"}} for name, text in (
    ("X-Match-Threshold", "The threshold in force (squared L2)"),
    ("X-Match-Threshold-Source", "auto (from match.far), calibrated, set, or model default"),
    ("X-Match-Expected-FAR", "The expected share of strangers named, for this gallery"),
    ("X-Gallery-People", "People with faces of the active model"),
    ("X-Gallery-Faces", "Their faces"),
)}
UPLOAD = {"required": True, "content": {"multipart/form-data": {
    "schema": {"type": "object", "required": ["name", "image"], "additionalProperties": False,
               "properties": {"name": PERSON_NAME, "image": IMAGES,
                              "metadata": {"type": "object", "maxProperties": validate.MAX_METADATA_KEYS,
                                           "description": "A JSON object of at most 50 keys and 10,000 characters"}}},
    "encoding": {"metadata": {"contentType": "application/json"}}}}}


OPS_PATHS = {
    "/health": {"get": {"summary": "The process is alive", "responses": {"200": _json("Alive")}}},
    "/ready": {"get": {"summary": "Models loaded, Redis reachable, camera states",
                       "responses": {"200": _json("Ready"), "503": _json("Not ready, with the problems")}}},
    "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "Text format"}}}},
}


WORKERS = {"summary": "Several workers: the live workers, their cameras and last heartbeat, who holds each camera",
           "responses": {"200": _json("Workers and cameras"),
                         "404": _error("A worker on its own, or no live pipeline here"),
                         "503": _error("Redis unreachable")}}
CAMERAS_PATHS = {
    "/api/cameras": {
        "get": {"summary": "Cameras with live status", "responses": {"200": _json("Cameras", {"type": "array"}),
                                                                   "404": _error("No live pipeline here")}},
        "post": {"summary": "Add a camera while running", "security": AUTH,
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"$ref": "#/components/schemas/Camera"}}}},
                 "responses": {"201": _json("Added"), "202": _json("Several workers: in the registry; the "
                                                                     "worker it belongs to starts it"),
                               "400": _error("Invalid camera"),
                               "409": _error("The id is taken"), "404": _error("No live pipeline here"),
                               **UNAUTHORISED}},
    },
    "/api/cameras/{camera}": {"delete": {
        "summary": "Remove a camera (its open tracks end)", "security": AUTH, "parameters": [CAMERA],
        "responses": {"204": {"description": "Removed"}, "404": _error("No such camera, or no live pipeline here"),
                      **UNAUTHORISED}}},
    "/api/cameras/{camera}/tracks": {"get": {
        "summary": "The camera's open tracks", "parameters": [CAMERA],
        "responses": {"200": _json("Tracks", {"type": "array"}),
                      "404": _error("No such camera, or no live pipeline here")}}},
    "/api/cameras/{camera}/tracks/{track}/why": {"get": {
        "summary": "Why an open track is (not) named: each identity's evidence, the bound, its latest observations",
        "parameters": [CAMERA, TRACK],
        "responses": {"200": _json("The track's trace"), "400": _error("Bad track number"),
                      "404": _error("No such camera or track, or no live pipeline here")}}},
    "/api/cameras/{camera}/tracks/{track}/crop.jpg": {"get": {
        "summary": "A track's best face crop", "parameters": [CAMERA, TRACK],
        "responses": {"200": {"description": "JPEG", "content": {"image/jpeg": {}}},
                      "400": _error("Bad track number"),
                      "404": _error("No such camera or track, or no live pipeline here")}}},
    "/api/audit": {"get": {
        "summary": "The gallery audit: reference faces unlike their person or confusable with another, and the "
                   "closest pair of people",
        "responses": {"200": _json("The audit")}}},
    "/api/presence": {"get": {
        "summary": "Who is where: each person named on this worker's cameras, home or away (presence.away_seconds), "
                   "the cameras that see them now, last seen where and when, since when",
        "responses": {"200": _json("People", {"type": "array"}), "404": _error("No live pipeline here")}}},
    "/api/workers": {"get": WORKERS},
    "/api/cluster": {"get": {**WORKERS, "deprecated": True,
                             "summary": "The old name of GET /api/workers, kept for one release"}},
    "/cameras/{camera}/live.mjpg": {"get": {
        "summary": "Live view: analysed frames with boxes, track ids and names (multipart MJPEG)",
        "parameters": [CAMERA], "responses": {"200": {"description": "multipart/x-mixed-replace"},
                                              "404": _error("No such camera, or no live pipeline here")}}},
}


IDENTITIES_PATHS = {
    "/api/identities": {
        "get": {"summary": "Enrolled people; the headers say which match threshold is in force",
                "responses": {"200": {**_json("People", {"type": "array"}), "headers": MATCH_HEADERS}}},
        "post": {"summary": "Enroll a person from uploaded images", "security": AUTH, "requestBody": UPLOAD,
                 "responses": {"201": _json("Enrolled, with a per-file outcome"), "400": _error("Bad request"),
                               "413": _error("Upload too large"),
                               "422": _json("Nothing enrolled, per-file reasons"),
                               **UNAUTHORISED}},
    },
    "/api/identities/{name}": {
        "get": {"summary": "A person and their faces", "parameters": [NAME],
                "responses": {"200": _json("The person"), "404": _error("No such person")}},
        "patch": {"summary": "Rename", "security": AUTH, "parameters": [NAME], "requestBody": _body(bodies.Rename),
                  "responses": {"200": _json("Renamed"), "400": _error("Bad request"),
                                "404": _error("No such person"), "409": _error("The name is taken"),
                                **UNAUTHORISED}},
        "delete": {"summary": "Erase a person for good: faces, sightings, named clusters, then their events in "
                              "the Stream (stream.pending: Redis unreachable, finished by the next retention pass)",
                   "security": AUTH, "parameters": [NAME],
                   "responses": {"200": _json("What went: faces, negatives, sightings, clusters, identity_id, "
                                              "stream {deleted, pending}"),
                                 "404": _error("No such person"), **UNAUTHORISED}},
    },
    "/api/identities/{name}/faces/{face}/crop.jpg": {"get": {
        "summary": "A stored face crop", "parameters": [NAME, {**TRACK, "name": "face"}],
        "responses": {"200": {"description": "JPEG", "content": {"image/jpeg": {}}},
                      "404": _error("No such person or face")}}},
    "/api/identities/{name}/from-track": {"post": {
        "summary": "Enroll an open track's best face crop", "security": AUTH, "parameters": [NAME],
        "requestBody": _body(bodies.FromTrack),
        "responses": {"201": _json("Enrolled"), "400": _error("Bad request"),
                      "404": _error("No such track, or no live pipeline here"), "422": _json("Refused"),
                      **UNAUTHORISED}}},
    "/api/identities/{name}/negatives": {"post": {
        "summary": "Not this person: reject faces wrongly named as them (images of one face each, or a sighting)",
        "security": AUTH, "parameters": [NAME],
        "requestBody": {"required": True, "content": {
            "multipart/form-data": {"schema": {"type": "object", "required": ["image"], "additionalProperties": False,
                                               "properties": {"image": IMAGES}}},
            **_body(bodies.RejectSighting)["content"]}},
        "responses": {"201": _json("Rejected, with the new ids and a per-file outcome"),
                      "400": _error("Bad request"), "404": _error("No such person or sighting"),
                      "413": _error("Upload too large"), "422": _json("No face to reject, per-file reasons"),
                      **UNAUTHORISED}}},
    "/api/identities/{name}/negatives/{negative}": {"delete": {
        "summary": "Take back a rejected face", "security": AUTH,
        "parameters": [NAME, {**TRACK, "name": "negative"}],
        "responses": {"204": {"description": "Taken back"}, "400": _error("Bad number"),
                      "404": _error("No such person or rejected face"), **UNAUTHORISED}}},
    "/api/recognize": {"post": {
        "summary": "Name the faces of an uploaded image", "security": AUTH,
        "requestBody": {"required": True, "content": {
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {"schema": {"type": "object", "required": ["image"], "additionalProperties": False,
                                               "properties": {"image": {"type": "string", "format": "binary"}}}}}},
        "responses": {"200": _json("Faces with boxes and names"), "400": _error("Not an image"),
                      "413": _error("Too large"), **UNAUTHORISED}}},
}


CLUSTER = {"name": "cluster", "in": "path", "required": True, "schema": ID}
NO_CLUSTER = {"400": _error("Bad cluster number"), "404": _error("No such cluster")}
UNKNOWNS_PATHS = {
    "/api/unknowns": {"get": {
        "summary": "Clusters of unknown people seen by the cameras, most recently seen first",
        "parameters": [{"name": "all", "in": "query", "schema": {"type": "string", "enum": ["true", "false"]},
                        "description": "true: named and ignored clusters too"}],
        "responses": {"200": _json("Clusters", {"type": "array"}), "400": _error("all is neither true nor false")}}},
    "/api/unknowns/{cluster}": {
        "get": {"summary": "A cluster and its faces", "parameters": [CLUSTER],
                "responses": {"200": _json("The cluster"), **NO_CLUSTER}},
        "delete": {"summary": "Erase a cluster, its sightings and their crops for good", "security": AUTH,
                   "parameters": [CLUSTER], "responses": {"204": {"description": "Erased"}, **NO_CLUSTER,
                                                          **UNAUTHORISED}},
    },
    "/api/unknowns/{cluster}/faces/{face}/crop.jpg": {"get": {
        "summary": "A face crop of a cluster", "parameters": [CLUSTER, {**CLUSTER, "name": "face"}],
        "responses": {"200": {"description": "JPEG", "content": {"image/jpeg": {}}}, **NO_CLUSTER}}},
    "/api/unknowns/{cluster}/name": {"post": {
        "summary": "Enroll the cluster's faces as a person (new, or added), as enrollment does", "security": AUTH,
        "parameters": [CLUSTER],
        "requestBody": _body(bodies.NameCluster),
        "responses": {"201": _json("Enrolled, with a per-face outcome"), **NO_CLUSTER,
                      "422": _error("No face could be enrolled"), **UNAUTHORISED}}},
    "/api/unknowns/{cluster}/merge": {"post": {
        "summary": "Move another cluster's sightings into this one", "security": AUTH, "parameters": [CLUSTER],
        "requestBody": _body(bodies.Merge),
        "responses": {"200": _json("The merged cluster"), **NO_CLUSTER,
                      "409": _error("The other cluster is named as a person: merge into it instead"),
                      **UNAUTHORISED}}},
    "/api/unknowns/{cluster}/ignore": {"post": {
        "summary": "Hide a cluster from the list (later sightings still join it)", "security": AUTH,
        "parameters": [CLUSTER], "responses": {"200": _json("The cluster"), **NO_CLUSTER, **UNAUTHORISED}}},
}


REVIEW = {"name": "review", "in": "path", "required": True, "schema": ID}
NO_REVIEW = {"400": _error("Bad review number"), "404": _error("No such review")}
REVIEWS_PATHS = {
    "/api/reviews": {"get": {
        "summary": "Tracks that ended almost named (identity.review), waiting for an answer, newest first",
        "parameters": [{"name": "all", "in": "query", "schema": {"type": "string", "enum": ["true", "false"]},
                        "description": "true: answered reviews too"}],
        "responses": {"200": _json("Reviews", {"type": "array"}), "400": _error("all is neither true nor false")}}},
    "/api/reviews/{review}/face.jpg": {"get": {
        "summary": "The best face a review asks about", "parameters": [REVIEW],
        "responses": {"200": {"description": "JPEG", "content": {"image/jpeg": {}}}, **NO_REVIEW}}},
    "/api/reviews/{review}": {"post": {
        "summary": "Answer a review: yes (its faces become the candidate's references, if they pass the enrolment "
                   "and audit checks), no (recorded as not the candidate), or someone else (name)",
        "security": AUTH, "parameters": [REVIEW], "requestBody": _body(bodies.Answer),
        "responses": {"200": _json("The review answered, with a per-face outcome"), **NO_REVIEW,
                      "409": _error("Already answered (or by someone else at the same moment): undo it first"),
                      "422": _error("Someone new whom none of its faces can make"), **UNAUTHORISED}}},
    "/api/reviews/{review}/undo": {"post": {
        "summary": "Take an answer back: what it added goes, and the review waits again", "security": AUTH,
        "parameters": [REVIEW], "responses": {"200": _json("The review, waiting again, and a note (a person the "
                                                           "answer made, left without a face), or null"),
                                              **NO_REVIEW, "409": _error("No answer to undo (or undone meanwhile)"),
                                              **UNAUTHORISED}}},
}


EVENTS_PATHS = {
    "/api/events": {"get": {
        "summary": "Recent events, newest first, from the Redis stream",
        "parameters": [*FILTERS,
                       {"name": "limit", "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                       {"name": "before", "in": "query", "schema": {"type": "string", "pattern": STREAM_ID},
                        "description": "A stream id: the previous page's `next`"}],
        "responses": {"200": _json("A page of events and the `next` cursor"), "400": _error("Bad parameter"),
                      "404": _error("No Redis configured here"), "503": _error("Redis unreachable")}}},
    "/ws/events": {"get": {
        "summary": "WebSocket: live events, filterable, resumable from a stream id",
        "parameters": [*FILTERS, {"name": "since", "in": "query", "schema": {"type": "string", "pattern": STREAM_ID}}],
        "responses": {"101": {"description": "Switching to WebSocket"}, "400": _error("Bad parameter"),
                      "404": _error("No Redis configured here"), "503": _error("Redis unreachable")}}},
}


BUSY = _error("The gallery is busy (locked by another writer) or its server unreachable; try again")
PACED = _error("More than http.max_requests_per_second from this address; the Retry-After header says when")
GUARD = {"401": _error("No bearer token (changes; reads too off loopback or with http.protect_all)"),
         "403": _error("Wrong token, or a Host or Origin that is not this server's")}


def _every_operation(paths: dict, gallery: bool) -> dict:
    """What any operation can answer besides its own: 401/403 (the token, Host and Origin checks), 429 (more
    than http.max_requests_per_second), 413 (a body over http.max_upload_bytes), 503 when it reads or changes
    the gallery."""
    for path, methods in paths.items():
        for operation in methods.values():
            responses = operation["responses"]
            if path != "/health":
                for status, response in GUARD.items():
                    responses.setdefault(status, response)
            if path not in ("/health", "/ready"):
                responses.setdefault("429", PACED)
            if "requestBody" in operation:
                responses.setdefault("413", _error("Body over http.max_upload_bytes"))
            if gallery:
                responses.setdefault("503", BUSY)
    return paths


def document() -> dict:
    _every_operation(OPS_PATHS, False)
    _every_operation(CAMERAS_PATHS, False)
    _every_operation(IDENTITIES_PATHS, True)
    _every_operation(UNKNOWNS_PATHS, True)
    _every_operation(REVIEWS_PATHS, True)
    _every_operation(EVENTS_PATHS, False)
    return {
        "openapi": "3.0.3",
        "info": {"title": "facetrack", "version": "1",
                 "description": "Streaming video identity tracker: cameras, gallery, recognition and events."},
        "paths": {**OPS_PATHS, **CAMERAS_PATHS, **IDENTITIES_PATHS, **UNKNOWNS_PATHS, **REVIEWS_PATHS,
                  **EVENTS_PATHS},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "status"],
                          "properties": {"error": {"type": "string"}, "status": {"type": "integer"}}},
                "Camera": _inline(CameraConfig.model_json_schema()),
                "Event": _inline(Event.model_json_schema()),
            },
        },
    }


@routes.get("/api/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())
