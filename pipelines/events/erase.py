"""Erasing from the event Stream: erased people (``sweep_erased``), and events past their age (``trim_before``).

A track's events run from its ``track.started`` to its ``track.ended`` (track ids restart with
each run, so a track is one such span of its camera and id). A span with any event naming an
erased identity is erased whole, its early ``unknown`` events with their face crops included, and so
is every other event that carries the identity (``person.entered`` / ``person.left``); so are the spans of
the person's tracks from before they were named (the sightings of clusters named as them, matched by
camera, track id and time) and the ``person.unknown_recurring`` events of those clusters.
Pub/sub messages, once delivered, cannot be recalled.

The order, so that nothing of the person outlives the erasure: the gallery first (its rows go and a
tombstone, the bare identity id, stays: ``GalleryStore.erase``); every running worker ends the open
tracks that carried the person on its next frame, in silence (``CameraTracks.erase``: nothing of them
follows); the id goes into the Redis set ``<prefix>:erased``, which the publisher's script reads, so a
late event (held in a buffer, in flight on a frame, from a worker back from a partition) is dropped
rather than written; then the Stream is swept, and swept again once the workers
have had time to apply the change; last, Redis rewrites its append-only file, which still held the
original writes. A sweep that cannot reach Redis leaves the tombstone pending: the next ``gallery erase``
or the retention pass of a running ``facetrack run`` finishes it.
"""

from __future__ import annotations

import logging
import time

import redis

from pipelines.events.publisher import entry_event, erased_key, stream_key

logger = logging.getLogger(__name__)
PAGE = 1000
SETTLE_SECONDS = 2.0  # a worker applies a gallery change within a second (gallery.watch)


def sweep_erased(store, client: redis.Redis, prefix: str, settle: float = SETTLE_SECONDS) -> int:
    """Finish every pending erasure of ``store`` (a ``GalleryStore``) in the Stream of ``client``: tombstones
    into Redis, two sweeps ``settle`` seconds apart, the append-only file rewritten. Returns the entries
    deleted. Raises ``redis.RedisError`` when Redis cannot be reached (the erasures stay pending)."""
    pending = store.pending_erasures()
    if not pending:
        return 0
    client.sadd(erased_key(prefix), *pending)
    tracks, clusters = store.erased_traces()
    deleted = erase_identities(client, prefix, set(pending), tracks, set(clusters))
    if settle:
        time.sleep(settle)
    deleted += erase_identities(client, prefix, set(pending), tracks, set(clusters))
    rewrite_append_only_file(client)
    store.swept(pending)
    return deleted


def erase_identities(client: redis.Redis, prefix: str, identity_ids: set[int],
                     tracks: list[tuple[str, int, float, float]] = (), clusters: set[int] = frozenset()) -> int:
    """Delete the Stream entries about ``identity_ids``, and the spans of ``tracks`` (their sightings from before
    they were named: camera, track id, first and last frame time) and ``person.unknown_recurring`` of
    ``clusters``; returns how many. An entry that is not an event (written by hand, damaged) is left alone and
    said once."""
    seen: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for camera, track_id, first, last in tracks:
        seen.setdefault((camera, track_id), []).append((first, last))

    def theirs(event: dict) -> bool:
        if event.get("identity_id") in identity_ids or event.get("cluster_id") in clusters:
            return True
        times = seen.get((event.get("camera"), event.get("track_id")), ())
        return any(first - 1.0 <= event.get("frame_time", -1.0) <= last + 1.0 for first, last in times)

    doomed: list[bytes] = []
    spans: dict[tuple[str, int | None], list] = {}  # (camera, track) -> [its entries so far, named as them]
    malformed = 0

    def close(key: tuple[str, int | None]) -> None:
        entries, named = spans.pop(key, ([], False))
        if named:
            doomed.extend(entries)

    start = "-"
    while True:
        page = client.xrange(stream_key(prefix), min=start, count=PAGE)
        for entry_id, fields in page:
            event = entry_event(fields)
            if event is None:
                malformed += 1
                continue
            key = (event.get("camera"), event.get("track_id"))
            if event.get("type") == "track.started":
                close(key)  # the same id in an earlier run
            span = spans.setdefault(key, [[], False])
            span[0].append(entry_id)
            span[1] = span[1] or theirs(event)
            if event.get("type") == "track.ended" and not span[1]:
                spans.pop(key)
        if len(page) < PAGE:
            break
        start = "(" + page[-1][0].decode()
    for key in list(spans):  # person.left after a track ended, tracks still open or cut short by a crash
        close(key)
    for i in range(0, len(doomed), PAGE):
        client.xdel(stream_key(prefix), *doomed[i : i + PAGE])
    if malformed:
        logger.warning("erase: %d Stream entries are not facetrack events (no JSON 'event' field); left as they are",
                       malformed)
    return len(doomed)


def rewrite_append_only_file(client: redis.Redis, timeout: float = 60.0) -> None:
    """Have Redis rewrite its append-only file, which keeps every write as it was made (an erased person's
    events too) until rewritten; waits for it. A server without one, or that refuses (a managed Redis), is
    said in the log: its operator must rewrite it."""
    try:
        if client.config_get("appendonly").get("appendonly") != "yes":
            return
        client.bgrewriteaof()
    except redis.ResponseError as error:
        logger.warning("erase: Redis did not rewrite its append-only file (%s); it may still hold erased events "
                       "until its operator runs BGREWRITEAOF", error)
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = client.info("persistence")
        if not info.get("aof_rewrite_in_progress") and not info.get("aof_rewrite_scheduled"):
            return
        time.sleep(0.05)
    logger.warning("erase: Redis's append-only file rewrite did not finish within %.0f s", timeout)


def trim_before(client: redis.Redis, prefix: str, before: float) -> int:
    """Trim the Stream's entries made before ``before`` (Unix seconds: entry ids are their times in ms)."""
    return client.xtrim(stream_key(prefix), minid=f"{int(before * 1000)}-0", approximate=False)
