"""A folder of recordings as a camera, end to end: ``facetrack run`` watches a folder while three clips are dropped
into it one by one and names the person in each, saying which file and where in it; a corrupt file is skipped with
one clear log line; a restart plays none of the clips again, and plays the next one."""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis

from pipelines.eval.synthetic import make_plan, write_demo
from pipelines.events.publisher import stream_key
from pipelines.events.redis_server import EmbeddedRedis
from tests.support.cli import FACETRACK
from tests.support.data import LFW, needs_data
from tests.support.videos import enroll_plan

pytestmark = [needs_data, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory, analyzer, config):
    """A short recording with Colin Powell (enrolled) in view from its start to its end, so that one recording
    ends and the next begins with the same face; and a gallery of Colin Powell."""
    folder = tmp_path_factory.mktemp("recording")
    plan = make_plan(LFW, order=("Colin_Powell",), duration=3.0, lead=0.1, tail=0.1)
    return plan, write_demo(plan, folder), enroll_plan(plan, folder / "gallery.db", analyzer, config)


def until(condition, seconds: float, what: str, log: Path):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.2)
    pytest.fail(f"not within {seconds} s: {what}\n{log.read_text()[-3000:]}")


def events(client: redis.Redis) -> list[dict]:
    return [json.loads(fields[b"event"]) for _, fields in client.xrange(stream_key("facetrack"))]


def named(client: redis.Redis) -> dict[str, list[dict]]:
    """The identity.resolved events in the Stream, by recording."""
    found: dict[str, list[dict]] = {}
    for event in events(client):
        if event["type"] == "identity.resolved":
            found.setdefault(event["video_file"], []).append(event)
    return found


def drop(video: Path, folder: Path, name: str) -> None:
    """As a recorder finishes a file: written under a temporary name (a while ago), then renamed."""
    shutil.copy2(video, folder / f"{name}.part")
    os.rename(folder / f"{name}.part", folder / name)


def test_recordings_dropped_into_a_folder_are_each_named_once_across_a_restart(clip, cache_dir, tmp_path):
    plan, video, gallery = clip
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    config = tmp_path / "config.toml"
    log = tmp_path / "run.log"
    with EmbeddedRedis(tmp_path / "redis") as server, log.open("a") as sink:
        config.write_text(
            f'[models]\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n\n[gallery]\npath = "{gallery}"\n\n'
            f'[redis]\nurl = "{server.url}"\n\n[http]\nport = 0\n\n'
            f'[[cameras]]\nid = "nvr"\nurl = "{recordings}"\nfps = 5.0\nrealtime = false\n')
        client = redis.Redis.from_url(server.url)
        running: list[subprocess.Popen] = []

        def run() -> None:
            running.append(subprocess.Popen([str(FACETRACK), "run", "--config", str(config)], stderr=sink))

        def stop() -> None:
            running[-1].send_signal(signal.SIGINT)
            assert running[-1].wait(timeout=120) == 0, log.read_text()[-3000:]

        try:
            run()
            for name in ("a.avi", "b.avi", "c.avi"):
                drop(video, recordings, name)
                until(lambda n=name: n in named(client), 240, f"Colin_Powell named in {name}", log)
            (recordings / "broken.avi").write_bytes(b"RIFF" + os.urandom(4096))
            until(lambda: "broken.avi" in log.read_text(), 60, "the corrupt recording said", log)
            stop()
            before = named(client)
            run()
            drop(video, recordings, "d.avi")
            until(lambda: "d.avi" in named(client), 240, "Colin_Powell named in d.avi", log)
            stop()
        finally:
            for process in running:
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=30)
        after, every = named(client), events(client)
        client.close()

    assert sorted(after) == ["a.avi", "b.avi", "c.avi", "d.avi"]
    assert {name: len(events) for name, events in after.items() if name != "d.avi"} == {
        name: len(events) for name, events in before.items()}  # the restart played none of them again
    for resolved in after.values():
        assert [e["name"] for e in resolved] == ["Colin_Powell"]  # named once in each recording
        assert 0.0 <= resolved[0]["video_time"] <= plan.seconds  # where in the recording, not on the run's clock
    recording = {(e["run"], e["track_id"]): e["video_file"] for e in every if e["type"] == "track.started"}
    ended = [e for e in every if e["type"] == "track.ended"]
    assert len(ended) == 4 and all(e["video_file"] == recording[e["run"], e["track_id"]] for e in ended)  # no track
    # spans two recordings
    assert {e["video_file"] for e in ended} == {"a.avi", "b.avi", "c.avi", "d.avi"}  # each ended with its file
    said = [line for line in log.read_text().splitlines() if "broken.avi" in line]
    assert len(said) == 1 and "skipped" in said[0], said
