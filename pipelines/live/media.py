"""A camera URL opened with PyAV (FFmpeg at the packet level), and its frames' times on the tracker's clock.

Both readers of a camera use this: ``sources.CameraReader`` (the stream analysed, decoded all the time) and
``mainstream.MainStream`` (a sub-stream camera's main stream: packets read all the time, decoded only
while faces are in view). PyAV, not OpenCV: OpenCV hands out decoded frames only, and a main stream that
is read but not decoded needs its packets.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import av
import av.container
import numpy as np

from tracker.redact import redact

MAX_FRAME_PIXELS = 40_000_000  # a camera whose frames are larger fails, saying so (8K UHD is 33 million; was a setting)
DAMAGED_RUN = 250  # unreadable packets in a row a video file may have before it counts as ended


def is_file(url: str) -> bool:
    return "://" not in url and not url.isdigit()


def file_target(path: str) -> str:
    """A video file as FFmpeg must see it: an absolute path, so nothing before a colon is taken for one of its
    protocols (``subfile,,start,0,end,0,,:secret.mp4`` would read another file)."""
    return str(Path(path).absolute())


def open_input(url: str, stall_seconds: float) -> av.container.InputContainer:
    """The camera's container, its video stream ready to demux; ``av.error.FFmpegError`` (or ``OSError``) when it
    cannot be opened. Network reads give up after ``stall_seconds`` without data (RTSP over TCP)."""
    if url.isdigit():
        return av.open(f"/dev/video{url}", format="v4l2", timeout=stall_seconds)
    if "://" in url:
        options = {"rtsp_transport": "tcp"} if url.lower().startswith("rtsp") else {}
        return av.open(url, options=options, timeout=(stall_seconds, stall_seconds))
    return av.open(file_target(url))


SMALL = 640 * 480  # a stream this small decodes on one thread (threads cost more than they save: 25% measured)
LUMA_FIRST = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21", "gray"}  # 8-bit
# pixel formats whose first plane is the luma (a 10-bit stream's is converted)


def video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise av.error.InvalidDataError(1094995529, "no video stream")
    stream = container.streams.video[0]
    if stream.codec_context.width * stream.codec_context.height <= SMALL:
        stream.codec_context.thread_count = 1
    return stream


def luma(frame: av.VideoFrame) -> np.ndarray:
    """A decoded frame's grey (luma) plane as uint8 (h, w), without converting the frame where its format holds it."""
    if frame.format.name not in LUMA_FIRST:
        return frame.to_ndarray(format="gray")
    plane = frame.planes[0]
    return np.frombuffer(plane, np.uint8).reshape(frame.height, plane.line_size)[:, :frame.width]


def reason(error: BaseException) -> str:
    """Why FFmpeg (or the system) could not open or read a stream, without any password in it."""
    return redact(getattr(error, "strerror", None) or str(error))


def frame_rate(stream: av.video.stream.VideoStream) -> float:
    """The stream's frames per second as the container states it (its average rate, as OpenCV reads it)."""
    rate = stream.average_rate or stream.guessed_rate
    return float(rate) if rate else 25.0


def packets(container: av.container.InputContainer, stream, file: bool,
            damaged: list[int]) -> Iterator[av.Packet]:
    """The stream's packets until it ends (a file's end, a network stream's stall or break). A file's unreadable
    stretch is read past (``damaged[0]`` counts it), up to ``DAMAGED_RUN`` in a row."""
    demuxer = container.demux(stream)
    while True:
        try:
            packet = next(demuxer)
        except StopIteration:
            return
        except (av.error.FFmpegError, OSError):
            if not file or damaged[0] >= DAMAGED_RUN:
                return
            damaged[0] += 1
            demuxer = container.demux(stream)
            continue
        if packet.size:  # the demuxer's last, empty packet is the decoder's flush: the caller flushes itself
            yield packet


OPENING_SECONDS = 1.0  # a live stream is on its clock this long after its first packet, whatever its timestamps


class StreamClock:
    """A stream's frames on the tracker's clock, so that a camera's main and sub-stream (each with timestamps of
    its own) meet on one clock.

    A file: seconds into it, running on across laps (a frame's number over the frame rate for the stream read
    frame by frame; its presentation time for the main stream, decoded only now and then: the same for a file
    of constant rate). A live stream: its presentation time moved onto the monotonic clock by the smallest delay
    seen between a packet's presentation time and its arrival (measured on the tests' two-stream RTSP camera,
    which stamps both streams' frames at capture: the main stream's frame found for a sub-stream frame was of
    the same moment for every frame: docs/benchmarks.md, "Sub-streams"; a camera that sends its main stream
    later than its sub-stream, by encoding or network, by more than half a frame at best, would pair them a
    frame apart: arrival cannot tell). Never runs back.

    ``settled`` is False while the stream is being opened: the packets FFmpeg reads then (a second or more of
    them, to learn the format) reach us at once, each lowering that delay by a frame, their frames stale and
    their clock not yet the stream's (the sub-stream's first frame was paired with a main-stream frame 300 ms
    away). It turns True, for the rest of the connection, at the first timed packet that did not lower the
    delay by half a frame or more, or ``OPENING_SECONDS`` after the first packet whatever the timestamps do
    (a stream without them, or whose timestamps run faster than real time, as FFmpeg's for HTTP MJPEG)."""

    def __init__(self, stream, file: bool) -> None:
        self.file = file
        self.fps = frame_rate(stream)
        self.start = float(stream.start_time * stream.time_base) if file and stream.start_time is not None else 0.0
        self.lap = 0.0  # files: the clock at the start of this lap
        self._offset: float | None = None  # live: monotonic time minus presentation time, the smallest seen
        self._last = -float("inf")
        self.settled = file
        self._first: float | None = None  # live: when the first packet came

    def arrived(self, packet: av.Packet) -> None:
        """Note a live packet's arrival."""
        if self.file:
            return
        now = time.monotonic()
        self._first = now if self._first is None else self._first
        if packet.pts is not None and packet.time_base is not None:  # (FFmpeg's RTSP: the first packet has none)
            offset = now - float(packet.pts * packet.time_base)
            self.settled = self.settled or (self._offset is not None and offset > self._offset - 0.5 / self.fps)
            self._offset = offset if self._offset is None else min(self._offset, offset)
        self.settled = self.settled or now - self._first >= OPENING_SECONDS

    def at(self, seconds: float | None) -> float:
        """A presentation time (seconds; None: unknown, taken as now) on the tracker's clock."""
        if self.file:
            return self.lap + (seconds or self.start) - self.start
        return time.monotonic() if seconds is None or self._offset is None else seconds + self._offset

    def of(self, number: int, frame: av.VideoFrame) -> float:
        """The clock of the stream's frame ``number`` (counted from the start, laps included) when every frame is
        decoded, in presentation order: it never runs back."""
        if self.file:
            return number / self.fps
        at = self.at(frame.time)
        if at < self._last - 1.0:  # the sender's clock stepped back: start the mapping again
            self._offset = None
            at = time.monotonic()
        self._last = max(at, self._last + 1e-6)
        return self._last
