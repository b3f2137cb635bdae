"""A stage that crashes stops the tracker with the cause, never a silent hang. (A stand-in
detector that fails isolates the failure; the rest is the real pipeline on a real video.)"""

import asyncio

import pytest

from gallery.identify import Identifier
from gallery.store import GalleryStore
from pipelines.events.publisher import EventPublisher
from pipelines.events.redis_server import free_port
from pipelines.live.executor import ModelExecutor
from pipelines.live.runtime import LiveTracker, _first
from pipelines.prometheus import Metrics
from tests.integration.test_sources import write_video
from tests.unit.test_executor import CountingDetector
from tracker.config import Config


class Embedder:
    model_id, dim, threshold = "stand-in:0", 128, 0.2


class FailingAnalyzer:
    embedder, threshold = Embedder(), 0.2

    def __init__(self) -> None:
        self.detector = CountingDetector(fail=True)


def test_a_model_failure_stops_every_camera_with_its_cause(tmp_path):
    video = write_video(tmp_path / "v.avi", 30.0)
    config = Config.model_validate({"cameras": [{"id": "a", "url": str(video)}, {"id": "b", "url": str(video)}],
                                    "pipeline": {"grace_seconds": 1.0}})
    with GalleryStore(tmp_path / "g.db") as store:
        identifier = Identifier(FailingAnalyzer(), store, config.match)

    async def scenario():
        executor = ModelExecutor(identifier.analyzer, 4, 5.0).start()
        publisher = EventPublisher(f"redis://127.0.0.1:{free_port()}/0", "ft", 100, 100)
        tracker = LiveTracker(config, tmp_path / "g.db", identifier, executor, publisher, Metrics())
        try:
            await asyncio.wait_for(tracker.run(asyncio.Event(), until_ended=True), 30)
        finally:
            executor.stop()

    with pytest.raises(BaseExceptionGroup) as stopped:
        asyncio.run(scenario())
    cause = _first(stopped.value)
    assert isinstance(cause, RuntimeError) and "out of memory" in str(cause)
