"""The tests' real RTSP server and two-stream camera: GStreamer's gst-rtsp-server run by Debian's Python
(``pipelines/eval/rtsp_server.py``, ``rtsp_camera.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.eval.rtsp import MISSING, SERVER_SCRIPT, RtspProcess, rtsp_available

CAMERA_SCRIPT = Path(__file__).parent / "rtsp_camera.py"

needs_rtsp = pytest.mark.skipif(not rtsp_available(), reason=MISSING)


class RtspServer(RtspProcess):
    """Serves one MJPEG AVI file (as H.264) at ``url`` while running; ``stop()`` and ``start()`` again on the same
    port."""

    def __init__(self, video: Path, port: int) -> None:
        super().__init__([str(SERVER_SCRIPT), str(video), str(port)])
        self.url = f"rtsp://127.0.0.1:{port}/test"


class RtspCamera(RtspProcess):
    """An IP camera with a main stream and a sub-stream of one live scene (see rtsp_camera.py): ``url`` and
    ``sub_url``."""

    def __init__(self, video: Path, port: int, main: str = "1280x720", sub: str = "480x270", fps: int = 10) -> None:
        super().__init__([str(CAMERA_SCRIPT), str(video), str(port), main, sub, str(fps)])
        self.port = port
        self.url = f"rtsp://127.0.0.1:{port}/main"
        self.sub_url = f"rtsp://127.0.0.1:{port}/sub"
