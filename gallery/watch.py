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
MAX_GAPS = 500  # skipped ids looked for at each pass (more wait for the full re-read)


class GalleryWatcher:
    """Gap-proof: the log's ids are compared with what was applied. A log that no longer holds the last change
    applied as it was (trimmed past it, or emptied and numbered from 1 again, as SQLite does) means changes
    may hide below it: everything is read again. A gap in the ids (PostgreSQL: a transaction that took an id
    earlier but commits later, or one rolled back) is looked up at each pass and applied once it has committed
    (``_late``); everything is read again once it may have (``GAP_GRACE``), for the ids that never come. Any error
    in a pass is logged and the pass retried: the thread never dies."""

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
        self._gaps: set[int] = set()  # ids skipped between rows applied: changes that may still commit
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

    def catch_up(self, store: GalleryStore) -> None:
        """Apply every change the log holds now, reading it with ``store`` on the caller's thread: a change made here
        (the HTTP API's gallery routes, under ``facetrack run``) names from the next frame, by the path every change
        takes (a change of an id skipped before, committed after a later one, included: ``_late``)."""
        with self._passing:
            self._follow(store)

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
        skipped = set()  # ids below the newest row and above the last applied not in the log (yet)
        if rows and at is not None:
            skipped = set(range(last + 1, int(rows[-1][0]))) - {int(r[0]) for r in rows}
        if rows and (at is None or skipped):  # (the first rows: nothing is known below them)
            self._recheck_at = time.monotonic() + GAP_GRACE
            self._gaps |= skipped
        if rows:
            self._apply(store, _people(rows), len(rows))
            self._last = (int(rows[-1][0]), float(rows[-1][2]))  # only once applied: a failed pass is tried again
        self._late(store)
        if self._recheck_at is not None and time.monotonic() >= self._recheck_at:
            self._recheck_at = None
            self._apply(store, None, 0, "a gap in the change log")
            self._gaps.clear()

    def _late(self, store: GalleryStore) -> None:
        """The changes whose ids were skipped (``_gaps``) that have committed since: applied now, person by person
        (an id rolled back never comes: the full re-read after ``GAP_GRACE`` settles it)."""
        if not self._gaps:
            return
        gaps = sorted(self._gaps)[:MAX_GAPS]
        rows = store.query(f"SELECT id, identity_id FROM changes WHERE id IN ({', '.join('?' * len(gaps))})",
                           tuple(gaps))
        if rows:
            self._apply(store, _people(rows), len(rows), "committed after a later change")
            self._gaps -= {int(r[0]) for r in rows}

    def _apply(self, store: GalleryStore, changed: set[int] | None, rows: int, why: str = "") -> None:
        self.identifier.apply(store, changed)
        self.changes += rows
        logger.info("gallery changed (%s%s): %d people, %d faces now", "everyone" if changed is None else
                    f"{len(changed)} people", f", {why}" if why else "", len(self.identifier.view.names),
                    len(self.identifier.view.index))
        self.applied(changed)


def _people(rows: list[tuple]) -> set[int] | None:
    """The people change-log rows ``(id, identity_id, ...)`` name; None: one of them is of anyone."""
    return None if any(r[1] is None for r in rows) else {int(r[1]) for r in rows}
