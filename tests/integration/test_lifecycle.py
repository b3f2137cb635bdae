"""A stage that crashes stops the runtime with the cause, never a silent hang. (A stand-in
detector that fails isolates the failure; the rest is the real pipeline on a real video.)"""

import asyncio

import pytest

from pipelines import app
from pipelines.events.redis_server import free_port
from tests.support.stand_ins import CountingDetector, StandInAnalyzer
from tests.support.videos import write_video
from tracker.config import Config


def test_a_model_failure_stops_every_camera_with_its_cause(tmp_path):
    video = write_video(tmp_path / "v.avi", 30.0)
    config = Config.model_validate({"cameras": [{"id": "a", "url": str(video)}, {"id": "b", "url": str(video)}],
                                    "pipeline": {"grace_seconds": 1.0}})
    redis_url = f"redis://127.0.0.1:{free_port()}/0"  # nobody there: events wait in the buffer

    async def scenario():
        with app.build(config, tmp_path / "g.db", redis_url, StandInAnalyzer(CountingDetector(fail=True))) as services:
            runtime = app.start_runtime(services)
            await asyncio.wait_for(runtime.run(asyncio.Event(), until_ended=True), 30)

    with pytest.raises(BaseExceptionGroup) as stopped:
        asyncio.run(scenario())
    cause = app.first_cause(stopped.value)
    assert isinstance(cause, RuntimeError) and "out of memory" in str(cause)
