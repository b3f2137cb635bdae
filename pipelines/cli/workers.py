"""``facetrack workers``: the workers sharing the cameras, as their Redis holds them."""

from __future__ import annotations

import datetime

import redis
import typer
from rich.table import Table

from pipelines.cli.console import DEFAULT_CONFIG, ConfigOption, out
from pipelines.live.workers import status
from tracker.config import load_config
from tracker.errors import TrackerError
from tracker.redact import redact

workers_app = typer.Typer(help="Several workers sharing the cameras.", no_args_is_help=True)


@workers_app.command("status")
def workers_status(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """The live workers (last heartbeat, their cameras) and who holds each camera of the registry."""
    settings = load_config(config)
    if not settings.redis.url:
        raise TrackerError("redis.url: the workers' shared Redis is not set")
    client = redis.Redis.from_url(settings.redis.url, socket_connect_timeout=2, socket_timeout=5)
    try:
        state = status(client, settings.events.prefix, settings.workers.failover_seconds)
    except redis.RedisError as error:
        raise TrackerError(f"redis: {redact(settings.redis.url)} unreachable ({error})") from None
    finally:
        client.close()
    workers = Table(title=f"workers ({redact(settings.redis.url)}, failover {settings.workers.failover_seconds:g} s)")
    for column in ("worker", "host", "pid", "last heartbeat", "age", "cameras"):
        workers.add_column(column)
    for w in state["workers"]:
        when = datetime.datetime.fromtimestamp(w["last_heartbeat"]).strftime("%H:%M:%S.%f")[:-3]
        workers.add_row(w["id"], str(w["host"]), str(w["pid"]), when, f"{w['age_seconds']:.1f} s",
                        ", ".join(w["cameras"]) or "-")
    out.print(workers)
    cameras = Table(title="cameras (registry)")
    cameras.add_column("camera")
    cameras.add_column("analysed by")
    for c in state["cameras"]:
        cameras.add_row(c["id"], c["worker"] or "nobody yet")
    out.print(cameras)
