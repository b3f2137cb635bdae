"""Erasing from the event Stream: erased people (``sweep_erased``), and events past their age (``trim_before``).

A track's events run from its ``track.started`` to its ``track.ended`` (track ids restart with each run, so a track
is one such span of its camera, run and id; events of no track are judged one by one). A span with any event
naming an erased identity is erased whole, its early ``unknown`` events with their face crops included, and so
is every other event that carries the identity (``person.entered`` / ``person.left``); so are the spans of
the person's tracks from before they were named (the sightings of clusters named as them, matched by
camera, track id and time) and the ``person.unknown_recurring`` events of those clusters.
Pub/sub messages, once delivered, cannot be recalled.

The order, so that nothing of the person outlives the erasure: the gallery first (its rows go and a
tombstone, the bare identity id, stays: ``GalleryStore.erase``); every running worker ends the open
tracks that carried the person on its next frame, in silence (``CameraTracks.forget``: nothing of them
follows), and tombstones each of them in Redis (``<prefix>:erased-tracks``: camera, run and track id, which
every event of a track carries), so an event of such a track, named or not, is never written and every one already
written is erased whole, even when the event that named the person never reached the Stream; the identity id
goes into the Redis set ``<prefix>:erased``, which the publisher's script reads, so a
late event (held in a buffer, in flight on a frame, from a worker back from a partition) is dropped
rather than written; then the Stream is swept, and swept again once the workers
have had time to apply the change (a track tombstoned later is swept by the running ``facetrack run`` at once:
``Retention.soon``); then the Stream is written anew (``XDEL`` only marks entries deleted:
their bytes stay in the Stream's nodes, and so in any snapshot or rewrite); last, Redis rewrites its
append-only file, which still held the original writes, and its snapshot when it keeps one. A sweep that
cannot reach Redis leaves the tombstone pending: the next ``gallery erase`` or the retention pass of a
running ``facetrack run`` finishes it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path

import redis

from pipelines.events.publisher import entry_event, erased_key, stream_key, track_key, unswept_key
from pipelines.events.redis_server import EmbeddedRedis, embedded_url, serving

logger = logging.getLogger(__name__)
PAGE = 1000
SETTLE_SECONDS = 2.0  # a worker applies a gallery change within a second (gallery.watch)


def sweep_erased(store, client: redis.Redis, prefix: str, settle: float = SETTLE_SECONDS) -> int:
    """Finish every pending erasure of ``store`` (a ``GalleryStore``) and every tombstoned track not yet swept in
    the Stream of ``client``: tombstones into Redis, two sweeps ``settle`` seconds apart (the tracks the workers
    tombstone meanwhile included), the append-only file rewritten. Returns the entries deleted. Raises
    ``redis.RedisError`` when Redis cannot be reached (the erasures stay pending)."""
    pending = store.pending_erasures()
    if not pending and not client.scard(unswept_key(prefix)):
        return 0
    if pending:
        client.sadd(erased_key(prefix), *pending)
    tracks, clusters = store.erased_traces()
    deleted, unswept = 0, set()
    for round_ in range(2 if pending else 1):
        if round_ and settle:
            time.sleep(settle)
        unswept |= client.smembers(unswept_key(prefix))
        deleted += erase_identities(client, prefix, set(pending), tracks, set(clusters),
                                    {key.decode() for key in unswept})
    scrub_bridge_state(client, prefix, set(pending))
    rewrite_stream(client, prefix)  # always: a retry after a failed rewrite finds nothing left to delete
    rewrite_append_only_file(client)
    rewrite_snapshot(client)
    if unswept:  # only now: a rewrite that failed leaves them to the next sweep, which rewrites again
        client.srem(unswept_key(prefix), *unswept)
    store.swept(pending)
    return deleted


# KEYS: the MQTT bridge's saved state; ARGV: identity ids. The bridge's whereabouts without these people (the bridge
# clears them itself when it runs; a bridge stopped at the erasure would keep their names until it starts again).
SCRUB_BRIDGE_STATE = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local ok, state = pcall(cjson.decode, raw)
if not ok or type(state) ~= 'table' or type(state['presence']) ~= 'table' then return 0 end
local gone = {}
for _, id in ipairs(ARGV) do gone[tonumber(id)] = true end
local people, removed = {}, 0
for _, person in ipairs(state['presence']['people'] or {}) do
  if gone[tonumber(person['identity_id'])] then removed = removed + 1 else table.insert(people, person) end
end
if removed == 0 then return 0 end
state['presence']['people'] = people
for camera, ids in pairs(state['presence']['cameras'] or {}) do
  local kept = {}
  for _, id in ipairs(ids) do if not gone[tonumber(id)] then table.insert(kept, id) end end
  state['presence']['cameras'][camera] = kept
end
redis.call('SET', KEYS[1], cjson.encode(state))
return removed
"""


def bridge_state_key(prefix: str) -> str:
    """Where ``facetrack mqtt`` keeps its place in the Stream and who is where (``pipelines.mqtt.bridge``)."""
    return f"{prefix}:mqtt:bridge"


def scrub_bridge_state(client: redis.Redis, prefix: str, identity_ids: set[int]) -> int:
    """The erased people out of the MQTT bridge's saved state; returns how many were in it."""
    if not identity_ids:
        return 0
    return client.eval(SCRUB_BRIDGE_STATE, 1, bridge_state_key(prefix), *sorted(identity_ids))


def sweep_configured(config, store) -> int:
    """``sweep_erased`` on the configured Redis (``config``: a ``tracker.config.Config``): ``redis.url``, else the
    embedded server of a running ``facetrack run``, else that server's data, started for the purpose (nothing
    to sweep when it never kept any). Raises ``redis.RedisError`` when Redis cannot be reached."""
    url, server, data_dir = config.redis.url, None, Path(config.redis.data_dir).expanduser()
    if not url and serving(data_dir):  # a run's embedded server
        url = embedded_url(data_dir)
    elif not url:
        if not data_dir.is_dir():
            store.swept(store.pending_erasures())
            return 0  # no run ever kept events here
        server = EmbeddedRedis(data_dir).start()
        url = server.url
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)
    try:
        return sweep_erased(store, client, config.events.prefix)
    finally:
        client.close()
        if server:
            server.stop()


def erase_identities(client: redis.Redis, prefix: str, identity_ids: set[int],
                     tracks: Sequence[tuple[str, int, float, float]] = (), clusters: AbstractSet[int] = frozenset(),
                     tombstoned: AbstractSet[str] = frozenset()) -> int:
    """Delete the Stream entries about ``identity_ids``, the spans of ``tracks`` (their sightings from before
    they were named: camera, track id, first and last frame time), ``person.unknown_recurring`` of ``clusters``
    and every event of the ``tombstoned`` tracks (``track_key``); returns how many. An entry that is not an event
    (written by hand, damaged) is left alone and said once."""
    theirs = _judge(identity_ids, tracks, clusters, tombstoned)
    doomed: list[bytes] = []
    spans: dict[tuple, list] = {}  # (camera, run, track) -> [its entries so far, named as them]
    malformed = 0

    def close(key: tuple) -> None:
        entries, named = spans.pop(key, ([], False))
        if named:
            doomed.extend(entries)

    for entry_id, event in _stream_events(client, prefix):
        if event is None:
            malformed += 1
        elif event.get("track_id") is None:  # of no track (a person.left of a track ended in silence): alone
            if theirs(event):
                doomed.append(entry_id)
        else:
            key = (event.get("camera"), event.get("run"), event.get("track_id"))
            if event.get("type") == "track.started":
                close(key)  # the same id in an earlier run
            span = spans.setdefault(key, [[], False])
            span[0].append(entry_id)
            span[1] = span[1] or theirs(event)
            if event.get("type") == "track.ended" and not span[1]:
                spans.pop(key)
    for key in list(spans):  # person.left after a track ended, tracks still open or cut short by a crash
        close(key)
    for i in range(0, len(doomed), PAGE):
        client.xdel(stream_key(prefix), *doomed[i : i + PAGE])
    if malformed:
        logger.warning("erase: %d Stream entries are not facetrack events (no JSON 'event' field); left as they are",
                       malformed)
    return len(doomed)


def _judge(identity_ids: set[int], tracks: Sequence[tuple[str, int, float, float]], clusters: AbstractSet[int],
           tombstoned: AbstractSet[str]) -> Callable[[dict], bool]:
    """Whether an event is about the erased: by its identity or cluster, its tombstoned track, or its time within
    a sighting of theirs (a second either side)."""
    seen: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for camera, track_id, first, last in tracks:
        seen.setdefault((camera, track_id), []).append((first, last))

    def theirs(event: dict) -> bool:
        if event.get("identity_id") in identity_ids or event.get("cluster_id") in clusters:
            return True
        if tombstoned and track_key(event["camera"], event.get("run"), event.get("track_id")) in tombstoned:
            return True
        times = seen.get((event.get("camera"), event.get("track_id")), [])
        return any(first - 1.0 <= event.get("frame_time", -1.0) <= last + 1.0 for first, last in times)

    return theirs


def _stream_events(client: redis.Redis, prefix: str) -> Iterator[tuple[bytes, dict | None]]:
    """Every Stream entry, oldest first, a page at a time: its id and its event (None: not an event)."""
    start = "-"
    while True:
        page = client.xrange(stream_key(prefix), min=start, count=PAGE)
        for entry_id, fields in page:
            yield entry_id, entry_event(fields)
        if len(page) < PAGE:
            return
        start = "(" + page[-1][0].decode()


# KEYS: the Stream, a scratch key; ARGV: entries copied a page. The Stream written anew, entry by entry under the
# same ids, its last id kept: XDEL only marks an entry deleted, its bytes stay in the Stream's nodes (and so in
# the snapshot and the rewritten append-only file) until the whole node goes. One script: nothing comes between.
REWRITE_STREAM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local info, last = redis.call('XINFO', 'STREAM', KEYS[1]), nil
for i = 1, #info, 2 do if info[i] == 'last-generated-id' then last = info[i + 1] end end
redis.call('DEL', KEYS[2])
local start, copied = '-', 0
while true do
  local page = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', ARGV[1])
  for _, entry in ipairs(page) do
    redis.call('XADD', KEYS[2], entry[1], unpack(entry[2]))
    copied = copied + 1
  end
  if #page < tonumber(ARGV[1]) then break end
  start = '(' .. page[#page][1]
end
if copied == 0 then
  redis.call('XTRIM', KEYS[1], 'MAXLEN', 0)
else
  redis.call('RENAME', KEYS[2], KEYS[1])
  redis.call('XSETID', KEYS[1], last)
end
return copied
"""


def rewrite_stream(client: redis.Redis, prefix: str) -> int:
    """Write the Stream anew without its deleted entries' bytes (``REWRITE_STREAM``); returns the entries kept.
    Redis is busy for as long as it copies (1.5 s for 100,000 events of 2 kB, measured here): publishers hold events
    meanwhile."""
    return client.eval(REWRITE_STREAM, 2, stream_key(prefix), f"{stream_key(prefix)}:rewriting", PAGE)


def rewrite_append_only_file(client: redis.Redis, timeout: float = 60.0) -> None:
    """Have Redis rewrite its append-only file, which keeps every write as it was made (an erased person's
    events too) until rewritten; waits for it. A server without one, or that refuses (a managed Redis), is
    said in the log: its operator must rewrite it."""
    flags = ("aof_rewrite_in_progress", "aof_rewrite_scheduled")
    try:
        if client.config_get("appendonly").get("appendonly") != "yes":
            return
        _wait_persistence(client, flags, timeout)  # one running (another sweep's) may predate this one: after it
        client.bgrewriteaof()
    except redis.ResponseError as error:
        logger.warning("erase: Redis did not rewrite its append-only file (%s); it may still hold erased events "
                       "until its operator runs BGREWRITEAOF", error)
        return
    _wait_persistence(client, flags, timeout)


def rewrite_snapshot(client: redis.Redis, timeout: float = 60.0) -> None:
    """Have Redis write its snapshot (``dump.rdb``) again when it keeps one (``save`` is set: the embedded server
    keeps none), so that no snapshot still holds what was erased; waits for it. One that refuses is said in the
    log. (A snapshot left from a time snapshots were on cannot be seen from here: delete it.)"""
    try:
        if not client.config_get("save").get("save"):
            return
        client.bgsave()
    except redis.ResponseError as error:
        if "already in progress" not in str(error):  # one already running: it may predate the sweep, so wait, again
            logger.warning("erase: Redis did not write its snapshot again (%s); it may still hold erased events "
                           "until its operator runs BGSAVE", error)
            return
        _wait_persistence(client, ("rdb_bgsave_in_progress",), timeout)
        client.bgsave()
    _wait_persistence(client, ("rdb_bgsave_in_progress",), timeout)


def _wait_persistence(client: redis.Redis, flags: tuple[str, ...], timeout: float) -> None:
    """Wait until none of ``flags`` of Redis's persistence info is set (a rewrite or a save has ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = client.info("persistence")
        if not any(info.get(flag) for flag in flags):
            return
        time.sleep(0.05)
    logger.warning("erase: Redis's %s did not end within %.0f s", " / ".join(flags), timeout)


def trim_before(client: redis.Redis, prefix: str, before: float) -> int:
    """Trim the Stream's entries made before ``before`` (Unix seconds: entry ids are their times in ms)."""
    return client.xtrim(stream_key(prefix), minid=f"{int(before * 1000)}-0", approximate=False)
