"""A real camera with two streams for the tests: GStreamer's gst-rtsp-server (Debian's packages) run by
Debian's own Python (``/usr/bin/python3``, which has the ``gi`` bindings).

    /usr/bin/python3 rtsp_camera.py VIDEO.avi PORT MAIN_WxH SUB_WxH FPS

plays the MJPEG AVI file in a loop as a live scene and serves it at once as two H.264 streams, as an IP
camera does: ``rtsp://127.0.0.1:PORT/main`` at MAIN_WxH and ``rtsp://127.0.0.1:PORT/sub`` at SUB_WxH, both
cut from the same frames at the same moments (one decoder, a tee, ``intervideosink`` / ``intervideosrc``),
each encoded with a keyframe every 2 s. Prints ``ready`` once listening.
"""

import sys
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[2] / "pipelines" / "eval"))  # Debian's Python: not the project's
from rtsp_server import serve  # noqa: E402


def scene(video: str, main: str, sub: str, fps: int) -> Gst.Pipeline:
    (mw, mh), (sw, sh) = (map(int, main.split("x")), map(int, sub.split("x")))
    pipeline = Gst.parse_launch(
        f'filesrc location="{video}" ! avidemux ! jpegdec ! videoconvert ! videorate ! video/x-raw,framerate={fps}/1 '
        f"! tee name=t t. ! queue ! videoscale ! video/x-raw,width={mw},height={mh} ! intervideosink channel=main "
        f"t. ! queue ! videoscale ! video/x-raw,width={sw},height={sh} ! intervideosink channel=sub"
    )

    def on_message(_bus, message) -> None:
        if message.type == Gst.MessageType.EOS:  # the scene goes on: play the file again
            pipeline.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, 0)
        elif message.type == Gst.MessageType.ERROR:
            sys.exit(f"scene failed: {message.parse_error()[0].message}")

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    return pipeline


def mount(channel: str, fps: int) -> str:
    return (f"( intervideosrc channel={channel} ! video/x-raw,framerate={fps}/1 ! videoconvert "
            f"! video/x-raw,format=I420 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={2 * fps} "
            "! rtph264pay name=pay0 pt=96 )")


def main() -> None:
    video, port, main_size, sub_size, fps = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    Gst.init(None)
    playing = scene(video, main_size, sub_size, fps)
    playing.set_state(Gst.State.PLAYING)
    serve(port, {channel: mount(channel, fps) for channel in ("main", "sub")}, shared=True)


if __name__ == "__main__":
    main()
