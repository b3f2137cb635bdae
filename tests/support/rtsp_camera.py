"""A real camera with two streams for the tests: GStreamer's gst-rtsp-server (Debian's packages) run by
Debian's own Python (``/usr/bin/python3``, which has the ``gi`` bindings).

    /usr/bin/python3 rtsp_camera.py VIDEO.avi PORT MAIN_WxH SUB_WxH FPS

plays the MJPEG AVI file in a loop as a live scene and serves it at once as two H.264 streams, as an IP
camera does: ``rtsp://127.0.0.1:PORT/main`` at MAIN_WxH and ``rtsp://127.0.0.1:PORT/sub`` at SUB_WxH, each
encoded with a keyframe every 2 s. Like a camera's, both streams carry the same frames stamped with the
moment of capture: the scene (one decoder, a tee, an ``appsink`` per size) hands each frame to each stream's
``appsrc`` with its capture time on the stream's pipeline's clock (the same system clock), so a frame's RTP
time and its RTCP sender report say when it was captured, however late a busy machine encodes it.
Prints ``ready`` once listening.
"""

import sys
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[2] / "pipelines" / "eval"))  # Debian's Python: not the project's
from rtsp_server import serve  # noqa: E402

CHANNELS = ("main", "sub")


class Camera:
    """The live scene and the ``appsrc`` of each stream now served (a stream no client plays has none)."""

    def __init__(self, video: str, sizes: dict[str, str], fps: int) -> None:
        self.fps, self.sizes = fps, sizes
        self.sources: dict[str, Gst.Element] = {}
        branches = " ".join(
            f"t. ! queue ! videoscale ! video/x-raw,format=I420,width={w},height={h} "
            f"! appsink name={channel} sync=true emit-signals=true max-buffers=2 drop=true"
            for channel, (w, h) in ((c, sizes[c].split("x")) for c in CHANNELS))
        self.scene = Gst.parse_launch(
            f'filesrc location="{video}" ! avidemux ! jpegdec ! videoconvert ! videorate '
            f"! video/x-raw,framerate={fps}/1 ! tee name=t {branches}")
        for channel in CHANNELS:
            self.scene.get_by_name(channel).connect("new-sample", self._captured, channel)
        bus = self.scene.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self._on_message)

    def mount(self, channel: str) -> str:
        width, height = self.sizes[channel].split("x")
        return (f"( appsrc name=source is-live=true format=time do-timestamp=false "
                f"caps=video/x-raw,format=I420,width={width},height={height},framerate={self.fps}/1 "
                f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={2 * self.fps} "
                "! rtph264pay name=pay0 pt=96 )")

    def configure(self, channel: str, media) -> None:
        self.sources[channel] = media.get_element().get_by_name("source")

    def _captured(self, sink, channel: str) -> Gst.FlowReturn:
        sample = sink.emit("pull-sample")
        source = self.sources.get(channel)
        if source is None or source.get_state(0)[1] != Gst.State.PLAYING:
            return Gst.FlowReturn.OK
        buffer = sample.get_buffer()
        captured = self.scene.get_base_time() + buffer.pts  # on the system clock, which both pipelines run on
        if captured < source.get_base_time():
            return Gst.FlowReturn.OK  # before the stream's pipeline started playing
        stamped = buffer.copy()
        stamped.pts, stamped.dts = captured - source.get_base_time(), Gst.CLOCK_TIME_NONE
        source.emit("push-buffer", stamped)
        return Gst.FlowReturn.OK

    def _on_message(self, _bus, message) -> None:
        if message.type == Gst.MessageType.EOS:  # the scene goes on: play the file again
            self.scene.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, 0)
        elif message.type == Gst.MessageType.ERROR:
            sys.exit(f"scene failed: {message.parse_error()[0].message}")


def main() -> None:
    video, port, main_size, sub_size, fps = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    Gst.init(None)
    camera = Camera(video, {"main": main_size, "sub": sub_size}, fps)
    camera.scene.set_state(Gst.State.PLAYING)
    serve(port, {channel: camera.mount(channel) for channel in CHANNELS}, shared=True, configure=camera.configure)


if __name__ == "__main__":
    main()
