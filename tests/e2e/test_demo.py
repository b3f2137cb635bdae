"""The README's first command, ``scripts/demo.sh``, as a user runs it: set-up (a no-op once the test set-up has
run), the demo video, enrollment (one photograph is refused for holding two faces: the demo must go on), the live
tracker on the video with the embedded Redis, and the events as ``facetrack events`` prints them from Redis."""

import os
import re
import subprocess

from pipelines.events.redis_server import free_port
from tests.support.data import DATA, ROOT, needs_data

pytestmark = needs_data

ENROLLED = {"Colin_Powell", "Junichiro_Koizumi", "Donald_Rumsfeld", "Gerhard_Schroeder"}


def test_the_demo_names_the_four_enrolled_people_and_no_one_else():
    env = {**os.environ, "FACETRACK_DATA": str(DATA), "FACETRACK__HTTP__PORT": str(free_port())}
    demo = subprocess.run(["bash", "scripts/demo.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "Junichiro_Koizumi_0001.jpg: 2 faces; the image must hold exactly one" in demo.stdout + demo.stderr
    named = re.findall(r"identity\.resolved\s+demo\s+track (\d+)\s+(\S+)", demo.stdout)
    ended = dict(re.findall(r"track\.ended\s+demo\s+track (\d+)\s+(\S+)", demo.stdout))
    assert {name for _, name in named} == ENROLLED, named
    assert len(named) == 4, "each enrolled person is named once, on a track of their own"
    assert len({track for track, _ in named}) == 4
    assert sorted(ended.values()).count("unknown") == 2, ended  # the two never enrolled
    assert len(ended) == 6
