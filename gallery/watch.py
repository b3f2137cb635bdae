"""Following a gallery that other processes change: every worker names with the gallery as it is now.

Each change to the people of a gallery (enroll, remove, rename, reject, import, re-embed) writes
which people changed into the gallery's change log in the same transaction
(``store.log_change``). ``GalleryWatcher`` is a thread with a connection of its own that reads
the log past the last entry it applied and hands each batch of changed people to
``Identifier.apply``, which re-reads only those people. PostgreSQL wakes it the moment a change
commits (``LISTEN``/``NOTIFY``); a SQLite file is read every ``interval`` seconds. Either way a
change reaches every running process within about a second. ``facetrack run``'s retention pass
trims the log to its last day (``GalleryStore.trim_changes``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from gallery.database import database_errors
from gallery.identify import Identifier
from gallery.store import GalleryStore
from tracker.errors import TrackerError

logger = logging.getLogger(__name__)


class GalleryWatcher:
    def __init__(self, location: Path | str, identifier: Identifier, interval: float = 0.5,
                 applied: Callable[[set[int] | None], None] = lambda changed: None) -> None:
        self.location = location
        self.identifier = identifier
        self.interval = interval
        self.applied = applied  # told after each change is applied (metrics, logs)
        self.changes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gallery-watch", daemon=True)
        self._last: int | None = None

    def start(self) -> GalleryWatcher:
        with GalleryStore(self.location) as store:  # what the identifier was loaded from is applied already
            self._last = store.query("SELECT COALESCE(MAX(id), 0) FROM changes")[0][0]
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        store = None
        while not self._stop.is_set():
            try:
                if store is None:
                    store = GalleryStore(self.location)
                self._follow(store)
                store.wait_for_change(self.interval)
            except (TrackerError, *database_errors()) as error:
                logger.warning("gallery watch: %s; trying again in 5 s", error)
                if store is not None:
                    store.close()
                    store = None
                self._stop.wait(5.0)
        if store is not None:
            store.close()

    def _follow(self, store: GalleryStore) -> None:
        rows = store.query("SELECT id, identity_id FROM changes WHERE id > ? ORDER BY id", (self._last,))
        if not rows:
            return
        changed = None if any(r[1] is None for r in rows) else {int(r[1]) for r in rows}
        self.identifier.apply(store, changed)
        self._last = rows[-1][0]
        self.changes += len(rows)
        logger.info("gallery changed (%s): %d people, %d faces now", "everyone" if changed is None else
                    f"{len(changed)} people", len(self.identifier.names), len(self.identifier.index))
        self.applied(changed)
