"""The tests' real RTSP server: GStreamer's gst-rtsp-server run by Debian's Python (see rtsp_server.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SYSTEM_PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).parent / "rtsp_server.py"
CAMERA_SCRIPT = Path(__file__).parent / "rtsp_camera.py"


def rtsp_available() -> bool:
    probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


needs_rtsp = pytest.mark.skipif(not rtsp_available(), reason="GStreamer's RTSP server is not installed "
                                "(scripts/test.sh installs it: gir1.2-gst-rtsp-server-1.0 python3-gi ...)")


class RtspServer:
    """Serves one video file at ``url`` while running; ``stop()`` and ``start()`` again on the same port."""

    def __init__(self, video: Path, port: int) -> None:
        self.video = video
        self.port = port
        self.url = f"rtsp://127.0.0.1:{port}/test"
        self._process: subprocess.Popen | None = None

    def start(self) -> RtspServer:
        self._process = subprocess.Popen([SYSTEM_PYTHON, str(SCRIPT), str(self.video), str(self.port)],
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self._process.stdout.readline()
        if line.strip() != "ready":
            self.stop()
            raise RuntimeError(f"RTSP server did not start: {self._process.stderr.read()[-1000:]}")
        return self

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        for pipe in (self._process.stdout, self._process.stderr) if self._process else ():
            pipe.close()


class RtspCamera(RtspServer):
    """An IP camera with a main stream and a sub-stream of one live scene (see rtsp_camera.py): ``url`` and
    ``sub_url``."""

    def __init__(self, video: Path, port: int, main: str = "1280x720", sub: str = "480x270", fps: int = 10) -> None:
        super().__init__(video, port)
        self.sizes, self.fps = (main, sub), fps
        self.url = f"rtsp://127.0.0.1:{port}/main"
        self.sub_url = f"rtsp://127.0.0.1:{port}/sub"

    def start(self) -> RtspCamera:
        command = [SYSTEM_PYTHON, str(CAMERA_SCRIPT), str(self.video), str(self.port), *self.sizes, str(self.fps)]
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self._process.stdout.readline()
        if line.strip() != "ready":
            self.stop()
            raise RuntimeError(f"RTSP camera did not start: {self._process.stderr.read()[-1000:]}")
        return self
