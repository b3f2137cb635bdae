"""The OpenAPI document is valid and the API survives a property-based fuzz run (schemathesis)
with no server error, against the real app: real models, gallery and Redis, a live pipeline."""

import asyncio
import threading

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from gallery.store import GalleryStore
from tests.conftest import needs_data
from tests.support.http import AUTH, live_app
from tracker.config import with_changes

pytestmark = needs_data


@pytest.fixture(scope="module")
def server(analyzer, config, tmp_path_factory, redis_url):
    """The app on a real port, served from a thread of its own until the module's tests end."""
    gallery = tmp_path_factory.mktemp("fuzz") / "gallery.db"
    GalleryStore(gallery).close()
    quick = with_changes(config, "test", pipeline={"stall_seconds": 2.0})
    started, stop, holder = threading.Event(), None, {}

    def serve():
        nonlocal stop

        async def main():
            nonlocal stop
            stop = asyncio.Event()
            async with live_app(analyzer, quick, gallery, redis_url) as (client, _):
                holder["url"] = str(client.make_url("")).rstrip("/")
                started.set()
                await stop.wait()

        loop = asyncio.new_event_loop()
        holder["loop"] = loop
        loop.run_until_complete(main())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(60), "the app did not start"
    yield holder["url"]
    holder["loop"].call_soon_threadsafe(stop.set)
    thread.join(60)


def test_the_api_never_answers_with_a_server_error(server):
    schema = schemathesis.openapi.from_url(f"{server}/api/openapi.json")  # loading it validates it
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:
        if operation.path == "/cameras/{camera}/live.mjpg":  # a stream that never ends by design
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def survives(case):
            case.call_and_validate(headers=AUTH, checks=[not_a_server_error], timeout=30)

        survives()
