"""The sightings writer: a thread that puts the live pipeline's sightings into the gallery file.

Cameras hand sightings over without waiting (``put``); the thread opens its own connection to
the gallery and stores each one and its cluster (``gallery.sightings.Unknowns.add``). When an
open cluster reaches ``sightings.recurring_visits`` visits, a ``person.unknown_recurring`` event
is handed to ``announce`` (once per cluster). A write that fails (the gallery locked by another
writer, a full disk) is logged and counted, and the cameras and their events go on untouched.
A full queue drops the newest sighting and counts it.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gallery.database import database_errors
from gallery.sightings import OPEN, Unknowns
from gallery.store import GalleryStore
from tracker.config import Config
from tracker.errors import TrackerError
from tracker.events import Event
from tracker.images import blur, jpeg_base64
from tracker.track.sighting import Sighting

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SightingsStatus:
    written: int
    failed: int  # the gallery refused the write (locked, disk full, ...)
    dropped: int  # the queue was full


class SightingWriter:
    def __init__(self, gallery: Path | str, model_id: str, join_distance: float, config: Config,
                 queue_size: int = 1000) -> None:
        self.gallery = gallery
        self.model_id = model_id
        self.join_distance = join_distance
        self.config = config
        self.announce: Callable[[Event], None] | None = None  # set by the runtime: hands an event to its loop
        self.written = self.failed = self.dropped = 0
        self._queue: queue.Queue[Sighting | None] = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._run, name="sightings", daemon=True)

    def start(self) -> SightingWriter:
        self._thread.start()
        return self

    def status(self) -> SightingsStatus:
        return SightingsStatus(self.written, self.failed, self.dropped)

    def put(self, sighting: Sighting) -> None:
        try:
            self._queue.put_nowait(sighting)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                logger.warning("sightings: the writer is behind; %d sightings dropped so far", self.dropped)

    def stop(self, timeout: float = 30.0) -> None:
        """Write what is queued, then end."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        with GalleryStore(self.gallery) as store:
            unknowns = Unknowns(store, self.model_id, self.join_distance)
            while (sighting := self._queue.get()) is not None:
                try:
                    cluster_id = unknowns.add(sighting)
                    self.written += 1
                    self._recurring(unknowns, cluster_id, sighting)
                except (TrackerError, *database_errors()) as error:
                    self.failed += 1
                    if self.failed == 1 or self.failed % 100 == 0:
                        logger.warning("sightings: %s (%d not stored so far; events are not affected)", error,
                                       self.failed)

    def _recurring(self, unknowns: Unknowns, cluster_id: int, sighting: Sighting) -> None:
        rules = self.config.sightings
        if self.announce is None or not rules.recurring_visits or unknowns.cluster(cluster_id).status != OPEN:
            return
        visits = unknowns.visits(cluster_id, rules.visit_gap_minutes * 60)
        if visits < rules.recurring_visits or not unknowns.announce(cluster_id):
            return
        face = sighting.faces[0].crop
        crop_bytes = self.config.events.crop_max_bytes
        crop = jpeg_base64(blur(face) if self.config.http.blur_unknown else face, crop_bytes) if crop_bytes else None
        self.announce(Event(type="person.unknown_recurring", camera=sighting.camera, track_id=sighting.track_id,
                            frame_time=sighting.last_time, model_id=sighting.model_id, crop_jpeg=crop,
                            cluster_id=cluster_id, visits=visits))
