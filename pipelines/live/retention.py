"""Retention: while ``facetrack run`` runs, sightings older than ``retention.sightings_days`` are
erased from the gallery (and its change log trimmed to a day) and Stream events older than
``retention.events_days`` are trimmed, and erasures whose Stream sweep is pending (Redis was away when
the person was erased, or a worker has since tombstoned a track that carried them) are finished, at start, every
``EVERY_MINUTES`` and at once when a worker tombstones tracks (``soon``). Each pass is logged;
the totals are metrics. A pass that fails (the gallery locked, Redis away) is logged and tried again at the next one."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import redis

from gallery.store import GalleryStore
from gallery.unknowns import expire_sightings
from pipelines.events.erase import sweep_erased, trim_before
from tracker.config import Config
from tracker.errors import TrackerError

logger = logging.getLogger(__name__)
DAY = 86_400.0
EVERY_MINUTES = 60.0  # a pass this often, once at start, and at once after a tombstone (was retention.every_minutes)


class Retention:
    def __init__(self, config: Config, gallery: Path | str, redis_url: str) -> None:
        self.rules = config.retention
        self.prefix = config.events.prefix
        self.gallery = gallery
        self.redis_url = redis_url
        self.removed = {"sightings": 0, "events": 0}
        self.passes = 0
        self._soon = asyncio.Event()

    def soon(self) -> None:
        """Pass again now (on the event loop): tracks of erased people were tombstoned, their events are to go."""
        self._soon.set()

    async def run(self) -> None:
        while True:
            self._soon.clear()
            await asyncio.to_thread(self.apply)
            try:
                await asyncio.wait_for(self._soon.wait(), EVERY_MINUTES * 60)
            except TimeoutError:
                pass

    def apply(self, now: float | None = None) -> None:
        """One pass: what is past its age goes."""
        now = time.time() if now is None else now
        sightings = events = erased = 0
        try:
            with GalleryStore(self.gallery) as store:
                if self.rules.sightings_days:
                    sightings = expire_sightings(store, now - self.rules.sightings_days * DAY)
                store.trim_changes(now - DAY)  # the gallery's change log (gallery/watch.py) keeps a day
                client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=2, socket_timeout=10)
                try:
                    erased = sweep_erased(store, client, self.prefix)  # erasures whose Redis was away
                    if self.rules.events_days:
                        events = trim_before(client, self.prefix, now - self.rules.events_days * DAY)
                finally:
                    client.close()
        except (TrackerError, redis.RedisError) as error:
            logger.warning("retention: %s; trying again in %.0f min", error, EVERY_MINUTES)
        self.removed["sightings"] += sightings
        self.removed["events"] += events
        self.passes += 1
        logger.info("retention: %d sightings older than %g days erased, %d events older than %g days trimmed%s",
                    sightings, self.rules.sightings_days, events, self.rules.events_days,
                    f", {erased} events of erased people deleted" if erased else "")
