"""``facetrack train`` as a user runs it, on an LFW-shaped folder of a dozen real people: the test fold's people
are left out, the head, its record and its calibration are written under ``models.cache_dir/heads``, and
``models.head`` then makes it the model a gallery is re-embedded for and faces are named with."""

import json

import torch

from tests.support.cli import run
from tests.support.data import LFW, needs_data, tiny_lfw
from tracker.train.head import load_head

pytestmark = needs_data
TEST_FOLD = ("Aaron_Peirsol", "Abdullah_Gul")  # the people of the tiny pairs file's one fold


def test_a_trained_head_is_recorded_calibrated_and_used_by_the_gallery_once_configured(tmp_path, cache_dir):
    a, b = TEST_FOLD
    people = tiny_lfw(tmp_path / "lfw", TEST_FOLD, f"1 1\n{a} 1 2\n{a} 1 {b} 1\n")
    heads = tmp_path / "cache" / "heads"
    base = tmp_path / "base.toml"
    base.write_text(f'[models]\ncache_dir = "{tmp_path / "cache"}"\ndevice = "cpu"\n')
    done = run("train", "--root", tmp_path / "lfw", "--fold", "1", "--steps", "40", "--views", "full,32",
               config=base)
    assert done.returncode == 0, done.stderr[-2000:]
    (weights,) = heads.glob("*.pt")
    record = json.loads(weights.with_suffix(".pt.json").read_text())
    assert record["people"] == len({p.name for p in people} - set(TEST_FOLD)) and record["test_people_left_out"] == 2
    assert record["base"].startswith("omz-reid-0095:") and record["id"] == weights.stem and record["id"] in done.stdout
    calibration = record["calibration"]
    assert calibration["on"].startswith("LFW fold 1's 2 people") and 0.0 < calibration["verify_threshold"] < 4.0
    assert calibration["impostor_pairs"] > 0 and len(calibration["impostor"]) > 10
    head = load_head(weights)
    out = head(torch.nn.functional.normalize(torch.randn(4, head.dim_in), dim=1))
    assert torch.allclose(out.norm(dim=1), torch.ones(4), atol=1e-5)

    gallery = tmp_path / "g.db"
    enrolled = run("enroll", "--dir", tmp_path / "lfw" / "images_deepfunneled", "--gallery", gallery, config=base)
    # exit 1: some photographs refused (LFW's folders hold group shots and blurred faces), each said; the rest in
    assert enrolled.returncode == 1 and "2 faces; the image must hold exactly one" in enrolled.stderr, \
        enrolled.stderr[-2000:]
    with_head = tmp_path / "head.toml"
    with_head.write_text(base.read_text() + f'head = "{record["id"]}"\n')
    stats = run("gallery", "stats", "--gallery", gallery, config=with_head)
    assert f"omz-reid-0095+{record['id']}" in stats.stdout, stats.stdout + stats.stderr
    assert run("gallery", "reembed", "--gallery", gallery, config=with_head).returncode == 0
    stats = run("gallery", "stats", "--gallery", gallery, config=with_head).stdout
    assert "auto (match.far 0.001)" in stats and "unknown" not in stats, stats  # from the head's own tables
    probe = LFW / "images_deepfunneled" / people[0].name / sorted(p.name for p in people[0].glob("*.jpg"))[-1]
    named = run("identify", probe, "--json", "--gallery", gallery, config=with_head)
    assert named.returncode == 0, named.stderr[-2000:]
    face = max(json.loads(named.stdout.splitlines()[0])["faces"], key=lambda f: f["box"][2] - f["box"][0])
    assert face["name"] == people[0].name

    refused = run("train", "--root", tmp_path / "lfw", "--fold", "2", config=base)
    assert refused.returncode == 2 and "fold 2: the pairs file has folds 1-1" in refused.stderr
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(base.read_text() + f'embedder = "dlib-resnet-v1"\nhead = "{record["id"]}"\n')
    mismatched = run("identify", probe, "--gallery", gallery, config=wrong)
    assert mismatched.returncode == 2 and f"was trained on {record['base']}" in mismatched.stderr
    missing = tmp_path / "missing.toml"
    missing.write_text(base.read_text() + 'head = "head-000000000000"\n')
    absent = run("identify", probe, "--gallery", gallery, config=missing)
    assert absent.returncode == 2 and "head-000000000000.pt does not exist" in absent.stderr
