"""GStreamer's RTSP server (``rtsp_server.py`` beside this module, run by Debian's Python) in a process of its own:
the tests' cameras and the capacity benchmark's."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's: the one with the ``gi`` bindings
SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
MISSING = "GStreamer's RTSP server is not installed (scripts/system_packages.sh installs it)"


def rtsp_available() -> bool:
    probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class RtspProcess:
    """A server script run with ``arguments`` (the script first) until ``stop()``; ``start()`` again on the same
    port. ``start()`` returns once the script printed ``ready``, and raises ``RuntimeError`` with its error if not."""

    def __init__(self, arguments: list[str]) -> None:
        self.arguments = arguments
        self._process: subprocess.Popen | None = None

    def start(self):
        self._process = subprocess.Popen([SYSTEM_PYTHON, *self.arguments], stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True)
        if self._process.stdout.readline().strip() != "ready":
            error = self._process.stderr.read()[-1000:]
            self.stop()
            raise RuntimeError(f"the RTSP server did not start: {error}")
        return self

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        for pipe in (self._process.stdout, self._process.stderr) if self._process else ():
            pipe.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *_) -> None:
        self.stop()

    def cpu_seconds(self) -> float:
        """The CPU the running server has used so far (Linux: from /proc)."""
        fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def serve_as_is(port: int, mounts: dict[str, Path]) -> RtspProcess:
    """H.264 MP4 files served as they are at ``rtsp://127.0.0.1:PORT/MOUNT``, each client from the file's start."""
    return RtspProcess([str(SERVER_SCRIPT), "--as-is", str(port), *(f"{m}={v}" for m, v in mounts.items())])
