import logging
import re
from pathlib import Path

import pytest

from tracker.config import load_config, parse_config
from tracker.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_the_old_section_names_are_read_as_the_new_ones_with_a_warning(tmp_path, caplog):
    old = write(tmp_path, '[cluster]\nenabled = true\nworker_id = "door-box"\n')
    settings = load_config(old, environ={"FACETRACK__CLUSTER__FAILOVER_SECONDS": "9"})
    assert (settings.workers.enabled, settings.workers.worker_id, settings.workers.failover_seconds) == \
        (True, "door-box", 9.0)
    assert "[cluster] is now [workers]" in caplog.text
    both = write(tmp_path, '[cluster]\nenabled = true\nworker_id = "old"\n\n[workers]\nworker_id = "new"\n')
    assert load_config(both, environ={}).workers.worker_id == "new"  # the new name wins
    sightings = write(tmp_path, "[sightings]\njoin_share = 0.7\n")
    assert load_config(sightings, environ={}).unknowns.join_share == 0.7
    assert "[sightings] is now [unknowns]" in caplog.text


def test_shipped_config_holds_every_default():
    from tracker.config import Config

    assert load_config(ROOT / "config.toml", environ={}) == Config()


def test_config_toml_and_the_docs_reference_are_generated_from_the_field_descriptions():
    from tracker import config_reference
    from tracker.config import Config

    assert (ROOT / "config.toml").read_text() == config_reference.config_toml(), \
        "config.toml is stale: run .venv/bin/python -m tracker.config_reference --write"
    assert (ROOT / "docs" / "configuration.md").read_text() == config_reference.reference_markdown(), \
        "docs/configuration.md is stale: run .venv/bin/python -m tracker.config_reference --write"
    every = {f"{s}.{k}" for s, f in Config.model_fields.items() if s != "cameras"
             for k, field in f.annotation.model_fields.items() if not field.deprecated}
    listed = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", config_reference.reference_markdown(), re.M))
    assert listed == every  # every setting once, none that is not one (deprecated ones are not listed)


def test_every_setting_is_said_in_at_most_two_lines():
    """A description fits two lines of config.toml (200 characters); what a setting trades and the figures behind
    its default belong in docs/tuning.md."""
    from tracker.config import CameraConfig, Config

    fields = [(f"{s}.{k}", field) for s, f in Config.model_fields.items() if s != "cameras"
              for k, field in f.annotation.model_fields.items()]
    fields += [(f"cameras[].{k}", field) for k, field in CameraConfig.model_fields.items()]
    long = {key: len(field.description or "") for key, field in fields if len(field.description or "") > 200}
    assert not long, long


def test_a_deprecated_setting_is_accepted_with_a_warning_that_says_what_to_do(tmp_path, caplog):
    config = tmp_path / "config.toml"
    config.write_text("[redis]\nport = 6390\n")
    with caplog.at_level(logging.WARNING):
        assert load_config(config, environ={}).redis.data_dir == "data/redis"
    assert "redis.port is ignored" in caplog.text and "remove redis.port" in caplog.text


def test_a_retired_setting_is_read_one_release_more_ignored_with_a_warning_that_says_where_its_value_is(tmp_path,
                                                                                                      caplog):
    from tracker.track.state import SPLIT_SHARE

    config = write(tmp_path, "[tracking]\nsplit_share = 2.0\nmax_age = 3.0\n\n[pipeline]\nmax_wait_ms = 9\n")
    with caplog.at_level(logging.WARNING):
        settings = load_config(config, environ={"FACETRACK__TRACKING__JUMP": "0.9"})
    assert settings.tracking.max_age == 3.0 and not hasattr(settings.tracking, "split_share")
    assert SPLIT_SHARE == 1.1  # the value in force, whatever the file said
    for origin, key, where in ((config, "tracking.split_share", "SPLIT_SHARE in tracker/track/state.py"),
                               (config, "pipeline.max_wait_ms", "MAX_WAIT_MS in pipelines/live/executor.py"),
                               ("FACETRACK__TRACKING__JUMP", "tracking.jump", "JUMP in tracker/track/schedule.py")):
        assert f"{origin}: {key} is no longer a setting and is ignored (its value is fixed: {where}" in caplog.text


def test_every_retired_setting_names_a_constant_that_exists():
    import importlib

    from tracker.config import RETIRED

    for key, where in RETIRED.items():
        constant, path = where.split(" in ")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        assert hasattr(module, constant), f"{key}: {where}"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("[models]\nembeder = 'x'\n", "models.embeder: unknown key"),
        ("[detector]\nmin_face_size = 5\n", "detector.min_face_size: Input should be greater than or equal to 12"),
        ("[detector]\nscale = 1.5\n", "detector.scale"),
        ("[models]\nembedder = 'arcface'\n", "models.embedder"),
        ("[verify]\nthreshold = -1\n", "verify.threshold"),
        ("[redis]\nurl = 'http://x'\n", "redis.url: Value error, 'http://x' is not a redis://"),
        ("[camera]\n", "camera: unknown key"),
        ("[match]\nfar = 0.05\nreview_far = 0.01\n", "review_far (0.01) must be above match.far (0.05), or 0"),
    ],
)
def test_bad_values_name_the_file_and_key(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value).startswith(f"{path}: ")
    assert fragment in str(caught.value)


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[models\n"))


def test_environment_overrides_file_values():
    env = {"FACETRACK__REDIS__URL": "redis://cache:6379/1", "FACETRACK__DETECTOR__MIN_FACE_SIZE": "64"}
    config = parse_config({"redis": {"url": ""}}, "test", env)
    assert config.redis.url == "redis://cache:6379/1"
    assert config.detector.min_face_size == 64


def test_bad_environment_override_is_reported():
    with pytest.raises(ConfigError, match="detector.scale"):
        parse_config({}, "test", {"FACETRACK__DETECTOR__SCALE": "3"})


def test_camera_errors_name_the_camera_by_position():
    with pytest.raises(ConfigError, match=r"c.toml: cameras\[1\].fps: Input should be greater than 0"):
        parse_config({"cameras": [{"id": "a", "url": "x.mp4"}, {"id": "b", "url": "y", "fps": 0}]}, "c.toml", {})
    with pytest.raises(ConfigError, match="camera id 'a' is used twice"):
        parse_config({"cameras": [{"id": "a", "url": "x.mp4"}, {"id": "a", "url": "y"}]}, "c.toml", {})
    with pytest.raises(ConfigError, match=r"cameras\[0\].id"):
        parse_config({"cameras": [{"id": "front door", "url": "x.mp4"}]}, "c.toml", {})


def test_a_camera_url_that_nests_ffmpeg_protocols_is_refused_and_a_file_path_reaches_ffmpeg_as_a_file():
    from pipelines.live.media import file_target

    nested = "subfile,,start,0,end,0,,:file:///etc/passwd"  # passes a scheme prefix check: "subfile,," is none
    with pytest.raises(ConfigError, match=r"cameras\[0\].url: .*only rtsp, rtsps, http, https:// URLs"):
        parse_config({"cameras": [{"id": "a", "url": nested}]}, "c.toml", {})
    for fine in ("rtsp://cam/stream", "HTTPS://cam/mjpg", "videos/door.mp4", "./odd:name.mp4", "0"):
        assert parse_config({"cameras": [{"id": "a", "url": fine}]}, "c.toml", {}).cameras[0].url == fine
    assert file_target("subfile,,start,0,end,0,,:secret.mp4").startswith("/")  # no protocol before a colon
