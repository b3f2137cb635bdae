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


class EmbeddingAnalyzer(Analyzer):
    """Embeds each face as a row of ones (the executor only hands embeddings on)."""

    def embed_faces(self, images, faces):
        from types import SimpleNamespace
        return [SimpleNamespace(embeddings=np.ones((len(f), 4), np.float32)) for f in faces]


def test_embeddings_come_back_matched_in_one_call_per_match_and_a_failing_match_is_its_callers_alone():
    calls = []

    def sums(embeddings):  # one item per row, as GalleryView.verdicts gives
        calls.append(len(embeddings))
        return embeddings.sum(axis=1).tolist()

    def refuse(embeddings):
        raise ValueError("this gallery view is broken")

    async def cameras():
        executor = ModelExecutor(EmbeddingAnalyzer(CountingDetector()), batch_size=4, max_wait_ms=200).start()
        try:
            two, one = np.zeros((2, 4), np.float32), np.zeros((1, 4), np.float32)
            outcomes = await asyncio.gather(executor.embed(frame(), two, sums), executor.embed(frame(), one, sums),
                                            executor.embed(frame(), two, refuse), return_exceptions=True)
            return outcomes, await executor.embed(frame(), one, sums)  # still serving
        finally:
            executor.stop()

    (first, second, bad), later = asyncio.run(cameras())
    assert (first[1], second[1]) == ([4.0, 4.0], [4.0])  # each its own rows
    assert calls[0] == 3  # the two cameras of one match: one call over their three faces
    assert isinstance(bad, ValueError) and "broken" in str(bad)
    assert later[1] == [4.0]
