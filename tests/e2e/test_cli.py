"""The ``facetrack`` command as a user runs it."""

import json

import pytest

from tests.support.cli import run
from tests.support.data import LFW, STILLS, lfw_image, needs_data


@pytest.fixture(scope="module")
def config_file(tmp_path_factory, cache_dir):
    path = tmp_path_factory.mktemp("cli") / "config.toml"
    path.write_text(f'[models]\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n')
    return path


@needs_data
def test_detect_lists_the_faces_and_writes_an_annotated_copy(config_file, tmp_path):
    out = tmp_path / "annotated.jpg"
    result = run("detect", STILLS / "group_six.jpg", "--out", out, config=config_file)
    assert result.returncode == 0, result.stderr
    assert "6 face(s)" in result.stdout
    assert out.stat().st_size > 10_000


@needs_data
def test_verify_exit_codes_say_same_or_different(config_file):
    same = run("verify", lfw_image("Colin_Powell", 1), lfw_image("Colin_Powell", 2), config=config_file)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "same person" in same.stdout
    other = run("verify", lfw_image("Colin_Powell", 1), lfw_image("Tony_Blair", 1), config=config_file)
    assert other.returncode == 1, other.stdout + other.stderr
    assert "different people" in other.stdout


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.jpg", "missing.jpg: no such file"),
        (lambda d: (d / "notes.jpg").write_text("hello") and d / "notes.jpg", "notes.jpg: not an image"),
        (lambda d: (d / "empty.png").write_bytes(b"") or d / "empty.png", "empty.png: file is empty"),
        (lambda d: d, "is a folder, not an image"),
    ],
)
def test_unreadable_inputs_are_errors_naming_the_file(config_file, tmp_path, make, message):
    bad = make(tmp_path)
    result = run("verify", bad, bad, config=config_file)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@needs_data
def test_truncated_jpeg_and_faceless_image_are_errors(config_file, tmp_path):
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(lfw_image("Colin_Powell", 1).read_bytes()[:300])
    result = run("detect", truncated, config=config_file)
    assert result.returncode == 2 and "truncated.jpg" in result.stderr
    import numpy as np

    from tracker.images import write_image

    blank = tmp_path / "wall.png"
    write_image(blank, np.full((200, 200, 3), 90, np.uint8))
    result = run("verify", blank, lfw_image("Colin_Powell", 1), config=config_file)
    assert result.returncode == 2
    assert "wall.png: no face found" in result.stderr


def test_bad_config_is_an_error_naming_the_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[detector]\nscale = 7\n")
    result = run("config", "check", bad)
    assert result.returncode == 2
    assert f"{bad}: detector.scale" in result.stderr
    for command in (["detect", "x.jpg"], ["verify", "a.jpg", "b.jpg"]):
        result = run(*command, config=bad)
        assert result.returncode == 2 and "detector.scale" in result.stderr


def test_config_check_prints_the_resolved_config(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text("[models]\nthreads = 1\n")
    result = run("config", "check", good)
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)
    assert resolved["models"]["threads"] == 1
    assert resolved["detector"]["min_face_size"] == 24 and resolved["detector"]["model"] == "yunet"


@needs_data
def test_eval_lfw_reports_accuracy_json_and_roc(config_file, tmp_path):
    # The first 60 same and 60 different pairs of LFW's development test set.
    lines = (LFW / "pairsDevTest.txt").read_text().splitlines()
    subset = tmp_path / "pairs-120.txt"
    subset.write_text("\n".join(["60", *lines[1:61], *lines[501:561]]) + "\n")
    report, roc = tmp_path / "report.json", tmp_path / "roc.png"
    result = run("eval", "lfw", "--root", LFW, "--pairs", subset, "--json", report, "--roc", roc, config=config_file)
    assert result.returncode == 0, result.stderr
    data = json.loads(report.read_text())
    for key in ("accuracy_mean", "accuracy_std", "val_at_far_1e-3", "threshold", "no_face_images", "auc"):
        assert key in data
    assert data["pairs"] == 120
    assert data["accuracy_mean"] >= 0.95
    assert data["auc"] >= 0.98
    assert roc.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "accuracy" in result.stdout
