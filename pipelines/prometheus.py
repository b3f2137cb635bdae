"""Prometheus metrics of the running tracker.

Latencies and batch sizes are histograms observed where the work happens; everything else
(frames, drops, reconnects, lag, tracks, events, queue depth, camera state) is read from
the running parts when ``/metrics`` is scraped, so the hot path pays nothing for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from pipelines.live.runtime import LiveTracker

STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.stage_seconds = Histogram("facetrack_stage_seconds", "Seconds per pipeline stage of one frame",
                                       ["camera", "stage"], buckets=STAGE_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("facetrack_batch_requests", "Requests per model batch", ["kind"],
                                    buckets=BATCH_BUCKETS, registry=self.registry)

    def watch(self, tracker: Callable[[], LiveTracker | None]) -> None:
        """Report the tracker that ``tracker()`` returns at each scrape (None: no live pipeline)."""
        self.registry.register(_LiveCollector(tracker))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _LiveCollector:
    def __init__(self, tracker: Callable[[], LiveTracker | None]) -> None:
        self._tracker = tracker

    def collect(self) -> Iterator[Metric]:
        tracker = self._tracker()
        if tracker is None:
            return
        label = ["camera"]
        fps = GaugeMetricFamily("facetrack_camera_fps", "Frames analysed per second, recent", labels=label)
        analysed = CounterMetricFamily("facetrack_camera_frames_analysed", "Frames analysed", labels=label)
        dropped = CounterMetricFamily("facetrack_camera_frames_dropped", "Frames replaced before analysis",
                                      labels=label)
        skipped = CounterMetricFamily("facetrack_camera_frames_over_rate", "Frames over the analysis rate",
                                      labels=label)
        reconnects = CounterMetricFamily("facetrack_camera_reconnects", "Reconnection attempts", labels=label)
        lag = GaugeMetricFamily("facetrack_camera_lag_seconds", "Capture to decision, median of recent frames",
                                labels=label)
        tracks = GaugeMetricFamily("facetrack_camera_tracks", "Open tracks", labels=label)
        state = GaugeMetricFamily("facetrack_camera_state", "1 for the camera's current state",
                                  labels=["camera", "state"])
        for camera in tracker.cameras.values():
            s = camera.worker.stats
            cid = [camera.config.id]
            fps.add_metric(cid, s.fps())
            analysed.add_metric(cid, s.analysed)
            dropped.add_metric(cid, camera.worker.mailbox.dropped)
            skipped.add_metric(cid, s.skipped)
            reconnects.add_metric(cid, camera.reader.reconnects)
            lag.add_metric(cid, s.lag())
            tracks.add_metric(cid, len(camera.worker.tracker.tracks))
            state.add_metric([camera.config.id, camera.reader.state], 1)
        yield from (fps, analysed, dropped, skipped, reconnects, lag, tracks, state)
        publisher = tracker.publisher
        yield CounterMetricFamily("facetrack_events_published", "Events delivered to Redis",
                                  value=publisher.published)
        yield GaugeMetricFamily("facetrack_events_buffered", "Events waiting for Redis", value=publisher.buffered)
        yield CounterMetricFamily("facetrack_events_dropped", "Events dropped from a full buffer",
                                  value=publisher.dropped)
        yield GaugeMetricFamily("facetrack_model_queue_depth", "Requests waiting for the model executor",
                                value=tracker.executor.depth)
