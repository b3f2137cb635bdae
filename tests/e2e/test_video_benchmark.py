"""The video identity benchmark as a user runs it: a hard scenario generated from LFW, enrolled,
played through the live pipeline and scored; then the same video scored again with eval video."""

import json

from tests.support.cli import run
from tests.support.data import LFW, needs_data

pytestmark = needs_data
MEASURES = {"frames", "idf1", "id_switches", "wrong_name_seconds", "absent_named_seconds", "unknown_named_seconds",
            "named_coverage", "first_name_seconds"}


def test_a_scenario_is_generated_played_and_scored_the_same_way_twice(tmp_path, cache_dir):
    config = tmp_path / "config.toml"
    config.write_text(f'[models]\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n')
    scenarios = run("eval", "scenarios", "--lfw", LFW, "--only", "cut", "--out", tmp_path / "s", "--json",
                    tmp_path / "s.json", config=config)
    assert scenarios.returncode == 0, scenarios.stderr
    assert "IDF1" in scenarios.stdout and "cut" in scenarios.stdout
    first = json.loads((tmp_path / "s.json").read_text())["cut"]
    assert set(first) == MEASURES | {"frame_seconds"}
    assert first["frames"] == 45 and first["frame_seconds"] == 0.2  # 9 s analysed at 5 frames per second
    assert len(first["first_name_seconds"]) == 2  # the two enrolled people of the scenario
    folder = tmp_path / "s" / "cut"
    again = run("eval", "video", folder / "video.avi", "--truth", folder / "truth.json", "--gallery",
                folder / "gallery.db", "--json", tmp_path / "v.json", config=config)
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "v.json").read_text())["video.avi"] == first  # frame by frame: repeatable

    bad = run("eval", "video", folder / "video.avi", "--truth", tmp_path / "missing.json", "--gallery",
              folder / "gallery.db", config=config)
    assert bad.returncode == 2 and "missing.json: cannot read ground truth" in bad.stderr
