"""Erasing from the event Stream: a person (``erase_identity``), and events past their age (``trim_before``).

``erase_identity`` deletes every event of every track that was ever named as the person.

A track's events run from its ``track.started`` to its ``track.ended`` (track ids restart with
each run, so a track is one such span of its camera and id). A span with any event naming the
identity is erased whole, its early ``unknown`` events with their face crops included, and so
is every other event that carries the identity (``person.entered`` / ``person.left``).
Pub/sub messages, once delivered, cannot be recalled.
"""

from __future__ import annotations

import json

import redis

from pipelines.events.publisher import stream_key

PAGE = 1000


def erase_identity(client: redis.Redis, prefix: str, identity_id: int) -> int:
    """Delete the Stream entries about ``identity_id``; returns how many."""
    doomed: list[bytes] = []
    spans: dict[tuple[str, int | None], list] = {}  # (camera, track) -> [its entries so far, named as them]

    def close(key: tuple[str, int | None]) -> None:
        entries, named = spans.pop(key, ([], False))
        if named:
            doomed.extend(entries)

    start = "-"
    while True:
        page = client.xrange(stream_key(prefix), min=start, count=PAGE)
        for entry_id, fields in page:
            event = json.loads(fields[b"event"])
            key = (event["camera"], event.get("track_id"))
            if event["type"] == "track.started":
                close(key)  # the same id in an earlier run
            span = spans.setdefault(key, [[], False])
            span[0].append(entry_id)
            span[1] = span[1] or event.get("identity_id") == identity_id
            if event["type"] == "track.ended" and not span[1]:
                spans.pop(key)
        if len(page) < PAGE:
            break
        start = "(" + page[-1][0].decode()
    for key in list(spans):  # person.left after a track ended, tracks still open or cut short by a crash
        close(key)
    for i in range(0, len(doomed), PAGE):
        client.xdel(stream_key(prefix), *doomed[i : i + PAGE])
    return len(doomed)


def trim_before(client: redis.Redis, prefix: str, before: float) -> int:
    """Trim the Stream's entries made before ``before`` (Unix seconds: entry ids are their times in ms)."""
    return client.xtrim(stream_key(prefix), minid=f"{int(before * 1000)}-0", approximate=False)
