"""Shared fixtures: the shared data folder, a config whose caches live in a temporary folder,
and one analyzer (real MTCNN + real dlib weights) loaded once per session."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tracker.config import load_config, with_changes

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# a run with no http.token keeps one in http.token_file; the tests' runs keep theirs out of the home folder
os.environ.setdefault("FACETRACK__HTTP__TOKEN_FILE", str(Path(tempfile.mkdtemp(prefix="facetrack-token-")) / "token"))

from tests.support.data import ROOT


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def config(cache_dir: Path):
    base = load_config(ROOT / "config.toml", environ={})
    return with_changes(base, "test", models={"cache_dir": str(cache_dir), "device": "cpu"})


@pytest.fixture(scope="session")
def analyzer(config):
    from tracker.face.analyzer import FaceAnalyzer

    return FaceAnalyzer.from_config(config)


@pytest.fixture(scope="session")
def dlib_analyzer(config):
    """The face path with dlib's model instead of the default embedder (the port's own tests)."""
    from tracker.face.analyzer import FaceAnalyzer

    return FaceAnalyzer.from_config(with_changes(config, "test", models={"embedder": "dlib-resnet-v1"}))


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the session (``tests.support.postgres``), in a folder of its own under /tmp
    (as root, the server's user must reach it)."""
    import shutil
    import tempfile

    from pipelines.events.redis_server import free_port
    from tests.support.postgres import PostgresServer, needs_postgres

    if needs_postgres.args[0]:
        pytest.skip(needs_postgres.kwargs["reason"])
    root = Path(tempfile.mkdtemp(prefix="facetrack-pg-"))
    try:
        with PostgresServer(root, free_port()) as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


# Per-test time limits in seconds by kind: guards against a hung test, never speed goals. About 15x the slowest
# test of each kind on an idle 2-core machine (unit 0.2 s, integration 15 s, e2e 37 s: the live tracker over
# RTSP) and at least 60 s: with the machine busy (two CPU-bound processes beside the suite), torch's threads wait
# on each other and a test runs 3-6x slower. A test's own @pytest.mark.timeout wins, and so does --timeout on the
# command line; pyproject.toml's timeout covers the rest.
TIMEOUTS = {"unit": 60, "integration": 240, "e2e": 540}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("timeout", None) is not None:
        return
    tests = ROOT / "tests"
    for item in items:
        if item.get_closest_marker("timeout") or not item.path.is_relative_to(tests):
            continue
        where = item.path.relative_to(tests).as_posix()
        limit = TIMEOUTS.get(where, TIMEOUTS.get(where.split("/")[0]))
        if limit:
            item.add_marker(pytest.mark.timeout(limit))
