"""Credentials out of text: camera, Redis and PostgreSQL URLs carry passwords (``rtsp://admin:pw@cam/``,
``...?user=admin&password=pw``) and must never reach a response, an error body or a log line.

``redact`` works on free text, so a URL inside a message (an OpenCV error, a connection failure) is
redacted too; ``Formatter`` applies it to every log line, tracebacks included.
"""

from __future__ import annotations

import logging
import re

HIDDEN = "***"
# scheme://user:password@  ->  scheme://user:***@   (a password is percent-encoded in a URL: no / or @ in it)
_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):(?P<secret>[^@/\s]*)@")
# ?password=...  &token=...  ;pwd=...  ->  the value hidden
_QUERY = re.compile(r"(?P<head>[?&;][A-Za-z0-9_.-]*(?:pass|pwd|token|secret|key|auth|sig)[A-Za-z0-9_.-]*=)"
                    r"(?P<secret>[^&;#\s\"']*)", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with every URL password and secret-looking query value replaced by ``***``."""
    text = _USERINFO.sub(lambda m: f"{m['head']}:{HIDDEN}@", text)
    return _QUERY.sub(lambda m: m["head"] + HIDDEN, text)


class Formatter(logging.Formatter):
    """A log formatter that redacts credentials from the whole formatted record."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
