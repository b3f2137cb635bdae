"""Fixtures of the integration tests: a real Redis per module, a gallery with one person enrolled."""

import pytest

from gallery.enroll import Enroller
from gallery.store import GalleryStore
from pipelines.events.redis_server import EmbeddedRedis
from tests.support.data import lfw_image


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with EmbeddedRedis(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture
def gallery(tmp_path, analyzer, config):
    """A gallery file with Colin Powell enrolled from three LFW photographs."""
    path = tmp_path / "gallery.db"
    with GalleryStore(path) as store:
        enroller = Enroller(analyzer, store, config.enroll)
        enroller.enroll("Colin Powell", *enroller.from_images([lfw_image("Colin_Powell", i) for i in (1, 2, 3)]))
    return path
