"""Camera sources: one decode thread per camera hands the newest frame to the event loop.

The thread demuxes and decodes with PyAV (``media.py``: the one way a camera URL is opened, for
the analysed stream here and a sub-stream camera's main stream in ``mainstream.py``); a frame due
for analysis is handed on as decoded, with the grey thumbnail of its luma for the activity gate
(the camera's loop converts it to RGB, off the event loop, only when it detects on it); the others are
decoded (a video codec needs them) and skipped, as are a live stream's frames read while it was opened
(stale, their clock not yet learnt: ``media.StreamClock.settled``).

A reader writes into a one-slot mailbox: the newest frame wins and a frame nobody took is
dropped and counted, so latency never builds up. A file played "as fast as possible" waits
for the slot instead (every frame is analysed). A camera that fails or stalls is reopened
with exponential backoff; its state (connecting, live, stalled, failed, ended) is logged
once per change.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import av
import av.container
import numpy as np

from pipelines.live.media import (
    MAX_FRAME_PIXELS,
    StreamClock,
    is_file,
    luma,
    open_input,
    packets,
    reason,
    video_stream,
)
from tracker.redact import redact
from tracker.track.activity import thumbnail

logger = logging.getLogger(__name__)

CONNECTING, LIVE, STALLED, FAILED, ENDED = "connecting", "live", "stalled", "failed", "ended"


@dataclass(frozen=True)
class Frame:
    """A due frame as the reader hands it on: decoded, converted to RGB only when someone asks (``rgb``)."""

    camera: str
    number: int
    time: float  # capture time, Unix seconds
    picture: av.VideoFrame | np.ndarray  # as decoded (or already RGB uint8)
    video_time: float  # the tracker's clock: seconds into a video file (frame number / fps); for a live source,
    # the monotonic clock at capture (differences only: it never steps when the wall clock is set)
    thumb: np.ndarray | None = None  # the activity gate's grey thumbnail (tracker.track.activity), made by the reader
    source: tuple[str, float] | None = None  # a folder camera's: the recording's name, and where it starts on the
    # tracker's clock (its frames' position in it is ``video_time`` less that)

    def rgb(self) -> np.ndarray:
        """The frame as RGB uint8 (h, w, 3): a conversion of a 1080p frame costs milliseconds, so never on the
        event loop (a quiet camera's frames that the activity gate leaves are never converted)."""
        if isinstance(self.picture, np.ndarray):
            return self.picture
        return self.picture.to_ndarray(format="rgb24")

    @property
    def size(self) -> tuple[int, int]:
        """Width and height, pixels."""
        if isinstance(self.picture, np.ndarray):
            return self.picture.shape[1], self.picture.shape[0]
        return self.picture.width, self.picture.height


class Mailbox:
    """One slot between a reader thread and the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._frame: Frame | None = None
        self._ready = asyncio.Event()
        self._taken = threading.Event()
        self._taken.set()
        self.dropped = 0
        self.closed = False

    def put(self, frame: Frame, wait: bool = False, stop: threading.Event | None = None) -> None:
        """Offer a frame. ``wait``: block until the previous frame was taken (no drops)."""
        while wait and not self._taken.wait(0.1):
            if stop is not None and stop.is_set():
                return
        with self._lock:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._taken.clear()
        self._wake()

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self._ready.set)
        except RuntimeError:  # the event loop has closed: nobody is waiting any more
            pass

    async def get(self) -> Frame | None:
        """The newest frame, or None once the source has closed and nothing is left."""
        while True:
            with self._lock:
                frame, self._frame = self._frame, None
                if frame is not None:
                    self._taken.set()
                    return frame
                if self.closed:
                    return None
                self._ready.clear()
            await self._ready.wait()


class CameraReader(threading.Thread):
    """Decodes one camera's stream off the event loop."""

    def __init__(self, camera: str, url: str, mailbox: Mailbox, realtime: bool, stall_seconds: float,
                 max_backoff: float, rate: float = 0.0, loop: bool = False,
                 max_pixels: int = MAX_FRAME_PIXELS) -> None:
        super().__init__(name=f"camera-{camera}", daemon=True)
        self.camera = camera
        self.url = url
        self.mailbox = mailbox
        self.realtime = realtime
        self.stall_seconds = stall_seconds
        self.max_backoff = max_backoff
        self.state = CONNECTING
        self.frames = 0
        self.skipped = 0  # frames over ``rate`` or not yet on the clock, decoded but never converted or handed on
        self.rate = rate  # frames per second the camera is analysed at; 0 = every frame
        self.loop = loop  # a video file starts again at its end (its clock runs on)
        self.max_pixels = max_pixels  # larger frames fail the camera (0: no limit)
        self._oversize: tuple[int, int] | None = None
        self._source: tuple[str, float] | None = None  # a folder camera's recording, and its start on the clock
        self._end = 0.0  # the position of the latest frame handed on, in its file
        self.reconnects = 0
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def _set_state(self, state: str, detail: str = "") -> None:
        if state != self.state:
            self.state = state
            level = logging.WARNING if state in (STALLED, FAILED) else logging.INFO
            logger.log(level, "camera %s: %s%s", self.camera, state, f" ({redact(detail)})" if detail else "")

    def run(self) -> None:
        backoff = 0.5
        try:
            while not self._halt.is_set():
                if is_file(self.url) and not Path(self.url).is_file():
                    self._set_state(FAILED, f"{self.url}: no such file")
                    break
                try:
                    container = open_input(self.url, self.stall_seconds)
                    stream = video_stream(container)
                except (av.error.FFmpegError, OSError) as error:
                    if is_file(self.url):  # a file that cannot be opened now never will be: not a camera to wait for
                        self._set_state(FAILED, f"{self.url}: not a video this program can read")
                        break
                    self._set_state(FAILED, f"cannot open {self.url} ({reason(error)}); retrying, at most every "
                                            f"{self.max_backoff:.0f} s")
                else:
                    with container:
                        frames = self._read(container, stream)
                    if self._halt.is_set():
                        break
                    if self._oversize:  # a setting of the camera's, not a fault that reconnecting mends
                        width, height = self._oversize
                        self._set_state(FAILED, f"frames of {width}x{height} are over {self.max_pixels:,} pixels "
                                                "(MAX_FRAME_PIXELS); lower the camera's resolution")
                        break
                    if is_file(self.url):
                        if frames:
                            self._set_state(ENDED, f"end of file after {frames} frames")
                        else:
                            self._set_state(FAILED, f"{self.url}: no frame could be read (truncated or corrupt?)")
                        break
                    self._set_state(STALLED, f"the stream ended or sent nothing for {self.stall_seconds:.0f} s; "
                                             "reconnecting")
                    if frames:
                        backoff = 0.5
                self.reconnects += 1
                self._halt.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
        finally:
            self.mailbox.close()

    def _read(self, container: av.container.InputContainer, stream) -> int:
        """Read until the stream ends, breaks or stalls, or we stop; returns the frames read."""
        file = is_file(self.url)
        clock = StreamClock(stream, file)
        if self._too_large(stream.codec_context.width, stream.codec_context.height):
            return 0
        started = time.monotonic()
        number, next_due, lap, damaged = 0, -1.0, 0, [0]
        while not self._halt.is_set():
            for frame in self._decoded(container, stream, clock, damaged):
                if damaged[0]:
                    logger.warning("camera %s: %d unreadable frame(s) skipped before frame %d (damaged file?)",
                                   self.camera, damaged[0], number)
                    damaged[0] = 0
                self._set_state(LIVE)
                if self.realtime and file:
                    self._pace(started + number / clock.fps)
                at = clock.of(number, frame)
                number += 1
                self.frames += 1
                if not clock.settled:  # read while the stream was opened: stale, and not yet on the clock
                    self.skipped += 1
                    continue
                if at < next_due:  # over the analysis rate: skip the conversion, the costly part after decoding
                    self.skipped += 1
                    continue
                next_due = at + 1.0 / self.rate - 1e-6 if self.rate else -1.0
                if self._too_large(frame.width, frame.height):  # the stream changed its size
                    return number
                self._hand_on(frame, number - 1, at, file)
                if self._halt.is_set():
                    break
            if not (file and self.loop and number > lap) or self._halt.is_set():
                break
            lap = number
            try:
                container.seek(0)
            except av.error.FFmpegError as error:  # a file that cannot seek plays once
                logger.warning("camera %s: cannot start the file again (%s)", self.camera, reason(error))
                break
            stream.codec_context.flush_buffers()
        return number

    def _pace(self, due: float) -> None:
        """A file played in real time: wait until the frame's moment (``due``, on the monotonic clock)."""
        delay = due - time.monotonic()
        if delay > 0.001:
            self._halt.wait(delay)

    def _decoded(self, container: av.container.InputContainer, stream, clock: StreamClock,
                 damaged: list[int]):
        """The stream's frames in order; a packet that does not decode counts as damage."""
        for packet in packets(container, stream, clock.file, damaged):
            clock.arrived(packet)
            try:
                yield from packet.decode()
            except av.error.FFmpegError:
                damaged[0] += 1
        try:
            yield from stream.codec_context.decode(None)  # the frames the decoder still holds
        except av.error.FFmpegError:
            pass

    def _hand_on(self, frame: av.VideoFrame, number: int, at: float, file: bool) -> None:
        start = self._source[1] if self._source else 0.0
        self._end = at
        due = Frame(self.camera, number, time.time(), frame, start + at, thumbnail(luma(frame)), self._source)
        self.mailbox.put(due, wait=file and not self.realtime, stop=self._halt)

    def _too_large(self, width: int, height: int) -> bool:
        if self.max_pixels and width * height > self.max_pixels:
            self._oversize = (width, height)
        return self._oversize is not None

