"""Home Assistant's way in, end to end: ``facetrack run`` on real footage (a sitcom scene, six enrolled people,
34 hard cuts) -> Redis -> ``facetrack mqtt`` -> a real Mosquitto broker with a password -> subscribers. They
see the discovery config, each person ``home`` then ``not_home``, and every event exactly once, though the
bridge and the broker are both restarted mid-run; the clip's reviews appear, and one is answered from Home
Assistant's button."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import cv2
import pytest
import redis

from gallery.reviews import Reviews
from gallery.store import GalleryStore
from pipelines.eval.real import enroll_variant
from pipelines.events.erase import bridge_state_key
from pipelines.events.publisher import stream_key
from pipelines.events.redis_server import EmbeddedRedis
from tests.support.cli import FACETRACK
from tests.support.data import DATA, LFW
from tests.support.mqtt import PASSWORD, USER, Mosquitto, Recorder, needs_mosquitto, until
from tracker.events import Event

FRIENDS = DATA / "real" / "friends"
VIDEO = FRIENDS / "cold_open_video_only.mp4"
pytestmark = [needs_mosquitto, pytest.mark.timeout(600),
              pytest.mark.skipif(not (FRIENDS / "shots.csv").is_file(), reason=f"real footage not found at {FRIENDS}")]


def test_run_to_mosquitto_with_discovery_presence_and_no_event_lost_or_doubled_through_restarts(
        analyzer, config, cache_dir, tmp_path):
    gallery = tmp_path / "gallery.db"
    with GalleryStore(gallery) as store:
        enroll_variant(analyzer, store, config, FRIENDS, "all", LFW)
    with EmbeddedRedis(tmp_path / "redis") as server, Mosquitto(tmp_path / "mqtt") as broker:
        settings = tmp_path / "config.toml"
        settings.write_text(
            f'[models]\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n\n[gallery]\npath = "{gallery}"\n\n'
            f'[redis]\nurl = "{server.url}"\n\n[http]\nport = 0\n\n'
            f'[mqtt]\nurl = "{broker.url}"\nusername = "{USER}"\nreviews = true\n\n[presence]\naway_seconds = 1.0\n\n'
            f'[[cameras]]\nid = "tv"\nurl = "{VIDEO}"\nfps = 5.0\nrealtime = false\n'
            'zones = {left = [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}\n')
        env = {**os.environ, "FACETRACK__MQTT__PASSWORD": PASSWORD}  # the secret stays out of the file
        events = Recorder(broker, "facetrack/events", client_id="events-reader", persistent=True)
        states = Recorder(broker, "facetrack/person/+/state", client_id="state-reader", persistent=True)
        logs, processes, recorders = [], [], [events, states]

        def bridge() -> subprocess.Popen:
            logs.append((tmp_path / f"bridge{len(logs)}.log").open("w"))
            processes.append(subprocess.Popen([str(FACETRACK), "mqtt", "--config", str(settings)], env=env,
                                              stdout=logs[-1], stderr=subprocess.STDOUT))
            return processes[-1]

        try:
            first = bridge()
            run = subprocess.Popen([str(FACETRACK), "run", "--config", str(settings)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            processes.append(run)
            until(lambda: len(events.seen()) >= 10, 240, "ten events over MQTT")
            first.send_signal(signal.SIGTERM)  # the bridge restarted mid-run
            assert first.wait(timeout=30) == 0
            second = bridge()
            until(lambda: len(events.seen()) >= 40, 240, "forty events over MQTT")
            broker.stop()  # and the broker: the bridge holds what it could not send
            time.sleep(2)
            broker.start()
            _, stderr = run.communicate(timeout=480)
            assert run.returncode == 0, stderr[-3000:]

            client = redis.Redis.from_url(server.url)
            entries = client.xrange(stream_key("facetrack"))
            written = [Event.model_validate_json(fields[b"event"]) for _, fields in entries]
            last = entries[-1][0].decode()
            until(lambda: json.loads(client.get(bridge_state_key("facetrack")) or "{}").get("last_id") == last, 60,
                  "the bridge at the Stream's end")
            until(lambda: len(events.seen()) >= len(written), 30, "every event over MQTT")
            published = [json.loads(payload)["id"] for _, payload, _ in events.seen()]
            assert published == [e.id for e in written]  # each once, in order, through both restarts

            people = {e.identity_id: e.name for e in written if e.type == "person.entered"}
            assert len(people) >= 4, people
            width = cv2.VideoCapture(str(VIDEO)).get(cv2.CAP_PROP_FRAME_WIDTH)
            boxed = [e for e in written if e.box is not None]
            assert boxed and all(e.zones == (["left"] if (e.box[0] + e.box[2]) / 2 < width / 2 else []) for e in boxed)
            entered = {(e.identity_id, e.zone) for e in written if e.type == "person.entered"}
            assert any(zone == "left" for _, zone in entered)  # someone walked into the zone, as its own entry
            retained = Recorder(broker)  # everyone has left the (ended) video: not_home once away_seconds have passed
            recorders.append(retained)
            latest = until(lambda: (lambda seen: seen if all(seen.get(f"facetrack/person/{i}/state") == b"not_home"
                                                             for i in people) else None)(retained.latest()), 60,
                           "every person's retained state, not_home")
            for identity, name in people.items():
                discovery = json.loads(latest[f"homeassistant/device_tracker/facetrack_{identity}/config"])
                assert discovery["name"] == name and discovery["state_topic"] == f"facetrack/person/{identity}/state"
                assert latest[f"facetrack/person/{identity}/state"] == b"not_home"
                seen = [p for t, p, _ in states.seen() if t == f"facetrack/person/{identity}/state"]
                assert b"home" in seen and seen[-1] == b"not_home", (name, seen)
            assert json.loads(latest["homeassistant/sensor/facetrack_tv/config"])["state_topic"] == \
                "facetrack/camera/tv/state"
            with GalleryStore(gallery) as store:
                waiting = {r.id: r for r in Reviews(store).items()}
            assert waiting  # the clip's almost-named close-ups (docs/benchmarks.md, "Reviews")
            shown = until(lambda: (lambda seen: seen if json.loads(seen.get("facetrack/reviews", b"{}")).get(
                "waiting") == len(waiting) else None)(retained.latest()), 30, "the reviews on the broker")
            asked = min(waiting)  # answered in Home Assistant: its "yes" button pressed (the truth, on this clip)
            press = json.loads(shown[f"homeassistant/button/facetrack_review_{asked}_yes/config"])
            retained.client.publish(press["command_topic"], press["payload_press"], qos=1)
            until(lambda: retained.latest().get(f"facetrack/review/{asked}/state") == b"" and
                  f"facetrack/review/{asked}/result" in retained.latest(), 30, "the answered review cleared")
            result = json.loads(retained.latest()[f"facetrack/review/{asked}/result"])
            assert (result["answer"], result["answered_as"]) == ("yes", waiting[asked].name)
            with GalleryStore(gallery) as store:
                assert Reviews(store).get(asked).answer == "yes"
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0
            client.close()
        finally:  # a failure leaves no process, file or client behind for the next test
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.communicate()
            for log in logs:
                log.close()
            for recorder in recorders:
                recorder.close()
    for log in logs:
        text = Path(log.name).read_text()
        assert PASSWORD not in text and "mqtt: publishing to" in text, text[-2000:]
