"""The model executor batches work from every camera and reports a model failure to every waiter.
(A stand-in detector isolates the executor from the real models, which the e2e tests use.)"""

import asyncio

import numpy as np
import pytest

from pipelines.live.executor import ModelExecutor
from tests.support.stand_ins import CountingDetector
from tests.support.stand_ins import StandInAnalyzer as Analyzer


def frame() -> np.ndarray:
    return np.zeros((48, 64, 3), np.uint8)


def test_requests_from_many_cameras_share_batches():
    detector = CountingDetector()

    async def cameras():
        executor = ModelExecutor(Analyzer(detector), batch_size=4, max_wait_ms=200).start()
        try:
            return await asyncio.gather(*(executor.detect(frame()) for _ in range(6)))
        finally:
            executor.stop()

    results = asyncio.run(cameras())
    assert len(results) == 6 and all(len(r) == 0 for r in results)
    assert sorted(detector.batches) == [2, 4]


def test_a_model_failure_reaches_every_waiter_and_later_callers():
    async def cameras():
        executor = ModelExecutor(Analyzer(CountingDetector(fail=True)), batch_size=4, max_wait_ms=50).start()
        try:
            outcomes = await asyncio.gather(*(executor.detect(frame()) for _ in range(3)), return_exceptions=True)
            with pytest.raises(RuntimeError, match="model executor has failed"):
                await executor.detect(frame())
            return outcomes
        finally:
            executor.stop()

    outcomes = asyncio.run(cameras())
    assert all(isinstance(o, RuntimeError) and "out of memory" in str(o) for o in outcomes)
