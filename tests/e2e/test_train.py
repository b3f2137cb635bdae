"""``facetrack train`` as a user runs it, on an LFW-shaped folder of a dozen real people: the test fold's people
are left out, the head and its record are written, and the head turns embeddings into unit vectors."""

import json

import torch

from pipelines.train.heads import load_head
from tests.support.cli import run
from tests.support.data import needs_data, tiny_lfw

pytestmark = needs_data
TEST_FOLD = ("Aaron_Peirsol", "Abdullah_Gul")  # the people of the tiny pairs file's one fold


def test_train_leaves_the_test_fold_out_and_writes_a_head_with_its_record(tmp_path, cache_dir):
    a, b = TEST_FOLD
    people = tiny_lfw(tmp_path / "lfw", TEST_FOLD, f"1 1\n{a} 1 2\n{a} 1 {b} 1\n")
    config = tmp_path / "config.toml"
    config.write_text(f'[models]\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n')
    done = run("train", "--root", tmp_path / "lfw", "--fold", "1", "--steps", "40", "--sizes", "full,32",
               "--out", tmp_path / "head.pt", config=config)
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads((tmp_path / "head.pt.json").read_text())
    assert record["people"] == len({p.name for p in people} - set(TEST_FOLD)) and record["test_people_left_out"] == 2
    assert record["base"].startswith("omz-reid-0095:") and record["id"] in done.stdout
    head = load_head(tmp_path / "head.pt")
    out = head(torch.nn.functional.normalize(torch.randn(4, head.dim_in), dim=1))
    assert torch.allclose(out.norm(dim=1), torch.ones(4), atol=1e-5)
    refused = run("train", "--root", tmp_path / "lfw", "--fold", "2", "--out", tmp_path / "x.pt", config=config)
    assert refused.returncode == 2 and "fold 2: the pairs file has folds 1-1" in refused.stderr
