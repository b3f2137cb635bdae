"""Following a gallery that other processes change: every worker names with the gallery as it is now.

Each change to the people of a gallery (enroll, remove, rename, reject, import, re-embed) writes
which people changed into the gallery's change log in the same transaction
(``store.log_change``). ``GalleryWatcher`` is a thread with a connection of its own that reads
the log past the last entry it applied and hands each batch of changed people to
``Identifier.apply``, which re-reads only those people. PostgreSQL wakes it the moment a change
commits (``LISTEN``/``NOTIFY``); a SQLite file is read every ``interval`` seconds. Either way a
change reaches every running process within about a second. A change made in this process (the
HTTP API) is applied the same way, at once: ``catch_up`` runs the same pass on the caller's thread.
``facetrack run``'s retention pass trims the log to its last day (``GalleryStore.trim_changes``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from gallery.database import database_errors
from gallery.identify import Identifier
from gallery.store import GalleryStore
from tracker.errors import TrackerError

logger = logging.getLogger(__name__)


GAP_GRACE = 5.0  # seconds a change missing from the log may take to commit before a full re-read settles it


class GalleryWatcher:
    """Gap-proof: the log's ids are compared with what was applied. A log that no longer holds the last change
    applied as it was (trimmed past it, or emptied and numbered from 1 again, as SQLite does) means changes
    may hide below it: everything is read again. A gap in the ids (PostgreSQL: a transaction that took an id
    earlier but commits later, or one rolled back) is settled by reading everything again once it may have
    committed (``GAP_GRACE``). Any error in a pass is logged and the pass retried: the thread never dies."""

    def __init__(self, location: Path | str, identifier: Identifier, interval: float = 0.5,
                 applied: Callable[[set[int] | None], None] = lambda changed: None) -> None:
        self.location = location
        self.identifier = identifier
        self.interval = interval
        self.applied = applied  # told after each change is applied (metrics, logs)
        self.changes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gallery-watch", daemon=True)
        self._last: tuple[int, float | None] = (0, None)  # the last change applied: its id and time
        self._recheck_at: float | None = None  # a gap was seen: read everything again at this monotonic time
        self._passing = threading.Lock()  # one pass at a time: the thread's, or one ``catch_up`` asked for

    def start(self) -> GalleryWatcher:
        with GalleryStore(self.location) as store:  # what the identifier was loaded from is applied already
            self._last = self._newest(store)
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
                self.catch_up(store)
                store.wait_for_change(self.interval)
            except Exception as error:  # noqa: BLE001 - a watcher that dies leaves every camera naming the old gallery
                expected = isinstance(error, (TrackerError, *database_errors()))
                logger.warning("gallery watch: %s; trying again in 5 s", error, exc_info=not expected)
                if store is not None:
                    store.close()
                    store = None
                self._stop.wait(5.0)
        if store is not None:
            store.close()

    def catch_up(self, store: GalleryStore, settle: bool = False) -> None:
        """Apply every change the log holds now, reading it with ``store`` on the caller's thread. ``settle``: a
        change made here has committed (``facetrack serve``'s gallery routes) and must name from the next frame, by
        the path every change takes; when the log showed a gap not yet settled (a change that took an id before
        another's but may commit after it), everything is read again now too, not only after ``GAP_GRACE``."""
        with self._passing:
            self._follow(store)
            if settle and self._recheck_at is not None:
                self._apply(store, None, 0, "a change made here while a gap in the change log is open")

    @staticmethod
    def _newest(store: GalleryStore) -> tuple[int, float | None]:
        row = store.query("SELECT id, at FROM changes ORDER BY id DESC LIMIT 1")
        return (int(row[0][0]), float(row[0][1])) if row else (0, None)

    def _follow(self, store: GalleryStore) -> None:
        last, at = self._last
        kept = store.query("SELECT at FROM changes WHERE id = ?", (last,)) if at is not None else None
        if kept is not None and (not kept or float(kept[0][0]) != at):
            newest = self._newest(store)  # the log was trimmed past it or numbered again: read everything
            self._apply(store, None, 1, "the change log was reset")
            self._last = newest
            return
        rows = store.query("SELECT id, identity_id, at FROM changes WHERE id > ? ORDER BY id", (last,))
        if rows and (at is None or [r[0] for r in rows] != list(range(last + 1, last + 1 + len(rows)))):
            self._recheck_at = time.monotonic() + GAP_GRACE  # an id not (yet) in the log (or, first, none known)
        if rows:
            changed = None if any(r[1] is None for r in rows) else {int(r[1]) for r in rows}
            self._apply(store, changed, len(rows))
            self._last = (int(rows[-1][0]), float(rows[-1][2]))  # only once applied: a failed pass is tried again
        if self._recheck_at is not None and time.monotonic() >= self._recheck_at:
            self._recheck_at = None
            self._apply(store, None, 0, "a gap in the change log")

    def _apply(self, store: GalleryStore, changed: set[int] | None, rows: int, why: str = "") -> None:
        self.identifier.apply(store, changed)
        self.changes += rows
        logger.info("gallery changed (%s%s): %d people, %d faces now", "everyone" if changed is None else
                    f"{len(changed)} people", f", {why}" if why else "", len(self.identifier.view.names),
                    len(self.identifier.view.index))
        self.applied(changed)
