"""No secret in a log line or a response: URL passwords and secret query values redacted; the HTTP token,
when none is configured, kept in a file only its user can read and never logged."""

import logging
import os
import sys

import pytest

from pipelines.web.access import is_loopback, token_for
from tracker.config import Config
from tracker.errors import ConfigError
from tracker.redact import Formatter, redact


@pytest.mark.parametrize(("text", "shown"), [
    ("rtsp://admin:hunter2@10.0.0.5:554/live", "rtsp://admin:***@10.0.0.5:554/live"),
    ("redis://:hunter2@redis:6379/0", "redis://:***@redis:6379/0"),
    ("cannot open postgresql://ft:hunter2@db/ft now", "cannot open postgresql://ft:***@db/ft now"),
    ("http://cam/snap.cgi?user=admin&password=hunter2&res=1", "http://cam/snap.cgi?user=admin&password=***&res=1"),
    ("rtsp://cam/live?channel=1;pwd=hunter2", "rtsp://cam/live?channel=1;pwd=***"),
    ("http://cam/?Token=hunter2", "http://cam/?Token=***"),
    ("rtsp://10.0.0.5:554/live", "rtsp://10.0.0.5:554/live"),  # nothing secret: unchanged
    ("rtsp://viewer@10.0.0.5/live", "rtsp://viewer@10.0.0.5/live"),
    ("/videos/door.mp4", "/videos/door.mp4"),
])
def test_redact_hides_passwords_and_secret_query_values_only(text, shown):
    assert redact(text) == shown


def test_the_log_formatter_redacts_messages_arguments_and_tracebacks():
    formatter = Formatter("%(levelname)s %(message)s")
    try:
        raise OSError("connect to rtsp://admin:hunter2@cam/ failed")
    except OSError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "camera %s: %s", ("door", "redis://:pw2@r/0"),
                                   exc_info=sys.exc_info())
    line = formatter.format(record)
    assert "hunter2" not in line and "pw2" not in line
    assert "rtsp://admin:***@cam/" in line and "redis://:***@r/0" in line


def _config(tmp_path, **http) -> Config:
    return Config.model_validate({"http": {"token_file": str(tmp_path / "facetrack" / "token"), **http}})


def test_with_no_token_one_is_made_once_kept_private_and_never_logged(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    first = token_for(_config(tmp_path))
    path = tmp_path / "facetrack" / "token"
    assert len(first) >= 24 and path.stat().st_mode & 0o777 == 0o600
    assert token_for(_config(tmp_path)) == first  # the next run: the same token
    assert first not in caplog.text and str(path) in caplog.text
    assert token_for(_config(tmp_path, token="configured-token")) == "configured-token"


def test_a_token_file_others_can_read_is_refused_with_what_to_do(tmp_path):
    token_for(_config(tmp_path))
    os.chmod(tmp_path / "facetrack" / "token", 0o644)
    with pytest.raises(ConfigError, match="readable by other users; chmod 600"):
        token_for(_config(tmp_path))


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("camera-box", False), ("", False),
])
def test_loopback_addresses(host, loopback):
    assert is_loopback(host) is loopback
