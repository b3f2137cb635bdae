"""A real RTSP server: GStreamer's gst-rtsp-server (Debian's packages, installed by ``scripts/system_packages.sh``),
run by Debian's own Python (``/usr/bin/python3``, which has the ``gi`` bindings), for the tests' cameras and the
capacity benchmark's (started from the project's Python by ``pipelines.eval.rtsp``).

    /usr/bin/python3 rtsp_server.py VIDEO.avi PORT [MOUNT]
        the MJPEG AVI file encoded to H.264 as it plays, at rtsp://127.0.0.1:PORT/MOUNT (default ``test``), from
        its first frame to every client that connects;
    /usr/bin/python3 rtsp_server.py --as-is PORT MOUNT=VIDEO.mp4 ...
        each H.264 MP4 file sent as it is (no decoding, no encoding: the server costs next to nothing), in real
        time, from its first frame to every client that connects.

Prints ``ready`` once listening; runs until killed.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def serve(port: str, mounts: dict[str, str], shared: bool, configure=None) -> None:
    """Serve each ``mount``'s launch line at ``rtsp://127.0.0.1:PORT/MOUNT``; print ``ready``; run until killed.
    ``configure(mount, media)``, if given, is called with each media made for a mount, before it plays."""
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    for mount, launch in mounts.items():
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch)
        factory.set_shared(shared)
        if configure:
            factory.connect("media-configure", lambda _factory, media, mount=mount: configure(mount, media))
        server.get_mount_points().add_factory(f"/{mount}", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on port {port}")
    print("ready", flush=True)
    GLib.MainLoop().run()


def encoded(video: str) -> str:
    return (f'( filesrc location="{video}" ! avidemux ! jpegdec ! videoconvert ! video/x-raw,format=I420 '
            "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! rtph264pay name=pay0 pt=96 )")


def as_is(video: str) -> str:
    # SPS and PPS repeated inside each keyframe's access unit, as cameras send them (sent apart by rtph264pay's own
    # config-interval, FFmpeg decodes each keyframe twice)
    return f'( filesrc location="{video}" ! qtdemux ! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 )'


def main() -> None:
    Gst.init(None)
    if sys.argv[1] == "--as-is":
        mounts = dict(pair.split("=", 1) for pair in sys.argv[3:])
        serve(sys.argv[2], {mount: as_is(video) for mount, video in mounts.items()}, shared=False)
    else:
        video, port = sys.argv[1], sys.argv[2]
        serve(port, {sys.argv[3] if len(sys.argv) > 3 else "test": encoded(video)}, shared=False)


if __name__ == "__main__":
    main()
