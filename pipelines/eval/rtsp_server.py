"""A real RTSP server for the tests: GStreamer's gst-rtsp-server (Debian's packages), run by
Debian's own Python (``/usr/bin/python3``, which has the ``gi`` bindings).

    /usr/bin/python3 rtsp_server.py VIDEO.avi PORT [MOUNT]

serves the MJPEG AVI file as H.264 at ``rtsp://127.0.0.1:PORT/MOUNT`` (default ``test``),
from its first frame to every client that connects, and prints ``ready`` once listening.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def serve(port: str, mounts: dict[str, str], shared: bool) -> None:
    """Serve each ``mount``'s launch line at ``rtsp://127.0.0.1:PORT/MOUNT``; print ``ready``; run until killed."""
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    for mount, launch in mounts.items():
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch)
        factory.set_shared(shared)
        server.get_mount_points().add_factory(f"/{mount}", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on port {port}")
    print("ready", flush=True)
    GLib.MainLoop().run()


def main() -> None:
    video, port = sys.argv[1], sys.argv[2]
    mount = sys.argv[3] if len(sys.argv) > 3 else "test"
    Gst.init(None)
    launch = (f'( filesrc location="{video}" ! avidemux ! jpegdec ! videoconvert ! video/x-raw,format=I420 '
              "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! rtph264pay name=pay0 pt=96 )")
    serve(port, {mount: launch}, shared=False)


if __name__ == "__main__":
    main()
