"""The OpenAPI document is the contract: ``schemathesis run`` with every check (no server error, status codes,
response schemas, content types and headers, schema-valid data accepted and schema-violating data refused,
405 with ``Allow``, ...) in every phase (coverage, fuzzing, stateful) against ``facetrack serve`` and
``facetrack run``, started as a user starts them, finds no mismatch. What the document cannot say (an
uploaded file that is no image, and what a server without cameras answers) is in ``schemathesis.toml``, with
why."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pipelines.events.redis_server import free_port
from tests.support.cli import FACETRACK
from tests.support.data import ROOT

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
TOKEN = "contract-token-0123456789"
STREAMS = ("/cameras/{camera}/live.mjpg", "/ws/events")  # not a request and a response: not for this run


@pytest.mark.timeout(600)
@pytest.mark.parametrize("command", ["serve", "run"])
def test_the_api_keeps_its_openapi_contract(command, tmp_path, cache_dir):
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(f'[models]\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n\n[http]\nport = {port}\n\n'
                      f'[redis]\nport = {free_port()}\ndata_dir = "{tmp_path / "redis"}"\n\n'
                      '[pipeline]\nstall_seconds = 2.0\nmax_backoff = 2.0\n')
    env = {**os.environ, "FACETRACK__HTTP__TOKEN": TOKEN}
    server = subprocess.Popen([str(FACETRACK), command, "--config", str(config), "--gallery", str(tmp_path / "g.db")],
                              stderr=subprocess.PIPE, text=True, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/health", server)
        excluded = [arg for path in STREAMS for arg in ("--exclude-path", path)]
        run = subprocess.run([str(SCHEMATHESIS), "run", f"{base}/api/openapi.json", "--checks", "all",
                              "-H", f"Authorization: Bearer {TOKEN}", "-n", "25", "--request-timeout", "30",
                              "--no-color", *excluded],
                             cwd=ROOT, capture_output=True, text=True, timeout=480)  # ROOT: schemathesis.toml
    finally:
        server.send_signal(signal.SIGTERM)
        _, log = server.communicate(timeout=60)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "generated" in run.stdout and " failed" not in run.stdout.split("generated")[-1], run.stdout[-3000:]
    assert server.returncode == 0, log[-3000:]


def _wait_for(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            assert json.load(urllib.request.urlopen(url, timeout=2)) == {"status": "ok"}
            return
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.3)
