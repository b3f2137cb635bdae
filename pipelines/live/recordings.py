"""A folder of recordings as a camera (an NVR's clips, a phone's videos): ``cameras[].url`` names the folder.

``FolderReader`` plays each finished file (its size and modification time unchanged for ``STABLE_SECONDS``)
once, oldest first, through the same decoding as any video file, and waits for the next. Its frames carry the
recording's name and its start on the tracker's clock (``Frame.source``), so events say which file and where in
it (``video_file``, ``video_time``); one file starts ``GAP_SECONDS`` after the previous one ended, so no track
runs from one recording into the next. The files played are remembered in Redis (``Played``), so a restart
plays none of them again (one it stopped in is played again from its start); a file that cannot be decoded is
said once and skipped (and remembered too).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import av
import redis

from pipelines.live.media import open_input, reason, video_stream
from pipelines.live.sources import LIVE, CameraReader, Mailbox
from tracker.redact import redact

logger = logging.getLogger(__name__)
STABLE_SECONDS = 2.0  # a file unchanged this long (size and time) is finished
POLL_SECONDS = 1.0  # how often the folder is looked at while nothing is waiting
GAP_SECONDS = 60.0  # on the tracker's clock between recordings: longer than any track waits for its face
PARTIAL = (".part", ".partial", ".tmp", ".crdownload")  # names of files still being written


def is_folder(url: str) -> bool:
    """Whether a camera URL names a folder of recordings."""
    return "://" not in url and Path(url).expanduser().is_dir()


class Played:
    """The recordings of one folder camera played so far, by name, size and modification time: kept in a Redis
    hash (``key``), read once at start; while Redis is away, kept here and written when it is back."""

    def __init__(self, redis_url: str, key: str) -> None:
        self.key = key
        self._client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
        self._done: dict[str, str] = {}
        self._unsaved: dict[str, str] = {}
        try:
            self._done = {k.decode(): v.decode() for k, v in self._client.hgetall(key).items()}
        except redis.RedisError as error:
            logger.warning("recordings: cannot read which were played from Redis (%s); all are played again",
                           redact(str(error)))

    def __contains__(self, path: Path) -> bool:
        return self._done.get(path.name) == _stamp(path)

    def add(self, path: Path) -> None:
        self._done[path.name] = self._unsaved[path.name] = _stamp(path)
        try:
            self._client.hset(self.key, mapping=self._unsaved)
            self._unsaved.clear()
        except redis.RedisError as error:  # written with the next one
            logger.warning("recordings: cannot note in Redis that %s was played (%s)", path.name, redact(str(error)))

    def close(self) -> None:
        self._client.close()


def _stamp(path: Path) -> str:
    try:
        stat = path.stat()
    except OSError:
        return ""
    return f"{stat.st_size}:{stat.st_mtime_ns}"


class FolderReader(CameraReader):
    """Plays a folder's finished recordings, each once, oldest first, and waits for more; ``stop`` ends it."""

    def __init__(self, camera: str, folder: str, mailbox: Mailbox, played: Played, realtime: bool,
                 stall_seconds: float, rate: float = 0.0) -> None:
        super().__init__(camera, folder, mailbox, realtime, stall_seconds, max_backoff=1.0, rate=rate)
        self.folder = Path(folder).expanduser()
        self.played = played
        self._looks: dict[str, tuple[str, float]] = {}  # name -> (stamp, when first seen with it)
        self._start = 0.0  # where the next recording starts on the tracker's clock

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                path = self._next()
                if path is None:
                    self._set_state(LIVE)
                    self._halt.wait(POLL_SECONDS)
                    continue
                self._play(path)
                if not self._halt.is_set():
                    self.played.add(path)
        finally:
            self.played.close()
            self.mailbox.close()

    def _next(self) -> Path | None:
        """The oldest finished recording not played yet (None: none now)."""
        now, ready = time.monotonic(), []
        try:
            entries = [e for e in os.scandir(self.folder) if e.is_file() and not e.name.startswith(".")
                       and not e.name.endswith(PARTIAL)]
        except OSError as error:
            logger.warning("camera %s: cannot list %s (%s)", self.camera, self.folder, error)
            return None
        for entry in entries:
            path = Path(entry.path)
            stamp = _stamp(path)
            if path in self.played:
                continue
            seen = self._looks.get(entry.name)
            if seen is None or seen[0] != stamp:
                self._looks[entry.name] = (stamp, now)
            elif now - seen[1] >= STABLE_SECONDS:
                ready.append((entry.stat().st_mtime_ns, entry.name, path))
        return min(ready)[2] if ready else None

    def _play(self, path: Path) -> None:
        self._source, self._end, self._oversize = (path.name, self._start), 0.0, None
        try:
            container = open_input(str(path), self.stall_seconds)
            stream = video_stream(container)
        except (av.error.FFmpegError, OSError) as error:
            logger.warning("camera %s: recording %s cannot be decoded (%s); skipped", self.camera, path.name,
                           reason(error))
            return
        with container:
            self.url = str(path)  # (a file: paced or waited for as one)
            frames = self._read(container, stream)
        if self._halt.is_set():
            logger.info("camera %s: stopped in recording %s at frame %d; it is played again from the start next time",
                        self.camera, path.name, frames)
        elif not frames:
            logger.warning("camera %s: recording %s: no frame could be read (truncated or corrupt?); skipped",
                           self.camera, path.name)
        elif self._oversize:
            logger.warning("camera %s: recording %s: frames of %dx%d are over the limit; skipped", self.camera,
                           path.name, *self._oversize)
        else:
            logger.info("camera %s: recording %s played (%d frames)", self.camera, path.name, frames)
        self._start += self._end + GAP_SECONDS
