"""The parts every entry point shares (``run``, ``serve``, ``bench``, the tests): the settings, the
gallery of the active model and the watcher that applies its changes, the model executor that owns
the face path, the metrics, and where Redis is. ``pipelines.app.build`` makes them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gallery.identify import Identifier
from gallery.watch import GalleryWatcher
from pipelines.live.executor import ModelExecutor
from pipelines.prometheus import Metrics
from tracker.config import Config


@dataclass(frozen=True)
class Services:
    config: Config
    gallery: Path | str  # the gallery file, or its PostgreSQL URL
    identifier: Identifier  # the gallery's faces of the active model, and the decision rule
    executor: ModelExecutor  # the one owner of the models
    metrics: Metrics
    redis_url: str | None  # None: no Redis (facetrack serve without redis.url)
    watcher: GalleryWatcher  # applies every change to the gallery, made here or by another process
