"""A folder of recordings as a camera (an NVR's clips, a phone's videos): ``cameras[].url`` names the folder.

``FolderReader`` plays each finished file in the folder (its top level: not sub-folders) once, oldest first,
through the same decoding as any video file, and waits for the next. A file is finished when its size and
modification time did not change between two looks and it was last modified at least ``STABLE_SECONDS`` ago. Its
frames carry the recording's name and its start on the tracker's clock (``Frame.source``), so events say which
file and where in it (``video_file``, ``video_time``); the camera's loop ends every track when a recording ends
or the next begins, so no track runs from one into the next. The files played are remembered in Redis
(``Played``, read in the reader's thread before the first file), so a restart plays none of them again (one it
was stopped in is played again from its start); a file that cannot be decoded is said once and skipped, and a
name that is not printable UTF-8 is said once and left alone.
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
STABLE_SECONDS = 10.0  # a file unchanged between two looks and last modified this long ago is finished
POLL_SECONDS = 1.0  # how often the folder is looked at while nothing is waiting
RETRY_SECONDS = 2.0  # Redis away at the start: asked again this often
GAP_SECONDS = 60.0  # on the tracker's clock between recordings
PARTIAL = (".part", ".partial", ".tmp", ".crdownload")  # names of files still being written


def is_folder(url: str) -> bool:
    """Whether a camera URL names a folder of recordings."""
    return "://" not in url and Path(url).expanduser().is_dir()


def _usable(name: str) -> bool:
    """A name that can go into an event, a log line and Redis: printable UTF-8."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # bytes the file system could not decode (kept as surrogates)
        return False
    return name.isprintable()


class Played:
    """The recordings of one folder camera played so far, by name, size and modification time: a Redis hash
    (``key``), read by ``load`` in the reader's thread; a mark that Redis refuses is written with the next one."""

    def __init__(self, redis_url: str, key: str) -> None:
        self.key = key
        self._client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
        self._done: dict[str, str] = {}
        self._unsaved: dict[str, str] = {}

    def load(self) -> bool:
        """Read what was played; False when Redis cannot say now (nothing may be played until it can)."""
        try:
            self._done = {k.decode(): v.decode() for k, v in self._client.hgetall(self.key).items()}
        except redis.RedisError as error:
            logger.warning("recordings: waiting for Redis to know which recordings were played (%s)",
                           redact(str(error)))
            return False
        return True

    def has(self, name: str, stamp: str) -> bool:
        return self._done.get(name) == stamp

    def add(self, name: str, stamp: str) -> None:
        self._done[name] = self._unsaved[name] = stamp
        try:
            self._client.hset(self.key, mapping=self._unsaved)
            self._unsaved.clear()
        except redis.RedisError as error:  # written with the next one
            logger.warning("recordings: cannot note in Redis that %s was played (%s)", name, redact(str(error)))

    def close(self) -> None:
        self._client.close()


def _stamp(entry: os.DirEntry) -> tuple[str, float] | None:
    """A file's size and modification time, as ``Played`` keeps them, and its modification time (None: gone)."""
    try:
        stat = entry.stat()
    except OSError:
        return None
    return f"{stat.st_size}:{stat.st_mtime_ns}", stat.st_mtime


class FolderReader(CameraReader):
    """Plays a folder's finished recordings, each once, oldest first, and waits for more; ``stop`` ends it."""

    def __init__(self, camera: str, folder: str, mailbox: Mailbox, played: Played, realtime: bool,
                 stall_seconds: float, rate: float = 0.0) -> None:
        super().__init__(camera, folder, mailbox, realtime, stall_seconds, max_backoff=1.0, rate=rate)
        self.folder = Path(folder).expanduser()
        self.played = played
        self._looks: dict[str, str] = {}  # name -> its stamp at the last look
        self._said: set[str] = set()  # names said once (unusable), and the folder's listing problem
        self._start = 0.0  # where the next recording starts on the tracker's clock

    def run(self) -> None:
        try:
            while not self.played.load():
                if self._halt.wait(RETRY_SECONDS):
                    return
            while not self._halt.is_set():
                chosen = self._next()
                if chosen is None:
                    self._set_state(LIVE)
                    self._halt.wait(POLL_SECONDS)
                    continue
                path, stamp = chosen
                self._play(path)
                if not self._halt.is_set():
                    self.played.add(path.name, stamp)
        finally:
            self.played.close()
            self.mailbox.close()

    def _next(self) -> tuple[Path, str] | None:
        """The oldest finished recording not played yet, and its stamp (None: none now)."""
        ready = []
        try:
            entries = [e for e in os.scandir(self.folder) if e.is_file() and not e.name.startswith(".")
                       and not e.name.endswith(PARTIAL)]
        except OSError as error:
            self._say("folder", "camera %s: cannot list %s (%s)", self.camera, self.folder, error)
            return None
        self._said.discard("folder")
        for entry in entries:
            if not _usable(entry.name):
                self._say(entry.name, "camera %s: a recording whose name is not printable UTF-8 is left alone (%r)",
                          self.camera, entry.name)
                continue
            found = _stamp(entry)
            if found is None or self.played.has(entry.name, found[0]):
                continue
            stamp, modified = found
            if self._looks.get(entry.name) != stamp:
                self._looks[entry.name] = stamp
            elif time.time() - modified >= STABLE_SECONDS:  # unchanged since the last look, and not touched lately
                ready.append((modified, entry.name, stamp))
        if not ready:
            return None
        _, name, stamp = min(ready)
        del self._looks[name]
        return self.folder / name, stamp

    def _say(self, key: str, message: str, *args) -> None:
        if key not in self._said:
            self._said.add(key)
            logger.warning(message, *args)

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
