"""Real broadcast footage through ``facetrack run`` and a real Redis: a sitcom scene with 34 hard cuts and six
people, enrolled from ordinary photographs (the folder's own), played as a camera at 5 analysed frames a second.
The names its events give must be right shot by shot (``shots.csv``): the close-ups named, no name ever given
in a shot whose people do not include it (a name carried across a cut, or a stranger named)."""

import subprocess

import cv2
import pytest
import redis

from gallery.store import GalleryStore
from pipelines.eval.real import enroll_variant, read_shots
from pipelines.events.publisher import stream_key
from pipelines.events.redis_server import EmbeddedRedis
from tests.support.cli import FACETRACK
from tests.support.data import DATA, LFW
from tracker.events import Event

FRIENDS = DATA / "real" / "friends"
pytestmark = pytest.mark.skipif(not (FRIENDS / "shots.csv").is_file(), reason=f"real footage not found at {FRIENDS}")


def named_spans(events: list[Event], rate: float) -> list[tuple[str, int, int]]:
    """``(name, first frame, last frame)`` for each stretch of a track under one name, from its events."""
    spans, open_at = [], {}
    for e in events:
        frame = round(e.video_time * rate)
        if e.track_id in open_at and (e.type in ("identity.changed", "track.ended")):
            name, start = open_at.pop(e.track_id)
            spans.append((name, start, frame))
        if e.type in ("identity.resolved", "identity.changed") and e.identity_id is not None:
            open_at[e.track_id] = (e.name, frame)
    return spans + [(name, start, 10**9) for name, start in open_at.values()]


@pytest.mark.timeout(600)
def test_a_sitcom_scene_with_hard_cuts_is_named_shot_by_shot_and_no_name_crosses_a_cut(analyzer, config, cache_dir,
                                                                                       tmp_path):
    video, shots = FRIENDS / "cold_open_video_only.mp4", read_shots(FRIENDS / "shots.csv")
    gallery = tmp_path / "gallery.db"
    with GalleryStore(gallery) as store:
        enroll_variant(analyzer, store, config, FRIENDS, "all", LFW)
    capture = cv2.VideoCapture(str(video))
    rate = capture.get(cv2.CAP_PROP_FPS)  # the reader's clock: frame number / the container's rate
    capture.release()
    with EmbeddedRedis(tmp_path / "redis") as server:
        settings = tmp_path / "config.toml"
        settings.write_text(
            f'[models]\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n\n[gallery]\npath = "{gallery}"\n\n'
            f'[redis]\nurl = "{server.url}"\n\n[http]\nport = 0\n\n'
            f'[[cameras]]\nid = "tv"\nurl = "{video}"\nfps = 5.0\nrealtime = false\n')
        done = subprocess.run([str(FACETRACK), "run", "--config", str(settings)], capture_output=True, text=True,
                              timeout=540)
        client = redis.Redis.from_url(server.url)
        events = [Event.model_validate_json(fields[b"event"]) for _, fields in client.xrange(stream_key("facetrack"))]
        client.close()
    assert done.returncode == 0, done.stderr[-3000:]
    assert events and all(e.video_time is not None for e in events)

    def shot_at(frame: int):
        return next(s for s in shots if s.start <= frame < s.end)

    decided = [e for e in events if e.type in ("identity.resolved", "identity.changed", "person.entered")
               and e.identity_id is not None]
    wrong = [(e.type, e.name, shot_at(round(e.video_time * rate)).name) for e in decided
             if e.name not in shot_at(round(e.video_time * rate)).visible]
    assert not wrong, f"names given in shots without that person: {wrong}"
    asked = [(e.name, shot_at(round(e.video_time * rate))) for e in events if e.type == "identity.review"]
    assert all(name in shot.visible for name, shot in asked), f"reviews of people not in the shot: {asked}"

    spans = named_spans(events, rate)
    closeups = [(s, person) for s in shots for person in sorted(s.closeup)]
    named = [(s.name, p) for s, p in closeups if any(n == p and a < s.end and b >= s.start for n, a, b in spans)]
    assert len(named) >= 17, f"{len(named)} of {len(closeups)} close-ups named: {named}"
    carried = [(n, s.name) for n, a, b in spans for s in shots
               if a < s.start and b >= s.start + 5 and n not in s.visible]  # > one analysed frame into the shot
    assert not carried, f"names carried across a cut into a shot without them: {carried}"
