"""Right name on the right face through `facetrack run`: two hard scenarios (hard cuts that put
another person where the last one stood; two people crossing with a stranger nearby) play as
two cameras with Redis, and the events alone must show no wrong name and every enrolled
person named."""

import json
import subprocess

import pytest
import redis

from pipelines.eval.scenarios import RECIPES, write_scenario
from pipelines.events.publisher import stream_key
from pipelines.events.redis_server import EmbeddedRedis
from tests.support.cli import FACETRACK, run
from tests.support.data import LFW, needs_data

pytestmark = needs_data


@pytest.fixture(scope="module")
def scenes(tmp_path_factory, cache_dir):
    folder = tmp_path_factory.mktemp("scenes")
    config = folder / "config.toml"
    config.write_text(f'[models]\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n')
    scenarios = {name: RECIPES[name](LFW) for name in ("cut", "crossing")}
    videos = {name: write_scenario(s, folder / name) for name, s in scenarios.items()}
    for name in scenarios:
        enrolled = run("enroll", "--dir", folder / name / "enroll", "--gallery", folder / "gallery.db", config=config)
        assert enrolled.returncode == 0, enrolled.stderr  # fixed recipes: every photograph of them is enrolled
    return folder, scenarios, videos


def events_of_run(folder, videos, cache_dir) -> list[dict]:
    with EmbeddedRedis(folder / "redis") as server:
        cameras = "".join(f'[[cameras]]\nid = "{name}"\nurl = "{video}"\nfps = 5.0\n\n' for name, video in
                          videos.items())
        config = folder / "run.toml"
        config.write_text(f'[models]\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n\n[gallery]\npath = '
                          f'"{folder / "gallery.db"}"\n\n[redis]\nurl = "{server.url}"\n\n[http]\nport = 0\n\n'
                          + cameras)
        done = subprocess.run([str(FACETRACK), "run", "--config", str(config)], capture_output=True, text=True,
                              timeout=150)
        assert done.returncode == 0, done.stderr[-3000:]
        client = redis.Redis.from_url(server.url)
        try:
            return [json.loads(fields[b"event"]) for _, fields in client.xrange(stream_key("facetrack"))]
        finally:
            client.close()


def tracks_of(events: list[dict], camera: str) -> dict[int, list[dict]]:
    tracks: dict[int, list[dict]] = {}
    for e in events:
        if e["camera"] == camera and e["track_id"] is not None:
            tracks.setdefault(e["track_id"], []).append(e)
    return tracks


def test_no_event_names_the_wrong_person_across_cuts_and_crossings(scenes, cache_dir):
    folder, scenarios, videos = scenes
    events = events_of_run(folder, videos, cache_dir)
    assert not [e for e in events if e["type"] == "identity.changed"]

    cut = scenarios["cut"]
    shots = [a.person for a in cut.actors]  # one per shot, the last never enrolled
    enrolled = [a.person for a in cut.actors if a.enrolled]
    tracks = tracks_of(events, "cut")
    named = [e["name"] for e in events if e["camera"] == "cut" and e["type"] == "identity.resolved"]
    assert named == enrolled, f"each enrolled person named once, in order: {named}"
    for track in tracks.values():
        ended = [e for e in track if e["type"] == "track.ended"]
        assert len(ended) == 1
        if ended[0]["name"] != "unknown":  # a named track never outlasts its person's shot
            assert ended[0]["dwell_seconds"] <= 3.3, (ended[0]["name"], ended[0]["dwell_seconds"])
    assert any(t[-1]["name"] == "unknown" for t in tracks.values()), f"{shots[-1]} stays unknown"

    crossing = scenarios["crossing"]
    walkers = {a.person for a in crossing.actors if a.enrolled}
    named = [e["name"] for e in events if e["camera"] == "crossing" and e["type"] == "identity.resolved"]
    assert set(named) == walkers and len(named) == len(walkers), named
    names_per_track = [{e["name"] for e in t if e["type"] != "track.started"} - {"unknown"}
                       for t in tracks_of(events, "crossing").values()]
    assert all(len(names) <= 1 for names in names_per_track), names_per_track
