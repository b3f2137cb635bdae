"""Camera sources: one decode thread per camera hands the newest frame to the event loop.

A reader writes into a one-slot mailbox: the newest frame wins and a frame nobody took is
dropped and counted, so latency never builds up. A file played "as fast as possible" waits
for the slot instead (every frame is analysed). A camera that fails or stalls is reopened
with exponential backoff; its state (connecting, live, stalled, failed, ended) is logged
once per change.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tracker.redact import redact
from tracker.track.activity import thumbnail

logger = logging.getLogger(__name__)

CONNECTING, LIVE, STALLED, FAILED, ENDED = "connecting", "live", "stalled", "failed", "ended"


@dataclass(frozen=True)
class Frame:
    camera: str
    number: int
    time: float  # capture time, Unix seconds
    image: np.ndarray  # RGB uint8
    video_time: float  # the tracker's clock: seconds into a video file (frame number / fps); for a live source,
    # the monotonic clock at capture (differences only: it never steps when the wall clock is set)
    thumb: np.ndarray | None = None  # the activity gate's grey thumbnail (tracker.track.activity), made by the reader


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


DAMAGED_RUN = 250  # unreadable frames in a row a video file may have before it counts as ended


def is_file(url: str) -> bool:
    return "://" not in url and not url.isdigit()


def file_target(path: str) -> str:
    """A video file as FFmpeg must see it: an absolute path, so nothing before a colon is taken for one of its
    protocols (``subfile,,start,0,end,0,,:secret.mp4`` would read another file)."""
    return str(Path(path).absolute())


class CameraReader(threading.Thread):
    """Decodes one camera's stream off the event loop."""

    def __init__(self, camera: str, url: str, mailbox: Mailbox, realtime: bool, stall_seconds: float,
                 max_backoff: float, rate: float = 0.0, loop: bool = False, max_pixels: int = 0) -> None:
        super().__init__(name=f"camera-{camera}", daemon=True)
        self.camera = camera
        self.url = url
        self.mailbox = mailbox
        self.realtime = realtime
        self.stall_seconds = stall_seconds
        self.max_backoff = max_backoff
        self.state = CONNECTING
        self.frames = 0
        self.skipped = 0  # frames over ``rate``, decoded but never converted or handed on
        self.rate = rate  # frames per second the camera is analysed at; 0 = every frame
        self.loop = loop  # a video file starts again at its end (its clock runs on)
        self.max_pixels = max_pixels  # larger frames fail the camera (0: no limit)
        self._oversize: tuple[int, int] | None = None
        self.reconnects = 0
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def _set_state(self, state: str, detail: str = "") -> None:
        if state != self.state:
            self.state = state
            level = logging.WARNING if state in (STALLED, FAILED) else logging.INFO
            logger.log(level, "camera %s: %s%s", self.camera, state, f" ({redact(detail)})" if detail else "")

    def _open(self) -> cv2.VideoCapture:
        if self.url.isdigit():
            return cv2.VideoCapture(int(self.url))
        if "://" in self.url:  # RTSP over TCP unless the environment says otherwise; reads time out on a stall
            os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
            timeout = int(self.stall_seconds * 1000)
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout]
            return cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)
        return cv2.VideoCapture(file_target(self.url))

    def run(self) -> None:
        backoff = 0.5
        try:
            while not self._halt.is_set():
                if is_file(self.url) and not Path(self.url).is_file():
                    self._set_state(FAILED, f"{self.url}: no such file")
                    break
                capture = self._open()
                if not capture.isOpened():
                    capture.release()
                    if is_file(self.url):  # a file that cannot be opened now never will be: not a camera to wait for
                        self._set_state(FAILED, f"{self.url}: not a video this program can read")
                        break
                    self._set_state(FAILED, f"cannot open {self.url}; retrying, at most every {self.max_backoff:.0f} s")
                else:
                    frames = self._read(capture)
                    capture.release()
                    if self._halt.is_set():
                        break
                    if self._oversize:  # a setting of the camera's, not a fault that reconnecting mends
                        width, height = self._oversize
                        self._set_state(FAILED, f"frames of {width}x{height} are over pipeline.max_frame_pixels "
                                                f"({self.max_pixels:,}); lower the camera's resolution or raise it")
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

    def _read(self, capture: cv2.VideoCapture) -> int:
        """Read until the stream ends, breaks or stalls, or we stop; returns the frames read."""
        file = is_file(self.url)
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        started = time.monotonic()
        number, next_due, damaged, lap = 0, -1.0, 0, 0
        if self._too_large(int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))):
            return 0
        while not self._halt.is_set():
            if not capture.grab():
                if file and damaged < DAMAGED_RUN and _before_end(capture):  # a damaged stretch: read on past it
                    damaged += 1
                    continue
                if file and self.loop and number > lap and capture.set(cv2.CAP_PROP_POS_FRAMES, 0):
                    lap, damaged = number, 0
                    continue
                break
            if damaged:
                logger.warning("camera %s: %d unreadable frame(s) skipped before frame %d (damaged file?)",
                               self.camera, damaged, number)
                damaged = 0
            self._set_state(LIVE)
            if self.realtime and file:
                delay = started + number / fps - time.monotonic()
                if delay > 0:
                    self._halt.wait(delay)
            now = time.time()
            clock = number / fps if file else time.monotonic()  # a wall clock stepped back must not stop a camera
            number += 1
            self.frames += 1
            if clock < next_due:  # over the analysis rate: skip the conversion, the costly part after decoding
                self.skipped += 1
                continue
            next_due = clock + 1.0 / self.rate - 1e-6 if self.rate else -1.0
            ok, bgr = capture.retrieve()
            if ok and self._too_large(bgr.shape[1], bgr.shape[0]):  # the stream changed its size
                break
            if ok:
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                frame = Frame(self.camera, number - 1, now, rgb, clock, thumbnail(bgr))
                self.mailbox.put(frame, wait=file and not self.realtime, stop=self._halt)
        return number


    def _too_large(self, width: int, height: int) -> bool:
        if self.max_pixels and width * height > self.max_pixels:
            self._oversize = (width, height)
        return self._oversize is not None


def _before_end(capture: cv2.VideoCapture) -> bool:
    """Whether a file's read position is short of its last frame (a failed read there is damage, not the end)."""
    total = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    return total > 0 and capture.get(cv2.CAP_PROP_POS_FRAMES) < total - 1
