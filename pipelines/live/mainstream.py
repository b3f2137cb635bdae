"""A sub-stream camera's main stream: its packets read all the time, decoded only while faces are in view.

A camera with ``detect_url`` is detected and tracked on that low-resolution stream (``sources.py``); the
faces to embed are cut from this, the camera's full-resolution main stream, at the same time on the
tracker's clock (``media.StreamClock``). The thread reads the main stream's packets as they come and keeps
those since the keyframe before the previous one (cheap: no decoding). While the camera's loop wants it
(``want()``: faces in view, or ``frame_at``) it decodes: first a burst, from the keyframe before the time
asked for to the newest packet, then each packet as it comes, until nobody has wanted it for ``HOLD``
seconds. Decoded frames stay as the decoder made them (YUV) for the last second; the one asked for is
converted to RGB here and handed to the event loop through its future; a request finds no frame when
the stream is not live, or when the nearest frame is more than a frame and a half away. A quiet camera
never decodes its main stream.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import av
import av.container
import numpy as np

from pipelines.live.media import (
    MAX_FRAME_PIXELS,
    StreamClock,
    is_file,
    open_input,
    packets,
    reason,
    video_stream,
)
from tracker.redact import redact

logger = logging.getLogger(__name__)

HOLD = 2.0  # seconds the decoder keeps going after it was last wanted
KEPT_SECONDS = 0.5  # decoded frames kept (YUV: 1.5 bytes a pixel, 75 MB a camera at 4K25)
KEPT_PACKETS = 1500  # at most (a minute at 25 fps), should a stream send no keyframe


@dataclass(frozen=True)
class _Request:
    clock: float
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop


class MainStream(threading.Thread):
    def __init__(self, camera: str, url: str, stall_seconds: float, max_backoff: float, realtime: bool = True,
                 loop: bool = False, max_pixels: int = MAX_FRAME_PIXELS) -> None:
        super().__init__(name=f"camera-{camera}-main", daemon=True)
        self.camera, self.url, self.realtime, self.loop = camera, url, realtime, loop
        self.stall_seconds, self.max_backoff, self.max_pixels = stall_seconds, max_backoff, max_pixels
        self.state = "connecting"
        self.size: tuple[int, int] | None = None  # width, height once known (at opening, or from a first frame)
        self.packets = 0  # packets read
        self.decoded = 0  # frames decoded
        self.bursts = 0  # times decoding started from a keyframe
        self.reconnects = 0
        self._wanted: tuple[float, float] = (-float("inf"), 0.0)  # (monotonic time, clock) of the latest want
        self._requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._halt = threading.Event()
        self._oversize = False

    def stop(self) -> None:
        self._halt.set()

    def want(self, clock: float) -> None:
        """Keep decoding (faces are in view), from the keyframe before ``clock`` if it has stopped: a frame of about
        that moment will be asked for soon."""
        self._wanted = (time.monotonic(), clock)

    async def frame_at(self, clock: float, wait: float) -> np.ndarray | None:
        """The main stream's frame at ``clock`` (the tracker's clock) as RGB, or None at once when the stream is
        not live, or when none comes within ``wait`` seconds or none lies within a frame and a half of it."""
        if self.state != "live" or not self.is_alive():
            return None
        self.want(clock)
        loop = asyncio.get_running_loop()
        request = _Request(clock, loop.create_future(), loop)
        self._requests.put(request)
        try:
            return await asyncio.wait_for(request.future, wait)
        except TimeoutError:
            return None

    def _set_state(self, state: str, detail: str = "") -> None:
        if state != self.state:
            self.state = state
            level = logging.WARNING if state in ("stalled", "failed") else logging.INFO
            logger.log(level, "camera %s: main stream %s%s", self.camera, state,
                       f" ({redact(detail)})" if detail else "")

    def run(self) -> None:
        backoff, file = 0.5, is_file(self.url)
        while not self._halt.is_set():
            if file and not Path(self.url).is_file():
                self._set_state("failed", f"{self.url}: no such file")
                break
            try:
                with open_input(self.url, self.stall_seconds) as container:
                    if self._read(container, video_stream(container)):
                        backoff = 0.5
            except (av.error.FFmpegError, OSError) as error:
                self._set_state("failed", f"cannot open {self.url} ({reason(error)})"
                                          + ("" if file else f"; retrying, at most every {self.max_backoff:.0f} s"))
            if self._halt.is_set() or file or self._oversize:
                break  # a file ends (or fails) once; frames over the pixel limit are a setting, not a fault
            if self.state == "live":
                self._set_state("stalled", f"the main stream ended or sent nothing for {self.stall_seconds:.0f} s; "
                                           "reconnecting")
            self.reconnects += 1
            self._halt.wait(backoff)
            backoff = min(backoff * 2, self.max_backoff)
        if file and self.state == "live":
            self._set_state("ended")
        self._answer_all(None)

    def _read(self, container: av.container.InputContainer, stream) -> int:
        """Read (and decode while wanted) until the stream ends or stalls, or we stop; returns the packets read."""
        decoder = _Decoder(stream, StreamClock(stream, is_file(self.url)))
        width, height = stream.codec_context.width, stream.codec_context.height
        if not self._size_known(width, height):
            return 0
        pending: list[_Request] = []
        started, read = time.monotonic(), 0
        while not self._halt.is_set():
            for packet in packets(container, stream, decoder.clock.file, [0]):
                self._set_state("live")
                read += 1
                self.packets += 1
                at = decoder.arrived(packet)
                if self.realtime and decoder.clock.file and started + at - time.monotonic() > 0.001:
                    self._halt.wait(started + at - time.monotonic())
                pending += _drain(self._requests)
                wanted_at, clock = self._wanted
                wanted = time.monotonic() - wanted_at < HOLD or self.size is None  # a first frame tells the size
                self.decoded += decoder.step(wanted, min([r.clock for r in pending] + [clock if wanted else at]))
                self.bursts += decoder.burst_started
                if self.size is None and decoder.frames and not self._size_known(*decoder.size()):
                    return read
                pending = [r for r in pending if not r.future.done() and not decoder.answer(r)]
                if self._halt.is_set():
                    break
            if not (decoder.clock.file and self.loop and read) or self._halt.is_set():
                break
            try:
                container.seek(0)
            except av.error.FFmpegError:  # a file that cannot seek plays once
                break
            decoder.lap()
        for request in pending:
            request.loop.call_soon_threadsafe(_resolve, request.future, None)
        return read

    def _size_known(self, width: int, height: int) -> bool:
        """Note the stream's size (0 x 0: not yet known); False when it is over the pixel limit (the stream fails)."""
        if not (width and height):
            return True
        if self.max_pixels and width * height > self.max_pixels:
            self.size, self._oversize = (width, height), True
            self._set_state("failed", f"frames of {width}x{height} are over {self.max_pixels:,} pixels "
                                      "(MAX_FRAME_PIXELS); lower the camera's resolution")
            return False
        self.size = (width, height)
        return True

    def _answer_all(self, value) -> None:
        for request in _drain(self._requests):
            request.loop.call_soon_threadsafe(_resolve, request.future, value)


class _Decoder:
    """The main stream's kept packets, its decoder and the frames decoded last; owned by the reader thread."""

    def __init__(self, stream, clock: StreamClock) -> None:
        self.stream, self.clock, self.fps = stream, clock, clock.fps
        self.kept: deque[tuple[float, av.Packet]] = deque(maxlen=KEPT_PACKETS)  # (clock, packet)
        self.frames: deque[tuple[float, av.VideoFrame]] = deque(maxlen=max(2, int(round(self.fps * KEPT_SECONDS))))
        self.max_skew = 1.5 / self.fps  # a frame further from the moment asked for is no answer
        self.decoding = False
        self.burst_started = 0
        self._end = 0.0  # files: the clock just after the latest packet

    def arrived(self, packet: av.Packet) -> float:
        """Keep the packet; its clock. Packets before the keyframe before the latest are let go."""
        self.clock.arrived(packet)
        at = self.clock.at(float(packet.pts * packet.time_base) if packet.pts is not None else None)
        self._end = max(self._end, at + 1.0 / self.fps)
        if packet.is_keyframe:
            keys = [i for i, (_, p) in enumerate(self.kept) if p.is_keyframe]
            for _ in range(keys[-1] if keys else 0):  # keep from the latest keyframe before this one
                self.kept.popleft()
        self.kept.append((at, packet))
        return at

    def lap(self) -> None:
        """A looping file starts again: its clock runs on."""
        self.clock.lap = self._end
        self.kept.clear()
        self.frames.clear()
        self.decoding = False

    def step(self, wanted: bool, since: float) -> int:
        """Decode what is due; returns the frames decoded. Not wanted: stop. Wanted and stopped: a burst from the
        keyframe at or before ``since`` to the newest packet. Wanted and going: the newest packet."""
        self.burst_started = 0
        if not wanted:
            self.decoding = False
            return 0
        if self.decoding:
            return self._decode([self.kept[-1][1]])
        keys = [i for i, (at, p) in enumerate(self.kept) if p.is_keyframe and at <= since + 1e-6]
        if not keys and not any(p.is_keyframe for _, p in self.kept):
            return 0  # no keyframe yet: nothing can be decoded
        first = keys[-1] if keys else next(i for i, (_, p) in enumerate(self.kept) if p.is_keyframe)
        self.stream.codec_context.flush_buffers()
        self.frames.clear()
        self.decoding, self.burst_started = True, 1
        return self._decode([p for _, p in list(self.kept)[first:]])

    def _decode(self, batch: list[av.Packet]) -> int:
        done = 0
        for packet in batch:
            try:
                for frame in self.stream.codec_context.decode(packet):
                    if self.clock.settled:  # a frame read while the stream was opened is not on the clock
                        self.frames.append((self.clock.at(frame.time), frame))
                    done += 1
            except av.error.FFmpegError:  # a damaged packet: the frames after it come out
                continue
        return done

    def size(self) -> tuple[int, int]:
        """The latest decoded frame's width and height."""
        return self.frames[-1][1].width, self.frames[-1][1].height

    def answer(self, request: _Request) -> bool:
        """Hand the request the frame nearest its clock, once a frame at or after it is decoded; whether answered."""
        if not self.frames or self.frames[-1][0] < request.clock - 0.5 / self.fps:
            return False
        at, frame = min(self.frames, key=lambda item: abs(item[0] - request.clock))
        image = frame.to_ndarray(format="rgb24") if abs(at - request.clock) <= self.max_skew else None
        request.loop.call_soon_threadsafe(_resolve, request.future, image)
        return True


def _drain(requests: queue.SimpleQueue) -> list[_Request]:
    out = []
    while True:
        try:
            out.append(requests.get_nowait())
        except queue.Empty:
            return out


def _resolve(future: asyncio.Future, value: object) -> None:
    if not future.done():
        future.set_result(value)
