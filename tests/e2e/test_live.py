"""The live tracker end to end with real parts: a real RTSP server serves a video of LFW faces,
``facetrack run`` watches it, a real Redis carries the events, and a subscriber here reads them."""

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from gallery.store import GalleryStore
from pipelines.eval.synthetic import make_plan, write_demo
from pipelines.events.publisher import stream_key
from pipelines.events.redis_server import EmbeddedRedis, free_port
from tests.support.cli import FACETRACK
from tests.support.data import LFW, ROOT, needs_data
from tests.support.rtsp import RtspServer, needs_rtsp
from tests.support.videos import enroll_plan

pytestmark = [needs_data, needs_rtsp]


@pytest.fixture(scope="module")
def scene(tmp_path_factory, analyzer, config):
    """The video, its plan, and a gallery of the plan's enrolled people (from other photographs of them)."""
    folder = tmp_path_factory.mktemp("live")
    plan = make_plan(LFW, lead=3.0, tail=8.0)  # the lead lets the RTSP stream settle
    video = write_demo(plan, folder)
    gallery = enroll_plan(plan, folder / "gallery.db", analyzer, config)
    return plan, video, gallery


def listen(client: redis.Redis) -> redis.client.PubSub:
    subscriber = client.pubsub()
    subscriber.psubscribe("facetrack:events:*")
    while subscriber.get_message(timeout=1.0) is None:  # the subscription's confirmation
        pass
    return subscriber


def drain(subscriber, events: list, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = subscriber.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if message:
            events.append(json.loads(message["data"]))


def test_people_crossing_an_rtsp_camera_become_one_named_track_each(scene, cache_dir, tmp_path):
    plan, video, gallery = scene
    with EmbeddedRedis(tmp_path / "redis") as server:
        camera = RtspServer(video, free_port()).start()
        config = tmp_path / "config.toml"
        config.write_text(
            f'[models]\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n\n[gallery]\npath = "{gallery}"\n\n'
            f'[redis]\nurl = "{server.url}"\n\n[pipeline]\nstatus_interval = 2.0\n\n[http]\nport = 0\n\n'
            f'[[cameras]]\nid = "lobby"\nurl = "{camera.url}"\nfps = 5.0\n'
        )
        client = redis.Redis.from_url(server.url)
        subscriber = listen(client)
        example = subprocess.Popen([sys.executable, str(ROOT / "examples" / "on_identity.py"), server.url],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        log = (tmp_path / "run.log").open("w+")  # closed below
        tracker = subprocess.Popen([str(FACETRACK), "run", "--config", str(config)], stderr=log, text=True)
        events: list[dict] = []
        try:
            deadline = time.monotonic() + plan.seconds + 90
            while sum(e["type"] == "track.ended" for e in events) < len(plan.appearances):
                assert tracker.poll() is None, f"facetrack run exited early: {Path(log.name).read_text()[-3000:]}"
                assert time.monotonic() < deadline, f"events so far: {[(e['type'], e['name']) for e in events]}"
                drain(subscriber, events, 1.0)
            drain(subscriber, events, 1.0)  # nothing more should come
            tracker.send_signal(signal.SIGTERM)
            code = tracker.wait(timeout=60)
            drain(subscriber, events, 1.0)
            stored = [json.loads(fields[b"event"])["id"] for _, fields in client.xrange(stream_key("facetrack"))]
            replay = subprocess.run([str(FACETRACK), "events", "--since", "0", "--json", "--count", str(len(events)),
                                     "--config", str(config)], capture_output=True, text=True, timeout=60)
        finally:
            example.terminate()
            printed, example_errors = example.communicate(timeout=30)
            if tracker.poll() is None:
                tracker.kill()
            camera.stop()
            subscriber.close()
            client.close()
        log.seek(0)
        output = log.read()
        log.close()

    assert code == 0, output[-3000:]
    assert "camera lobby: live" in output
    idle = [int(n) for n in re.findall(r"camera lobby: live, [\d.]+ fps analysed \((\d+) idle in all\)", output)]
    assert idle and idle[-1] > 0, "the activity gate left frames of the empty scene undetected (and named everyone)"
    assert re.search(r"match threshold in force: \d\.\d+ \(auto; 4 people, 1\d faces; expected false accepts 0\.10%\)",
                     output), "the start-up log says which threshold is in force"
    assert all(e["camera"] == "lobby" for e in events)
    tracks = sorted({e["track_id"] for e in events if e["type"] == "track.started"})
    assert len(tracks) == len(plan.appearances), "\n".join(
        f"{e['type']} {e['track_id']} {e['name']} {e['box']} {e['frame_time']:.1f}" for e in events)
    for track, appearance in zip(tracks, plan.appearances):  # one face at a time: tracks start in plan order
        mine = [e for e in events if e["track_id"] == track]
        resolved = [e["name"] for e in mine if e["type"] == "identity.resolved"]
        ended = [e for e in mine if e["type"] == "track.ended"]
        assert resolved == ([appearance.name] if appearance.enrolled else []), (appearance.name, mine)
        assert not any(e["type"] == "identity.changed" for e in mine)
        assert len(ended) == 1 and ended[0]["name"] == (appearance.name if appearance.enrolled else "unknown")
        assert 1.5 < ended[0]["dwell_seconds"] <= appearance.duration + 0.5
    entered = [e["name"] for e in events if e["type"] == "person.entered"]
    assert entered == [a.name for a in plan.appearances if a.enrolled]
    assert sum(e["type"] == "person.left" for e in events) == len(entered)
    assert stored == [e["id"] for e in events]  # the stream holds the same events, in the same order
    assert [json.loads(line)["id"] for line in replay.stdout.splitlines()] == stored, replay.stderr
    # the example subscriber (examples/on_identity.py) printed each recognised person, in order
    assert [line.split(" is at camera lobby")[0] for line in printed.splitlines()] == entered, example_errors
    # each stranger's track left a sighting in the gallery file, one cluster per stranger; named tracks none
    with GalleryStore(gallery) as store:
        sightings = store.query("SELECT s.cluster_id, COUNT(f.id) FROM sightings s JOIN sighting_faces f "
                                "ON f.sighting_id = s.id GROUP BY s.id")
    strangers = [a for a in plan.appearances if not a.enrolled]
    assert len(sightings) == len(strangers) and all(0 < faces <= 3 for _, faces in sightings)
    assert len({cluster for cluster, _ in sightings}) == len({a.name for a in strangers})


def test_bench_measures_our_pipeline_and_prints_the_table(cache_dir, tmp_path):
    plan = make_plan(LFW, order=("Colin_Powell",), lead=0.5, duration=2.0, tail=0.5)
    video = write_demo(plan, tmp_path / "bench")
    config = tmp_path / "config.toml"
    config.write_text(f'[models]\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n')
    report = tmp_path / "bench.json"
    done = subprocess.run([str(FACETRACK), "bench", "--video", str(video), "--cameras", "2", "--runs", "1",
                           "--no-peers", "--json", str(report), "--config", str(config)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(report.read_text())["results"]
    assert set(results) == {"ours x1", "ours x2", "ours-live x1", "ours-live x2"}
    frames = int(plan.seconds * plan.fps)
    assert results["ours x1"]["frames"] == frames and results["ours x2"]["frames"] == 2 * frames
    assert results["ours x1"]["tracks"] == 1 and results["ours-live x1"]["latency_p50_ms"] > 0
    assert 0 < results["ours-live x2"]["steady_share"] <= 1.0 and results["ours-live x2"]["steady_latency_p50_ms"] > 0
    assert "ours-live x2" in done.stdout
