"""A live stream's clock (``media.StreamClock``): the frames FFmpeg read while opening the stream, which reach us
all at once, are not yet on the clock; the first packet that comes in its own time is."""

from fractions import Fraction
from types import SimpleNamespace

import av
import pytest

from pipelines.live import media

FPS = 10


@pytest.fixture
def now(monkeypatch):
    """The monotonic clock the stream clock reads, set by the test."""
    moment = SimpleNamespace(seconds=1000.0)
    monkeypatch.setattr(media, "time", SimpleNamespace(monotonic=lambda: moment.seconds))
    return moment


def clock(file: bool = False) -> media.StreamClock:
    return media.StreamClock(SimpleNamespace(average_rate=Fraction(FPS), guessed_rate=None, start_time=None), file)


def packet(frame: int | None) -> av.Packet:
    made = av.Packet(b"\0")
    if frame is not None:
        made.pts, made.time_base = frame, Fraction(1, FPS)
    return made


def test_the_packets_read_while_opening_are_not_on_the_clock_until_one_comes_in_its_own_time(now):
    stream = clock()
    stream.arrived(packet(None))  # FFmpeg's RTSP: the first packet has no presentation time
    assert not stream.settled
    for frame in range(1, 27):  # 2.6 s of packets read while opening, handed to us at once
        stream.arrived(packet(frame))
        assert not stream.settled, f"packet {frame} of the opening burst"
    now.seconds += 0.1
    stream.arrived(packet(27))  # the first live packet: a frame later, a frame's time later
    assert stream.settled
    assert stream.at(2.7) == pytest.approx(now.seconds)
    now.seconds += 0.09
    stream.arrived(packet(28))  # a little early (jitter): still on the clock
    assert stream.settled
    now.seconds += 0.5
    for frame in range(29, 34):  # the sender's backlog after a hiccup: late, not early, packets
        stream.arrived(packet(frame))
        assert stream.settled
    stream.arrived(packet(60))  # the sender's clock stepped on (a delay lowered by 2.6 s): opened long ago
    assert stream.settled


def test_a_stream_without_timestamps_is_on_the_clock_a_second_after_its_first_packet(now):
    stream = clock()
    stream.arrived(packet(None))
    now.seconds += 0.5
    stream.arrived(packet(None))
    assert not stream.settled
    now.seconds += media.OPENING_SECONDS - 0.5
    stream.arrived(packet(None))
    assert stream.settled
    assert stream.at(None) == now.seconds


def test_timestamps_faster_than_real_time_hold_no_camera_back(now):
    """FFmpeg's HTTP MJPEG makes up 25 timestamps a second whatever the camera sends: a camera of 100 frames a
    second lowers the delay by three quarters of a frame each packet, for ever."""
    stream = clock()  # 10 fps stated
    settled = []
    for frame in range(300):
        now.seconds += 0.025  # packets a quarter of a frame apart: the delay falls by 0.075 s each time
        stream.arrived(packet(frame))
        settled.append(stream.settled)
    first = settled.index(True)
    assert first * 0.025 <= media.OPENING_SECONDS + 0.05 and all(settled[first:]), "settled within a second, for good"


def test_a_file_is_always_on_its_clock():
    stream = clock(file=True)
    assert stream.settled
    stream.arrived(packet(5))
    assert stream.settled and stream.at(0.5) == 0.5
