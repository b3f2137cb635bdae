"""The sightings writer: a thread that puts the live pipeline's sightings into the gallery file.

Cameras hand sightings over without waiting (``put``); the thread opens its own connection to
the gallery and stores each one and its cluster (``gallery.unknowns.Unknowns.add``). When an
open cluster reaches ``unknowns.recurring_visits`` visits, a ``person.unknown_recurring`` event
is handed to ``announce`` (once per cluster). A write the gallery cannot take now (locked by another
writer, a full disk, the PostgreSQL server restarting or away) is retried with the same sighting, on a
new connection, with a growing pause: nothing is lost while the queue has room. A sighting the gallery
refuses for itself is logged, counted and left out. The cameras and their events go on untouched
either way, and a full queue drops the newest sighting and counts it. The thread never dies of an
error: an unexpected one is logged with its traceback and the thread goes on.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gallery.database import GalleryUnavailable, database_errors
from gallery.store import GalleryStore
from gallery.unknowns import OPEN, Unknowns
from tracker.config import Config
from tracker.errors import TrackerError
from tracker.events import Event
from tracker.images import blur, jpeg_base64
from tracker.track.sighting import Sighting

logger = logging.getLogger(__name__)
RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 10.0
SENTINEL = None  # put by ``stop``: write what is queued, then end


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
        self.written = self.failed = self.dropped = self.retries = 0
        self.retrying = False
        self._stopping = threading.Event()
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
        """Write what is queued, then end (at once if the gallery cannot take them)."""
        self._stopping.set()
        self._queue.put(SENTINEL)
        self._thread.join(timeout)

    def _run(self) -> None:
        pending: Sighting | None = None  # taken from the queue, not yet stored
        pause = RETRY_SECONDS
        while True:
            try:
                with GalleryStore(self.gallery, create=False) as store:
                    unknowns = Unknowns(store, self.model_id, self.join_distance)
                    while True:
                        pending = pending or self._queue.get()
                        if pending is SENTINEL:
                            return
                        self._store(unknowns, pending)
                        pending = None
                        if self.retrying:
                            logger.info("sightings: the gallery takes sightings again")
                            self.retrying, pause = False, RETRY_SECONDS
            except (GalleryUnavailable, *database_errors()) as error:  # now, not for good: the same one again
                if not self._wait(error, pause):
                    return
                pause = min(pause * 2, MAX_RETRY_SECONDS)
            except Exception:
                logger.exception("sightings: unexpected error; going on with the next sighting")
                pending = None
                time.sleep(RETRY_SECONDS)

    def _store(self, unknowns: Unknowns, sighting: Sighting) -> None:
        try:
            cluster_id = unknowns.add(sighting)
        except GalleryUnavailable:
            raise
        except TrackerError as error:  # this sighting, not the gallery: left out
            self.failed += 1
            if self.failed == 1 or self.failed % 100 == 0:
                logger.warning("sightings: %s (%d not stored so far; events are not affected)", error, self.failed)
            return
        self.written += 1
        self._recurring(unknowns, cluster_id, sighting)

    def _wait(self, error: Exception, pause: float) -> bool:
        """Pause before the next try; False when the writer is stopping (what is held is then given up)."""
        if self._stopping.is_set():
            left = self._queue.qsize()  # the sentinel among them
            logger.warning("sightings: %d not stored: the gallery could not take them before the stop (%s)", left,
                           str(error).strip().splitlines()[0])
            return False
        if not self.retrying:
            logger.warning("sightings: the gallery cannot take them now (%s); holding them (queue of %d) and "
                           "retrying", str(error).strip().splitlines()[0], self._queue.maxsize)
        self.retrying = True
        self.retries += 1
        self._stopping.wait(pause)
        return True

    def _recurring(self, unknowns: Unknowns, cluster_id: int, sighting: Sighting) -> None:
        rules = self.config.unknowns
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
