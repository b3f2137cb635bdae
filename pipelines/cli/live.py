"""The live side of the CLI: ``run`` (the tracker) and ``events`` (watch what it publishes)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from pipelines.cli.console import (
    DEFAULT_CONFIG,
    ConfigOption,
    GalleryOption,
    err,
    gallery_location,
    out,
    progress,
    write_json,
)
from pipelines.eval.bench import bench as run_bench
from pipelines.events.redis_server import embedded_url
from pipelines.events.subscriber import read_events
from tracker.config import Config, load_config, with_changes
from tracker.errors import TrackerError
from tracker.redact import redact


def _with_cameras(settings: Config, cameras: list[str]) -> Config:
    """``--camera ID=URL`` options replace the configured cameras (validated the same way)."""
    if not cameras:
        return settings
    bad = [c for c in cameras if "=" not in c]
    if bad:
        raise TrackerError(f"--camera {bad[0]}: expected ID=URL, e.g. door=rtsp://192.168.1.20/stream1")
    return with_changes(settings, "--camera",
                        cameras=[{"id": c.split("=", 1)[0], "url": c.split("=", 1)[1]} for c in cameras])


def run(
    gallery: GalleryOption = None,
    camera: Annotated[
        list[str] | None, typer.Option("--camera", help="ID=URL; replaces the configured cameras")
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Watch every camera and publish identity events to Redis until Ctrl-C (or every video file ended)."""
    from pipelines import app  # torch and the models: only the commands that need them pay for the import

    settings = _with_cameras(load_config(config), camera or [])
    try:
        runtime = app.run(settings, gallery_location(settings, gallery))
    except KeyboardInterrupt:  # before the pipeline started (it handles Ctrl-C itself once running)
        err.print("interrupted while starting")
        raise typer.Exit(130) from None
    for camera_id, s in runtime.status().cameras.items():
        err.print(f"camera {camera_id}: {s.frames_analysed} frames analysed, {s.faces} faces, {s.embedded} embedded, "
                  f"{s.tracks_started} tracks", highlight=False)


def serve(
    gallery: GalleryOption = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Serve the HTTP API and dashboard for the gallery alone (no cameras), until Ctrl-C."""
    from pipelines import app  # torch and the models: only the commands that need them pay for the import

    settings = load_config(config)
    if not settings.http.port:
        raise TrackerError("http.port is 0: facetrack serve needs a port")
    try:
        asyncio.run(app.serve(settings, gallery_location(settings, gallery)))
    except KeyboardInterrupt:
        pass


def events(
    camera: Annotated[str | None, typer.Option("--camera", help="Only this camera's events")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Replay the stream from this event stream id "
                                              "(0 = from the oldest kept), then follow")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One event per line as JSON")] = False,
    count: Annotated[int | None, typer.Option("--count", help="Stop after this many events")] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Print identity events as they are published (Ctrl-C to stop)."""
    settings = load_config(config)
    url = _events_url(settings)

    async def follow() -> None:
        seen = 0
        async for stream_id, event in read_events(url, settings.events.prefix, [camera] if camera else None, since,
                                                    waiting=_waiting):
            if as_json:
                out.print(json.dumps({"stream_id": stream_id, **event.model_dump(exclude={"crop_jpeg"})}),
                          highlight=False, markup=False)
            else:
                out.print(_line(stream_id, event), highlight=False)
            seen += 1
            if count and seen >= count:
                return

    try:
        asyncio.run(follow())
    except KeyboardInterrupt:
        pass


def mqtt(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Publish the identity events, presence, camera state and the reviews waiting for an answer to the MQTT
    broker at mqtt.url, with Home Assistant discovery, and take the answers (until Ctrl-C; a restart goes on from
    the last event published)."""
    from pipelines.mqtt.bridge import Bridge  # paho: for this command only
    from pipelines.mqtt.reviews import ReviewDesk  # (the same)
    from pipelines.signals import stop_on_signal  # (the same)

    settings = load_config(config)
    if not settings.mqtt.url:
        raise TrackerError("mqtt.url is empty: set it to the broker, e.g. mqtt://127.0.0.1:1883")
    desk = ReviewDesk(settings, gallery_location(settings, None)) if settings.mqtt.reviews else None
    bridge = Bridge(settings.mqtt, _events_url(settings), settings.events.prefix, settings.presence.away_seconds,
                    desk)

    async def serve_bridge() -> None:
        await bridge.run(stop_on_signal())

    asyncio.run(serve_bridge())


def _events_url(settings: Config) -> str:
    """The Redis that ``facetrack run`` publishes to, as another process reaches it."""
    return settings.redis.url or embedded_url(Path(settings.redis.data_dir).expanduser())


def _waiting(url: str, error: Exception) -> None:
    err.print(f"waiting for Redis at {redact(url)} ({escape(str(error))}); is facetrack run started?",
              highlight=False)


def _line(stream_id: str | None, event) -> str:
    clock = time.strftime("%H:%M:%S", time.localtime(event.frame_time))
    parts = [clock, f"[bold]{event.type:<17}[/bold]", f"{event.camera}", f"track {event.track_id}",
             escape(event.name)]
    if event.distance is not None:
        parts.append(f"distance {event.distance:.3f} margin {event.margin:.3f}")
    if event.dwell_seconds is not None:
        parts.append(f"dwell {event.dwell_seconds:.1f} s")
    if stream_id:
        parts.append(f"[dim]{stream_id}[/dim]")
    return "  ".join(parts)


def bench(
    video: Annotated[Path, typer.Option("--video", help="Video to run on")] = Path(
        "../shared/data/video/street_1080p.mp4"
    ),
    cameras: Annotated[int, typer.Option("--cameras", min=1, max=64, help="Parallel copies as cameras")] = 4,
    runs: Annotated[int, typer.Option("--runs", min=1, max=20, help="Runs per method; medians are quoted")] = 3,
    peers: Annotated[
        bool, typer.Option("--peers/--no-peers", help="Also run facenet-pytorch and face_recognition")
    ] = True,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the results as JSON here")] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Us and the peers on the same video, same machine, same run: fps, latency, CPU, memory, recall."""
    if not video.is_file():
        raise TrackerError(f"{video}: no such video")
    load_config(config)  # fail early on a bad config
    with progress() as bar:
        report = run_bench(video, cameras, runs, config, peers, bar)
    table = Table(title=f"{video.name}, {report['runs']} run(s) each, medians; {report['machine']}")
    columns = ("method", "fps per camera", "faces/s", "embeds/s", "latency p50 / p99 ms", "after 2 s: due / p50",
               "CPU cores", "peak MB", "faces", "tracks", "recall")
    for column in columns:
        table.add_column(column, justify="left" if column == "method" else "right", no_wrap=column == "method")
    for name, r in report["results"].items():
        n = int(name.rsplit("x", 1)[1])
        latency = f"{r['latency_p50_ms']:.0f} / {r['latency_p99_ms']:.0f}" if r.get("latency_p50_ms") else "-"
        embeds = f"{r['embedded'] / r['seconds']:.1f}" if "embedded" in r else "-"
        steady = f"{r['steady_share']:.0%} / {r['steady_latency_p50_ms']:.0f} ms" if r.get("steady_share") else "-"
        table.add_row(name, f"{r['fps'] / n:.2f}", f"{r['faces_per_second']:.1f}", embeds, latency, steady,
                      f"{r['cpu_cores']:.2f}",
                      f"{r['peak_memory_mb']:.0f}", str(int(r["faces"])), str(int(r["tracks"])) if "tracks" in r
                      else "-", f"{r['recall']:.3f}" if r["recall"] == r["recall"] and r["recall"] is not None
                      else "-")
    out.print(table)
    if report["reference_faces"] is not None:
        err.print(f"recall: share of {report['reference_faces']} faces found by at least two methods "
                  "(ours: faces of our tracks on each analysed frame)")
    if json_file:
        write_json(json_file, report)


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.command()(serve)
    app.command()(events)
    app.command()(mqtt)
    app.command()(bench)
