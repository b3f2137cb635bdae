"""Who may read and change what over HTTP: the ``Host`` and ``Origin`` checks, the bearer token (and where
it is kept when ``http.token`` is empty), and ``Cache-Control: no-store`` on data. The rules are in
``pipelines.web.server``'s docstring and docs/http-api.md."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from pipelines.web.keys import AUTHORISED, SERVICES, TOKEN
from tracker.config import Config
from tracker.errors import ConfigError
from tracker.redact import redact

logger = logging.getLogger(__name__)
READ_METHODS = {"GET", "HEAD", "OPTIONS"}
FORWARDED = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP")  # set by reverse proxies


def json_error(status: int, message: str) -> web.Response:
    """Every error the HTTP side answers, ``{"error": ..., "status": N}``, any URL password in it redacted (the
    error middleware of ``pipelines.web.server`` answers with it too)."""
    return web.json_response({"error": redact(message), "status": status}, status=status)


@web.middleware
async def guard(request: web.Request, handler) -> web.StreamResponse:
    """Host and Origin checks, then the token."""
    http = request.app[SERVICES].config.http
    if not _known_host(request.host, http.host, http.allowed_hosts):
        return json_error(403, f"Host '{request.host}' is not a name of this server; a server on loopback answers "
                           "to localhost, 127.0.0.1 and [::1] only (add the name to http.allowed_hosts)")
    origin = request.headers.get("Origin")
    if origin is not None and not _same_origin(origin, request.host, http.allowed_hosts):
        return json_error(403, f"cross-origin request from {origin} refused: this server answers its own pages only")
    request[AUTHORISED] = _authorised(request)
    if _needs_token(request) and not request[AUTHORISED]:
        if not _credentials(request).startswith("Bearer "):
            return json_error(401, "this endpoint needs 'Authorization: Bearer <token>' (http.token)")
        return json_error(403, "wrong token")
    return await handler(request)


async def no_store(request: web.Request, response: web.StreamResponse) -> None:
    """Nothing but the dashboard's own files is kept by a browser or a proxy (``on_response_prepare``)."""
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"


def reads_guarded(request: web.Request) -> bool:
    """Whether reading data here needs the token: off loopback, with ``http.protect_all``, behind a reverse proxy
    (``http.allowed_hosts`` names one: a proxy may pass its upstream's own ``127.0.0.1`` as the ``Host`` and say
    nothing of whom it forwards, nginx's plain ``proxy_pass`` does), or for a request that did not come straight
    from this machine: a ``Host`` that is not a loopback name, or a proxy's forwarding header. (A forwarder that
    hides itself, ``ssh -R`` or ``socat`` to a loopback server with no ``allowed_hosts``, cannot be told from a
    local client: set ``http.protect_all`` there.)"""
    http = request.app[SERVICES].config.http
    return (http.protect_all or not is_loopback(http.host) or bool(http.allowed_hosts)
            or not is_loopback(_hostname(request.host)) or any(header in request.headers for header in FORWARDED))


def _needs_token(request: web.Request) -> bool:
    return request.method not in READ_METHODS or (reads_guarded(request) and not _open_to_all(request.path))


def _credentials(request: web.Request) -> str:
    given = request.headers.get("Authorization", "")
    if not given and request.method == "GET" and "token" in request.query:  # <img> and WebSocket can't send headers
        given = f"Bearer {request.query['token']}"
    return given


def _authorised(request: web.Request) -> bool:
    given = _credentials(request)
    # surrogateescape: a header that is not UTF-8 arrives as surrogates; it is a wrong token, not a crash
    return given.startswith("Bearer ") and hmac.compare_digest(
        given[7:].encode("utf-8", "surrogateescape"), request.app[TOKEN].encode())


def _open_to_all(path: str) -> bool:
    """``/health``, ``/ready`` (whose details need the token where reads do), and the dashboard's page and
    files: they hold no data (the page asks for the token and sends it with every request for data), and a
    browser or an orchestrator's probe loads them without headers."""
    return path in ("/health", "/ready", "/") or path.startswith("/static/")


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1 (an empty or wildcard address, or any other name, is not)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _hostname(host: str) -> str:
    """The name in a ``Host`` header or URL authority, without the port."""
    return (urlsplit(f"//{host}").hostname or "").lower()


def _known_host(header: str, listening: str, allowed: list[str]) -> bool:
    name = _hostname(header)
    if name in {a.lower() for a in allowed}:
        return True
    if is_loopback(listening):
        return is_loopback(name)
    return not allowed  # elsewhere any name, unless http.allowed_hosts lists them


def _same_origin(origin: str, host: str, allowed: list[str]) -> bool:
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:  # "null": a sandboxed page or a file
        return False
    return parts.netloc.lower() == host.lower() or (parts.hostname or "") in {a.lower() for a in allowed}


def token_for(config: Config) -> str:
    """``http.token``; when empty, the token kept in ``http.token_file`` (made at the first run, readable by
    this user only). It is never written to the log."""
    if config.http.token:
        return config.http.token
    path = Path(config.http.token_file).expanduser()
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(24) + "\n")
        if path.stat().st_mode & 0o077:
            raise ConfigError(f"http.token_file: {path} is readable by other users; chmod 600 it (or set http.token)")
        token = path.read_text().strip()
    except OSError as error:
        raise ConfigError(f"http.token_file: cannot keep the token in {path} ({error.strerror}); "
                          "set http.token, or http.token_file to a writable place") from None
    if len(token) < 16:
        raise ConfigError(f"http.token_file: {path} holds a token of {len(token)} characters; at least 16 needed")
    where = "changes" if is_loopback(config.http.host) and not config.http.protect_all else "every request for data"
    logger.warning("http.token is not set: %s over HTTP need the token kept in %s", where, path)
    return token


