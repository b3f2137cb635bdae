"""The configuration schema: ``config.toml`` parsed into strict, bounded, typed settings.

Every field has a description and bounds; unknown keys are errors. Any value can be
overridden from the environment as ``FACETRACK__<SECTION>__<KEY>`` (for example
``FACETRACK__REDIS__URL``), which is how secrets and URLs stay out of the file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tracker.errors import ConfigError, WeightsError
from tracker.events import CAMERA_ID
from tracker.face.card import card_names, load_card
from tracker.redact import redact

ENV_PREFIX = "FACETRACK__"
RENAMED = {"cluster": "workers", "sightings": "unknowns"}  # old section -> new; the old is read one release more
RETIRED = {  # settings of the last release that are now fixed where they are used: read one release more, ignored
    "detector.thresholds": "MTCNN_THRESHOLDS in tracker/face/mtcnn.py",
    "detector.batch_size": "LFW_BATCH in pipelines/eval/lfw.py",
    "enroll.duplicate_share": "DUPLICATE_SHARE in gallery/enroll.py",
    "unknowns.faces_per_track": "SIGHTING_FACES in tracker/track/sighting.py",
    "retention.every_minutes": "EVERY_MINUTES in pipelines/live/retention.py",
    "tracking.min_iou": "MIN_IOU in tracker/track/tracking.py",
    "tracking.reembed_gain": "REEMBED_GAIN in tracker/track/schedule.py",
    "tracking.jump": "JUMP in tracker/track/schedule.py",
    "tracking.split_share": "SPLIT_SHARE in tracker/track/state.py",
    "tracking.cut_soft": "SOFT in tracker/track/cuts.py",
    "tracking.cut_ratio": "RATIO in tracker/track/cuts.py",
    "pipeline.max_wait_ms": "MAX_WAIT_MS in pipelines/live/executor.py",
    "enroll.video_samples": "VIDEO_SAMPLES in gallery/enroll.py",
    "pipeline.max_frame_pixels": "MAX_FRAME_PIXELS in pipelines/live/media.py",
    "events.buffer_size": "BUFFER_SIZE in pipelines/events/publisher.py",
    "http.live_fps": "LIVE_FPS in pipelines/web/cameras.py",
    "workers.heartbeat_seconds": "HEARTBEATS_PER_FAILOVER in pipelines/live/workers.py",
}
logger = logging.getLogger(__name__)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


DEFAULT_EMBEDDER = "omz-reid-0095"


def _embedder_choices() -> str:
    """``models.embedder``'s description: the model cards (tracker/face/cards), the default first."""
    names = [DEFAULT_EMBEDDER] + [n for n in card_names() if n != DEFAULT_EMBEDDER]
    summaries = {n: _summary(n) for n in names}
    return ", ".join(f"`{n}` ({summaries[n]})" if summaries[n] else f"`{n}`" for n in names) + " (docs/models.md)"


def _summary(name: str) -> str:
    """A card's summary; "" for a card that cannot be read (choosing that model then says why, naming the file)."""
    try:
        return load_card(name).summary
    except WeightsError:
        return ""


class ModelsConfig(Strict):
    embedder: str = Field(DEFAULT_EMBEDDER, description=_embedder_choices())
    device: Literal["auto", "cpu", "cuda"] = Field("auto",
        description="`auto` (CUDA when present), `cpu` or `cuda`")
    threads: int = Field(0, ge=0, le=256,
        description="Torch CPU threads; 0 = one per core")
    batch_size: int = Field(32, ge=1, le=1024,
        description="Faces per embedding batch (1-1024)")
    flip: bool | Literal["auto"] = Field(
        "auto", description=("Average each face's embedding with its mirror image's: `true`, `false`, or "
                             '`"auto"`, as each model measured best (`dlib-resnet-v1` yes: LFW +0.3 points; '
                             "`omz-reid-0095` no: no better, twice the work)")
    )
    cache_dir: str = Field("~/.cache/facetrack", min_length=1,
        description="Where converted weights are kept")
    facenet_weights: str = Field(
        "", description="Local state-dict file for the facenet embedders"
    )
    head: str = Field("", description=("A head trained by `facetrack train`, applied after the embedder: its id "
                                       "(under `cache_dir`/heads/) or a `.pt` path; empty = none. A model of its "
                                       "own: `gallery reembed` after choosing it"))

    @field_validator("embedder")
    @classmethod
    def _carded(cls, name: str) -> str:
        if name not in card_names():
            raise ValueError(f"{name!r} is none of the embedders there are model cards of: {', '.join(card_names())}")
        return name


class DetectorConfig(Strict):
    model: Literal["yunet", "mtcnn"] = Field("yunet",
        description=("`yunet` (libfacedetection's YuNet run by OpenCV, shipped in the package: fast on a CPU, finds "
                     "faces down to about 12 px) or `mtcnn` (facenet-pytorch's, in torch: batched on CUDA, slower on "
                     "a CPU)"))
    min_face_size: int = Field(24, ge=12, le=2000,
        description=("Smallest face to find, full-frame pixels (12-2000); for `mtcnn` the start of its image pyramid "
                     "(smaller is slower), for `yunet` a cut on the boxes (and a floor on how far a frame is scaled "
                     "down)"))
    min_confidence: float = Field(
        0.0, ge=0.0, le=1.0, description=("Faces scored below this are dropped; 0 = the model's own cut (`yunet` "
                                          "0.7 on its face score, `mtcnn` 0.9 on its probability)")
    )
    scale: float = Field(1.0, gt=0.05, le=1.0,
        description=("Detect on the frame scaled by at most this factor (0.05-1); `yunet` also brings a frame down "
                     "to 1024 px on its long side; boxes come back in full-frame pixels (docs/tuning.md)"))


class VerifyConfig(Strict):
    threshold: float = Field(
        0.0, ge=0.0, le=4.0, description=("The verification threshold: two faces are one person within "
                                          "this squared L2 distance on unit vectors (0-4); 0 = the model's, from "
                                          "LFW. The unit of the `*_share` settings but `tracking.reid_share`")
    )


class GalleryConfig(Strict):
    path: str = Field("data/gallery.db", min_length=1,
        description="The gallery file; `--gallery` overrides it")
    url: str = Field("", pattern=r"^$|^postgres(ql)?://",
                     description=("A PostgreSQL gallery instead (`postgresql://user@host:5432/db`), shared by every "
                                  "worker; the password in `FACETRACK__GALLERY__URL` or `PGPASSWORD`, not the file"))

    def location(self) -> Path | str:
        """The PostgreSQL URL when set, else the file."""
        return self.url or Path(self.path).expanduser()


class EnrollConfig(Strict):
    min_face_size: int = Field(50, ge=12, le=4000,
        description="Smaller enrollment faces are refused, pixels")
    min_sharpness: float = Field(8.0, ge=0.0, le=10000.0,
        description="Blurrier faces are refused (Laplacian variance of the aligned crop)")
    min_frontal: float = Field(0.25, ge=0.0, le=1.0,
        description="Faces turned further away are refused (frontal-pose score 0-1)")
    max_faces_per_person: int = Field(10, ge=1, le=1000,
        description="Cap per person; the most varied faces stay")


class MatchConfig(Strict):
    far: float = Field(
        1e-3, gt=0.0, le=0.1, description=("Share of strangers you accept being named (up to 0.1): per photograph "
                                           "for `identify`, per track for the live tracker (named at evidence "
                                           "`ln(people / match.far)`; docs/tuning.md)")
    )
    threshold: float = Field(
        0.0, ge=0.0, le=4.0,
        description=("The match threshold: name a face only within this distance; 0 = follow `match.far` "
                     "(the model's verification threshold for a model without an impostor table); set it with "
                     "`gallery calibrate --write`"),
    )
    calibrated_far: float = Field(
        0.0, ge=0.0, le=0.5, description=("Written by `gallery calibrate --write`: the FAR its threshold was "
                                          "measured for (the threshold's source then reads `calibrated`); 0 = "
                                          "set by hand")
    )
    margin: float = Field(0.03, ge=0.0, le=4.0,
        description="A face is named only this far (squared distance) ahead of the runner-up identity too")
    top_k: int = Field(1, ge=1, le=100,
        description="An identity's distance is the mean of its k nearest faces'")
    review_far: float = Field(0.05, ge=0.0, le=0.5, description=(
        "An unnamed track whose evidence for one person passes `ln(people / match.review_far)` (not the name's) ends "
        "with `identity.review`, for someone to answer; above `match.far`; 0 = no reviews"))

    @model_validator(mode="after")
    def _review_above_naming(self) -> MatchConfig:
        if self.review_far and self.review_far <= self.far:
            raise ValueError(f"review_far ({self.review_far:g}) must be above match.far ({self.far:g}), or 0 for no "
                             "reviews: a review asks about tracks the naming rule left unnamed")
        return self


CAMERA_SCHEMES = ("rtsp", "rtsps", "http", "https")


class CameraConfig(Strict):
    id: str = Field(pattern=CAMERA_ID, description="Letters, digits, `_ . -`; unique among the cameras")
    url: str = Field(min_length=1, max_length=2048, pattern=r"^[^\x00-\x1f\x7f]*$",
                     description="`rtsp://`, `rtsps://`, `http(s)://` (MJPEG), a video file path (`./name` if it "
                                 "holds a colon), a folder of recordings (docs/operations.md) or a device number "
                                 '(`"0"`)')
    fps: float = Field(5.0, gt=0.0, le=60.0,
        description="Frames analysed per second at most")
    detect_url: str = Field("", max_length=2048, pattern=r"^[^\x00-\x1f\x7f]*$", description=(
        "The camera's low-resolution sub-stream (same forms as `url`), or empty: faces are found on it and cut "
        "from `url`'s frame of the same moment (docs/cameras.md); files need `realtime = true`"))
    realtime: bool = Field(True, description="Video files: play at their own speed (false: every frame, fast)")
    loop: bool = Field(False, description="Video files: start again at the end, as a camera that never ends")
    zones: dict[str, list[tuple[float, float]]] = Field(default_factory=dict, description=(
        "Named polygons, vertices as fractions of the frame's width and height (0-1): events carry the zones a "
        "face's box centre is in; `person.entered` / `person.left` come per zone too (docs/cameras.md)"))

    @model_validator(mode="after")
    def _sub_stream_live(self) -> CameraConfig:
        if self.detect_url and not self.realtime:
            raise ValueError("detect_url: a sub-stream camera plays its two streams at their own speed; "
                             "set realtime = true (or leave detect_url empty)")
        return self

    @field_validator("zones")
    @classmethod
    def _zones(cls, zones: dict[str, list[tuple[float, float]]]) -> dict[str, list[tuple[float, float]]]:
        for name, points in zones.items():
            if not re.fullmatch(r"[A-Za-z0-9_. -]{1,64}", name):
                raise ValueError(f"zone {name!r}: a name of 1-64 letters, digits, spaces, dots, dashes or underscores")
            if len(points) < 3:
                raise ValueError(f"zone {name!r}: a polygon needs 3 vertices or more, it has {len(points)}")
            if not all(0.0 <= v <= 1.0 for point in points for v in point):
                raise ValueError(f"zone {name!r}: vertices are fractions of the frame, 0-1")
        return zones

    @field_validator("url", "detect_url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not url:
            return url
        scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", url)
        if scheme and scheme.group(1).lower() not in CAMERA_SCHEMES:
            raise ValueError(f"'{scheme.group(1)}:' is not a camera scheme; use {', '.join(CAMERA_SCHEMES)}://, "
                             "a video file path (./name if it holds a colon) or a device number")
        if "://" in url and not re.match(r"^(rtsps?|https?)://", url, re.IGNORECASE):  # e.g. FFmpeg's nested
            raise ValueError(f"'{url}' is not a camera URL: only {', '.join(CAMERA_SCHEMES)}:// URLs reach the "
                             "stream reader (a video file path, ./name if it holds a colon, or a device number)")
        return url


class UnknownsConfig(Strict):
    enabled: bool = Field(True, description=("Every track that ends unknown leaves a sighting (its best faces, "
                                             "camera, times) in the gallery file, clustered by person "
                                             "(`facetrack unknowns`)"))
    keep_named: bool = Field(False, description="Named tracks leave a sighting too")
    join_share: float = Field(
        0.8, gt=0.0, le=2.0,
        description=("A sighting joins the nearest cluster when their faces' mean distance is within this share of "
                     "the verification threshold, else starts one (docs/tuning.md)"),
    )
    recurring_visits: int = Field(
        3, ge=0, le=1000, description=("A `person.unknown_recurring` event fires (once per cluster) when an open "
                                       "cluster reaches this many visits; 0 = never")
    )
    visit_gap_minutes: float = Field(
        30.0, ge=0.0, le=10080.0, description="Sightings of a cluster closer together than this are one visit"
    )


class RetentionConfig(Strict):
    sightings_days: float = Field(
        30.0, ge=0.0, le=36500.0, description=("`facetrack run` erases sightings last seen longer ago (and "
                                               "clusters left empty); 0 = kept")
    )
    events_days: float = Field(
        30.0, ge=0.0, le=36500.0, description=("`facetrack run` trims Stream events made longer ago "
                                               "(besides `events.stream_maxlen`); 0 = kept")
    )


class TrackingConfig(Strict):
    max_age: float = Field(1.5, gt=0.0, le=60.0,
        description="Seconds a track survives without a face")
    reid_share: float = Field(
        0.5, ge=0.0, le=1.0, description=("A lost track is re-joined by a face within this share of the match "
                                          "threshold; a face that leaves its track goes to another open track "
                                          "only this close to it (else to a new track)")
    )
    unknown_interval: float = Field(
        0.5, ge=0.0, le=60.0, description=("Seconds before a track that matched no one is embedded again (then 2, 4 "
                                           "and 8 times it while it matches no one, unless its face improves; "
                                           "docs/tuning.md)")
    )
    cut_hard: float = Field(
        0.3, ge=0.0, le=1.0,
        description=("A change between analysed frames this large (0-1, in the hue-saturation histograms of the "
                     "picture's quarters) is a shot cut: every face is embedded; 0 = no cut detection "
                     "(docs/tuning.md)"),
    )


class PipelineConfig(Strict):
    batch_size: int = Field(8, ge=1, le=256,
        description="Model requests per batch, across cameras")
    detect_every: int = Field(1, ge=1, le=10,
        description="Detect on every k-th analysed frame, following tracks in between (1-10)")
    idle_detect_seconds: float = Field(2.0, ge=0.0, le=60.0, description=(
        "The activity gate: a camera with no open track detects only on a frame that changed, or at a glance (YuNet "
        "at 640 px) every this many seconds; 0 = no gate (docs/cameras.md)"))
    stall_seconds: float = Field(10.0, gt=0.0, le=600.0,
        description="A camera with no frame for this long is reopened")
    max_backoff: float = Field(30.0, gt=0.0, le=3600.0,
        description="Longest wait between reconnection attempts, seconds")
    status_interval: float = Field(5.0, gt=0.0, le=3600.0,
        description="Seconds between status lines")
    grace_seconds: float = Field(5.0, ge=0.0, le=600.0,
        description="On shutdown, how long the event buffer may drain")


class EventsConfig(Strict):
    prefix: str = Field("facetrack", pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="Redis keys: `<prefix>:events` (stream), `<prefix>:events:<camera>` (pub/sub)")
    stream_maxlen: int = Field(10000, ge=10, le=10_000_000,
        description="Events kept in the replay stream, about")
    crop_max_bytes: int = Field(20000, ge=0, le=1_000_000,
        description="Largest face-crop JPEG in an event; 0 = no crops")


class RedisConfig(Strict):
    url: str = Field("", description="`redis://` URL of an external server; empty = start the embedded one")
    data_dir: str = Field("data/redis", min_length=1,
        description="The embedded server's data folder; it listens on the unix socket `redis.sock` in it")
    port: int | None = Field(None, deprecated="ignored: the embedded server listens on no TCP port now", description=(
        "Deprecated and ignored: the embedded server listens on no TCP port now; remove it"))

    @field_validator("port")
    @classmethod
    def _port_ignored(cls, value: int | None) -> int | None:
        if value is not None:
            logger.warning("redis.port is ignored: the embedded Redis listens on the unix socket redis.sock in "
                           "redis.data_dir (its URL is in the log of facetrack run); remove redis.port")
        return value

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"'{value}' is not a redis://, rediss:// or unix:// URL")
        return value


class PresenceConfig(Strict):
    away_seconds: float = Field(60.0, ge=0.0, le=86400.0,
        description=("A person is away (`not_home` over MQTT) once no camera has had them in view for this long "
                     "(0-86400 s)"))


class MqttConfig(Strict):
    url: str = Field("", description=("The MQTT broker `facetrack mqtt` publishes to: `mqtt://host:1883`, or "
                                      "`mqtts://host:8883` for TLS; empty = no bridge"))
    username: str = Field("", description="Broker user name; empty = none")
    password: str = Field("", description=("Broker password (better in `FACETRACK__MQTT__PASSWORD` or "
                                           "`password_file`); never logged"))
    password_file: str = Field("", description="A file holding the broker password (used when `password` is empty)")
    ca_file: str = Field("", description="`mqtts://`: the CA certificate to trust; empty = the system's")
    topic_prefix: str = Field("facetrack", pattern=r"^[A-Za-z0-9_/-]{1,64}$",
        description=("Topics: `<prefix>/events`, `<prefix>/person/<id>/...`, `<prefix>/camera/<camera>/state`, "
                     "`<prefix>/bridge/status`"))
    discovery_prefix: str = Field("homeassistant", pattern=r"^[A-Za-z0-9_/-]{0,64}$",
        description="Home Assistant MQTT discovery topics' prefix; empty = no discovery")
    client_id: str = Field("facetrack-bridge", pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="MQTT client id")
    reviews: bool = Field(False, description=("Publish the reviews waiting for an answer, faces too (a Home Assistant "
                                              "device each), and take answers on `<prefix>/review/<id>/answer`: the "
                                              "broker's ACL decides who may answer"))

    @field_validator("url")
    @classmethod
    def _mqtt_url(cls, value: str) -> str:
        if value and not value.startswith(("mqtt://", "mqtts://")):
            raise ValueError(f"'{redact(value)}' is not an mqtt:// or mqtts:// URL")
        return value


class HttpConfig(Strict):
    host: str = Field("127.0.0.1", min_length=1,
        description="Address the HTTP server listens on")
    port: int = Field(8080, ge=0, le=65535,
        description="HTTP port (API, dashboard, metrics); 0 = no HTTP server")
    token: str = Field("", description=("Bearer token for changes (and for reads, off loopback); empty = the one "
                                        "kept in `http.token_file`"))
    token_file: str = Field("~/.config/facetrack/http-token", min_length=1,
                            description=("Where the token is kept when `http.token` is empty: made at the first "
                                         "run, mode 600; a file others can read is refused"))
    protect_all: bool = Field(False, description=("Require the token for reads on loopback too (off loopback "
                                                  "they always need it)"))
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description=("Host names this server answers to besides the loopback ones (behind a reverse proxy: every "
                     "read then needs the token); empty: a loopback server answers to loopback names only, any "
                     "other to any name"))
    max_upload_bytes: int = Field(10_000_000, ge=1000, le=1_000_000_000,
        description="Largest request body")
    max_image_pixels: int = Field(40_000_000, ge=10_000, le=1_000_000_000,
        description="Largest uploaded image, width x height")
    max_request_pixels: int = Field(100_000_000, ge=10_000, le=10_000_000_000,
                                    description=("An upload's images together, at most (decoded: 3 bytes a "
                                                 "pixel); the images past it are refused with the reason"))
    max_requests_per_second: float = Field(
        100.0, ge=0.0, le=100_000.0,
        description=("Requests a second per client address: a second's worth at once, more wait their turn, 429 past "
                     "2 s; `/health`, `/ready` never paced; 0 = no limit (docs/tuning.md)"))
    max_viewers: int = Field(50, ge=1, le=10_000,
                             description=("Live views and event WebSockets open at once, at most; more get 503 "
                                          "(each frame is drawn and encoded once for all viewers of a camera, "
                                          "off the event loop)"))
    blur_unknown: bool = Field(
        False, description=("Privacy: faces not (yet) named are blurred in the live view, in a track's crop over "
                            "HTTP and in event crops (a named track's carry its clear crop); sightings keep clear "
                            "faces")
    )
    camera_dirs: list[str] = Field(
        default_factory=list, description=("Folders whose video files `POST /api/cameras` may open; empty = none "
                                           "(cameras in the config file are not limited)")
    )


class WorkersConfig(Strict):
    enabled: bool = Field(False, description=("Share the cameras with the other workers of the same `redis.url` "
                                              "(docs/workers.md)"))
    worker_id: str = Field("", pattern=r"^[A-Za-z0-9_.:-]{0,64}$",
                           description="This worker's name among them; empty: host name and process id")
    failover_seconds: float = Field(5.0, ge=0.5, le=600.0,
                                    description=("A worker silent this long loses its cameras to the others; it says "
                                                 "it is alive 5 times in it"))


class Config(Strict):
    models: ModelsConfig = Field(default_factory=ModelsConfig,
        description="Face models")
    detector: DetectorConfig = Field(default_factory=DetectorConfig,
        description="Face detection")
    verify: VerifyConfig = Field(default_factory=VerifyConfig,
        description="Face verification")
    gallery: GalleryConfig = Field(default_factory=GalleryConfig,
        description="The enrolled identities")
    enroll: EnrollConfig = Field(default_factory=EnrollConfig,
        description="What enrollment accepts")
    match: MatchConfig = Field(default_factory=MatchConfig,
        description="Naming faces")
    redis: RedisConfig = Field(default_factory=RedisConfig,
        description="Where events go")
    cameras: list[CameraConfig] = Field(default_factory=list,
        description="The cameras facetrack run watches")
    tracking: TrackingConfig = Field(default_factory=TrackingConfig,
        description="Tracks and their identities")
    unknowns: UnknownsConfig = Field(default_factory=UnknownsConfig,
                                     description="Unknown people: the sightings of tracks and their clusters")
    retention: RetentionConfig = Field(default_factory=RetentionConfig,
        description="How long records are kept")
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig,
        description="The live pipeline")
    events: EventsConfig = Field(default_factory=EventsConfig,
        description="Identity events")
    http: HttpConfig = Field(default_factory=HttpConfig,
        description="The HTTP side")
    presence: PresenceConfig = Field(default_factory=PresenceConfig,
        description="Who is where, across the cameras (`GET /api/presence`, MQTT)")
    mqtt: MqttConfig = Field(default_factory=MqttConfig,
        description="The MQTT / Home Assistant bridge (`facetrack mqtt`)")
    workers: WorkersConfig = Field(default_factory=WorkersConfig,
        description="Several workers sharing the cameras")

    @field_validator("cameras")
    @classmethod
    def _unique_ids(cls, cameras: list[CameraConfig]) -> list[CameraConfig]:
        seen: set[str] = set()
        for camera in cameras:
            if camera.id in seen:
                raise ValueError(f"camera id '{camera.id}' is used twice")
            seen.add(camera.id)
        return cameras


def _apply_env(data: dict[str, Any], environ: dict[str, str]) -> None:
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = name[len(ENV_PREFIX) :].lower().split("__")
        node = data
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{name}: {'.'.join(keys)} is not a setting")
        try:
            node[keys[-1]] = json.loads(raw)
        except json.JSONDecodeError:
            node[keys[-1]] = raw


def _describe(error: ValidationError, source: str) -> str:
    lines = []
    for item in error.errors():
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in item["loc"]).lstrip(".")
        where = where or "(top level)"
        message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"{source}: {where}: {message}")
    return "\n".join(lines)


def _renamed(data: dict[str, Any], source: str) -> None:
    """Sections under their old names (``RENAMED``) are read as the new ones, with a warning, for one release."""
    for old, new in RENAMED.items():
        if old in data:
            logger.warning("%s: [%s] is now [%s] (and %s%s__* %s%s__*); the old name is read until the next "
                           "release", source, old, new, ENV_PREFIX, old.upper(), ENV_PREFIX, new.upper())
            moved = data.pop(old)
            data[new] = {**moved, **data[new]} if isinstance(moved, dict) and isinstance(data.get(new), dict) \
                else data.get(new, moved)


def _retired(data: dict[str, Any], source: str, environ: dict[str, str]) -> None:
    """Settings no longer settable (``RETIRED``) are dropped with a warning that names where it was set (the file,
    or the variable) and where its value lives now, for one release; after it they are unknown keys."""
    for key, where in RETIRED.items():
        section, name = key.split(".")
        values = data.get(section)
        if isinstance(values, dict) and name in values:
            del values[name]
            variable = f"{ENV_PREFIX}{section.upper()}__{name.upper()}"
            logger.warning("%s: %s is no longer a setting and is ignored (its value is fixed: %s, docs/tuning.md); "
                           "remove it: from the next release it is refused", variable if variable in environ else
                           source, key, where)


def parse_config(data: dict[str, Any], source: str, environ: dict[str, str] | None = None) -> Config:
    """Validate a parsed TOML document, after environment overrides, into a ``Config``."""
    data = json.loads(json.dumps(data))  # a deep copy the overrides may change
    environ = dict(os.environ) if environ is None else environ
    _apply_env(data, environ)
    _renamed(data, source)
    _retired(data, source, environ)
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_describe(error, source)) from None


def load_config(path: Path, environ: dict[str, str] | None = None) -> Config:
    """Read and validate ``path``; a missing file, bad TOML or bad value is a ``ConfigError`` naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found (pass --config FILE)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read config file: {error}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    return parse_config(data, str(path), environ)


def with_changes(config: Config, source: str, **sections: dict[str, Any] | list) -> Config:
    """``config`` with some settings replaced, validated like the file (errors name ``source``).

    Each keyword is a section: a dict updates that section's keys, a list (``cameras``) replaces it.
    """
    data = config.model_dump()
    for section, value in sections.items():
        if isinstance(value, dict):
            data[section].update(value)
        else:
            data[section] = value
    return parse_config(data, source, environ={})
