"""Camera sources: files frame by frame, and a real RTSP camera that goes away and comes back, or whose
machine has its wall clock set back."""

import asyncio
import logging
import time

import pytest

from pipelines.events.redis_server import free_port
from pipelines.live import sources
from pipelines.live.sources import ENDED, FAILED, LIVE, STALLED, CameraReader, Mailbox
from tests.support.rtsp import RtspServer, needs_rtsp
from tests.support.videos import write_video


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_file_played_as_fast_as_possible_hands_on_every_frame_then_ends(tmp_path):
    video = write_video(tmp_path / "v.avi", 3.0)

    async def consume():
        mailbox = Mailbox(asyncio.get_running_loop())
        reader = CameraReader("cam", str(video), mailbox, realtime=False, stall_seconds=5, max_backoff=1)
        reader.start()
        numbers = []
        while (frame := await mailbox.get()) is not None:
            numbers.append(frame.number)
            await asyncio.sleep(0.01)  # a slow consumer
        reader.join(5)
        return numbers, reader, mailbox

    numbers, reader, mailbox = asyncio.run(consume())
    assert numbers == list(range(30))
    assert mailbox.dropped == 0 and reader.state == ENDED


def test_a_missing_file_fails_and_says_which(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    async def consume():
        mailbox = Mailbox(asyncio.get_running_loop())
        reader = CameraReader("cam", str(tmp_path / "nope.mp4"), mailbox, True, 5, 1)
        reader.start()
        assert await mailbox.get() is None
        return reader

    assert asyncio.run(consume()).state == FAILED
    assert "nope.mp4: no such file" in caplog.text


@pytest.mark.parametrize("content", [b"this is a text file, not a video\n", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64],
                         ids=["not a video", "an MP4 without its moov atom"])
def test_a_file_that_is_no_video_fails_at_once_and_is_not_retried(tmp_path, caplog, content):
    caplog.set_level(logging.INFO)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)

    async def consume():
        mailbox = Mailbox(asyncio.get_running_loop())
        reader = CameraReader("cam", str(bad), mailbox, True, 5, 30)
        reader.start()
        assert await asyncio.wait_for(mailbox.get(), 10) is None  # the camera stopped by itself
        reader.join(5)
        return reader

    reader = asyncio.run(consume())
    assert reader.state == FAILED and reader.reconnects == 0 and not reader.is_alive()
    assert "bad.mp4: " in caplog.text


@needs_rtsp
def test_an_rtsp_camera_reconnects_after_its_server_goes_away(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    server = RtspServer(write_video(tmp_path / "v.avi", 60.0), free_port()).start()
    loop = asyncio.new_event_loop()  # the mailbox's loop; frames are counted by the reader itself
    reader = CameraReader("cam", server.url, Mailbox(loop), realtime=True, stall_seconds=3, max_backoff=1)
    try:
        reader.start()
        wait_for(lambda: reader.state == LIVE and reader.frames > 10, 30, "frames from the RTSP camera")
        server.stop()
        wait_for(lambda: reader.state in (STALLED, FAILED), 20, "the camera to notice its server is gone")
        before = reader.frames
        server.start()
        wait_for(lambda: reader.state == LIVE and reader.frames > before + 10, 30, "the camera to come back")
    finally:
        reader.stop()
        reader.join(10)
        server.stop()
        loop.close()
    assert reader.reconnects >= 1
    assert "camera cam: live" in caplog.text and "camera cam: stalled" in caplog.text


def test_a_looping_file_starts_again_at_its_end_and_its_clock_runs_on(tmp_path):
    video = write_video(tmp_path / "v.avi", 1.0)  # 10 frames

    async def consume():
        mailbox = Mailbox(asyncio.get_running_loop())
        reader = CameraReader("cam", str(video), mailbox, realtime=False, stall_seconds=5, max_backoff=1, loop=True)
        reader.start()
        frames = []
        while len(frames) < 35:
            frames.append(await asyncio.wait_for(mailbox.get(), 10))
        reader.stop()
        reader.join(5)
        return frames, reader

    frames, reader = asyncio.run(consume())
    assert [f.number for f in frames] == list(range(35))  # three laps and more, numbered on
    assert all(b.video_time > a.video_time for a, b in zip(frames, frames[1:]))  # time never runs back at a lap
    assert reader.reconnects == 0


class _SteppedClock:
    """The ``time`` module as the reader sees it, with the wall clock set back an hour on demand (NTP after a
    drifting RTC, an operator fixing the date); the monotonic clock is untouched, as on a real machine."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def __getattr__(self, name):
        return getattr(time, name)


@needs_rtsp
def test_a_wall_clock_set_back_does_not_stop_a_live_camera(tmp_path, monkeypatch):
    clock = _SteppedClock()
    monkeypatch.setattr(sources, "time", clock)
    server = RtspServer(write_video(tmp_path / "v.avi", 60.0), free_port()).start()
    loop = asyncio.new_event_loop()
    reader = CameraReader("cam", server.url, Mailbox(loop), realtime=True, stall_seconds=5, max_backoff=1, rate=5.0)

    def handed_on() -> int:
        return reader.frames - reader.skipped

    try:
        reader.start()
        wait_for(lambda: reader.state == LIVE and handed_on() > 5, 30, "frames from the RTSP camera")
        clock.offset = -3600.0
        before = handed_on()
        wait_for(lambda: handed_on() > before + 5, 20, "frames handed on after the wall clock went back an hour")
    finally:
        reader.stop()
        reader.join(10)
        server.stop()
        loop.close()


def test_a_camera_whose_frames_are_over_the_pixel_limit_fails_and_says_why(tmp_path, caplog):
    video = write_video(tmp_path / "v.avi", 1.0)  # its frames are far over the limit below

    async def consume():
        mailbox = Mailbox(asyncio.get_running_loop())
        reader = CameraReader("cam", str(video), mailbox, realtime=False, stall_seconds=5, max_backoff=1,
                              max_pixels=10_000)
        reader.start()
        handed = 0
        while await mailbox.get() is not None:
            handed += 1
        reader.join(10)
        return reader.state, handed

    state, handed = asyncio.run(consume())
    assert (state, handed) == (FAILED, 0)  # before: every frame decoded and handed on, whatever its size
    assert "over 10,000 pixels (MAX_FRAME_PIXELS)" in caplog.text
