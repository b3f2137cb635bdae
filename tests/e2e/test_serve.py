"""``facetrack serve``: the HTTP API for the gallery alone, started and stopped as a user would."""

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pipelines.events.redis_server import free_port
from tests.support.cli import FACETRACK


def test_serve_answers_and_stops_cleanly_on_sigterm(tmp_path, cache_dir):
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(f'[models]\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n\n[http]\nport = {port}\n')
    server = subprocess.Popen([str(FACETRACK), "serve", "--config", str(config), "--gallery", str(tmp_path / "g.db")],
                              stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                health = json.load(urllib.request.urlopen(f"{base}/health", timeout=2))
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "facetrack serve did not come up"
                time.sleep(0.3)
        assert health == {"status": "ok"}
        assert json.load(urllib.request.urlopen(f"{base}/api/identities", timeout=5)) == []
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/api/cameras", timeout=5)
        assert refused.value.code == 404 and "facetrack run" in json.load(refused.value)["error"]
    finally:
        server.send_signal(signal.SIGTERM)
        _, log = server.communicate(timeout=60)
    assert server.returncode == 0, log
    # no http.token configured: one is made and kept in http.token_file, readable by this user only, never logged
    token_file = Path(os.environ["FACETRACK__HTTP__TOKEN_FILE"])
    assert f"changes over HTTP need the token kept in {token_file}" in log
    assert token_file.stat().st_mode & 0o777 == 0o600 and token_file.read_text().strip() not in log
