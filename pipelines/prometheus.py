"""Prometheus metrics of the running system.

Latencies and batch sizes are histograms observed where the work happens; everything else
(frames, drops, reconnects, lag, tracks, events, queue depth, camera state) is read from
``Runtime.status()`` when ``/metrics`` is scraped, so the hot path pays nothing for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from pipelines.live.runtime import RuntimeStatus
from tracker.events import Event

STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
NAME_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
# (name, help, kind, CameraStatus field)
CAMERA_FIGURES = (
    ("facetrack_camera_fps", "Frames analysed per second, recent", GaugeMetricFamily, "fps_analysed"),
    ("facetrack_camera_frames_analysed", "Frames analysed", CounterMetricFamily, "frames_analysed"),
    ("facetrack_camera_frames_idle", "Frames the activity gate left undetected", CounterMetricFamily, "frames_idle"),
    ("facetrack_camera_main_frames_decoded", "Sub-stream cameras: main-stream frames decoded", CounterMetricFamily,
     "main_decoded"),
    ("facetrack_camera_faces_embedded", "Faces embedded", CounterMetricFamily, "embedded"),
    ("facetrack_camera_frames_dropped", "Frames replaced before analysis", CounterMetricFamily, "dropped"),
    ("facetrack_camera_frames_over_rate", "Frames over the analysis rate", CounterMetricFamily, "over_rate"),
    ("facetrack_camera_reconnects", "Reconnection attempts", CounterMetricFamily, "reconnects"),
    ("facetrack_camera_tracks", "Open tracks", GaugeMetricFamily, "tracks"),
    ("facetrack_camera_tracks_started", "Tracks started", CounterMetricFamily, "tracks_started"),
)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.stage_seconds = Histogram("facetrack_stage_seconds", "Seconds per pipeline stage of one frame (detect; "
                                       "embed, with the gallery search; frame)",
                                       ["camera", "stage"], buckets=STAGE_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("facetrack_batch_requests", "Requests per model batch", ["kind"],
                                    buckets=BATCH_BUCKETS, registry=self.registry)
        self.time_to_name = Histogram("facetrack_time_to_name_seconds",
                                      "Seconds from a track's first face to its first name", ["camera"],
                                      buckets=NAME_BUCKETS, registry=self.registry)

    def observe_batch(self, kind: str, requests: int) -> None:
        self.batch_size.labels(kind).observe(requests)

    def observe_event(self, event: Event) -> None:
        """A published event: a track's first name is a time to name."""
        if event.named_after_seconds is not None:
            self.time_to_name.labels(event.camera).observe(event.named_after_seconds)

    def watch(self, status: Callable[[], RuntimeStatus]) -> None:
        """Report ``status()`` at each scrape."""
        self.registry.register(_StatusCollector(status))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StatusCollector:
    def __init__(self, status: Callable[[], RuntimeStatus]) -> None:
        self._status = status

    def collect(self) -> Iterator[Metric]:
        status = self._status()
        for name, text, kind, field in CAMERA_FIGURES:
            family = kind(name, text, labels=["camera"])
            for cid, camera in status.cameras.items():
                family.add_metric([cid], getattr(camera, field))
            yield family
        lag = GaugeMetricFamily("facetrack_camera_lag_seconds", "Capture to decision, median of recent frames",
                                labels=["camera"])
        state = GaugeMetricFamily("facetrack_camera_state", "1 for the camera's current state",
                                  labels=["camera", "state"])
        for cid, camera in status.cameras.items():
            lag.add_metric([cid], camera.lag_ms / 1000)
            state.add_metric([cid, camera.state], 1)
        yield from (lag, state)
        yield from _event_figures(status)


def _event_figures(status: RuntimeStatus) -> Iterator[Metric]:
    events = status.events
    yield CounterMetricFamily("facetrack_events_published", "Events delivered to Redis", value=events.published)
    yield GaugeMetricFamily("facetrack_events_buffered", "Events waiting for Redis", value=events.buffered)
    yield CounterMetricFamily("facetrack_events_dropped", "Events dropped from a full buffer", value=events.dropped)
    yield GaugeMetricFamily("facetrack_model_queue_depth", "Requests waiting for the model executor",
                            value=status.model_queue)
    if status.sightings is not None:
        s = status.sightings
        family = CounterMetricFamily("facetrack_sightings", "Sightings of unknown tracks, by outcome",
                                     labels=["outcome"])
        for outcome, value in (("written", s.written), ("failed", s.failed), ("dropped", s.dropped)):
            family.add_metric([outcome], value)
        yield family
    if status.workers is not None:
        c = status.workers
        for name, text, kind, value in (
            ("facetrack_cluster_workers", "Live workers sharing the cameras", GaugeMetricFamily, c.live_workers),
            ("facetrack_cluster_cameras_held", "Cameras this worker holds the lease of", GaugeMetricFamily,
             c.cameras_held),
            ("facetrack_cluster_leases_lost", "Leases this worker lost before handing over", CounterMetricFamily,
             c.leases_lost),
            ("facetrack_cluster_heartbeat_timestamp_seconds", "This worker's last heartbeat (Redis time)",
             GaugeMetricFamily, c.last_heartbeat),
        ):
            family = kind(name, text, labels=["worker"])
            family.add_metric([c.worker], value)
            yield family
    if status.retained is not None:
        family = CounterMetricFamily("facetrack_retention_removed", "Records removed by retention, by kind",
                                     labels=["kind"])
        for kind, value in status.retained.items():
            family.add_metric([kind], value)
        yield family
