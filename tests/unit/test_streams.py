"""The live views' shared work: one drawing and encoding per frame however many watch, and a cap on viewers."""

import asyncio
import threading

import pytest
from aiohttp import web

from pipelines.web.streams import Streams


def test_a_frame_is_drawn_once_for_every_viewer_off_the_event_loop():
    drawn = []

    def draw():
        drawn.append(threading.current_thread() is threading.main_thread())
        return b"jpeg"

    async def scenario():
        streams = Streams(limit=10)
        frame, later = object(), object()
        first = await asyncio.gather(*(streams.frame("hall", frame, draw) for _ in range(5)))
        second = await asyncio.gather(*(streams.frame("hall", later, draw) for _ in range(5)))
        return first + second

    assert asyncio.run(scenario()) == [b"jpeg"] * 10
    assert drawn == [False, False]  # two frames, two drawings, neither on the loop's thread


def test_viewers_past_the_limit_and_while_stopping_are_refused():
    async def scenario():
        streams = Streams(limit=2)
        with streams.viewer(), streams.viewer():
            with pytest.raises(web.HTTPServiceUnavailable) as refused, streams.viewer():
                pass
            assert "http.max_viewers" in refused.value.text
        with streams.viewer():  # the first two left: room again
            pass
        await streams.close_all(web.Application())
        with pytest.raises(web.HTTPServiceUnavailable) as stopping, streams.viewer():
            pass
        assert "stopping" in stopping.value.text
        return streams.open

    assert asyncio.run(scenario()) == 0
