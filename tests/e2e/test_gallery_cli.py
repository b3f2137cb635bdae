"""The gallery commands as a user runs them, and enrollment surviving kill -9."""

import json
import signal
import sqlite3
import subprocess
import time

import pytest

from gallery.enroll import Enroller
from gallery.store import GalleryStore
from tests.support.cli import FACETRACK, run
from tests.support.data import LFW, STILLS, lfw_image, needs_data
from tracker.face.card import load_card

THRESHOLD = load_card("omz-reid-0095").verify_threshold  # the default embedder's

pytestmark = needs_data


@pytest.fixture(scope="module")
def config_file(tmp_path_factory, cache_dir):
    path = tmp_path_factory.mktemp("gallery-cli") / "config.toml"
    settings = f'[models]\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n\n[match]\nthreshold = 0.0 # from calibration\n'
    path.write_text(settings)
    return path


def people_folder(root, people, per_person):
    """A folder of folders, one per LFW person, of links to their first images."""
    for person in people:
        folder = root / person
        folder.mkdir(parents=True)
        for i in range(1, per_person + 1):
            (folder / f"{i}.jpg").symlink_to(lfw_image(person, i))
    return root


def test_enroll_identify_and_manage_a_gallery(config_file, tmp_path):
    gallery = tmp_path / "g.db"
    folder = people_folder(tmp_path / "people", ["Colin_Powell", "Tony_Blair"], 3)
    (folder / "Tony_Blair" / "notes.jpg").write_text("not an image")
    (folder / "Tony_Blair" / "group.jpg").symlink_to(STILLS / "group_six.jpg")
    result = run("enroll", "--dir", folder, "--gallery", gallery, config=config_file)
    assert result.returncode == 1, result.stderr  # some files refused, the rest enrolled
    assert "notes.jpg: not an image" in result.stderr
    assert "group.jpg: 6 faces; the image must hold exactly one" in result.stderr
    assert "Colin_Powell" in result.stdout and "Tony_Blair" in result.stdout

    listed = run("gallery", "list", "--gallery", gallery, config=config_file)
    assert "Colin_Powell" in listed.stdout and "Tony_Blair" in listed.stdout
    stats = run("gallery", "stats", "--gallery", gallery, config=config_file)
    assert "match threshold in force" in stats.stdout and "auto (match.far 0.001)" in stats.stdout
    assert "0.100%" in stats.stdout  # the expected share of strangers named: match.far

    probe = lfw_image("Colin_Powell", 10)
    named = run("identify", probe, "--json", "--gallery", gallery, "--out", tmp_path / "ann", config=config_file)
    assert named.returncode == 0, named.stderr
    line = json.loads(named.stdout.splitlines()[0])
    assert line["image"] == str(probe)
    main_face = max(line["faces"], key=lambda f: f["box"][2] - f["box"][0])
    assert main_face["name"] == "Colin_Powell" and main_face["margin"] > 0.03
    assert main_face["distance"] < 0.5 * THRESHOLD  # a clear match
    assert (tmp_path / "ann" / "Colin_Powell_0010.jpg").is_file()

    assert run("gallery", "rename", "Tony_Blair", "Tony", "--gallery", gallery, config=config_file).returncode == 0
    assert run("gallery", "remove", "Tony", "--gallery", gallery, config=config_file).returncode == 0
    missing = run("gallery", "show", "Tony", "--gallery", gallery, config=config_file)
    assert missing.returncode == 2 and "no identity named 'Tony'" in missing.stderr
    odd = "[/x] Colin [bold]"  # a name that reads as rich markup is printed as it is, never parsed
    renamed = run("gallery", "rename", "Colin_Powell", odd, "--gallery", gallery, config=config_file)
    assert renamed.returncode == 0 and odd in renamed.stdout, renamed.stderr
    for command in (("gallery", "list"), ("gallery", "show", odd)):
        shown = run(*command, "--gallery", gallery, config=config_file)
        assert shown.returncode == 0 and odd in "".join(shown.stdout.split("\n")), (command, shown.stderr)

    exported = tmp_path / "export.facetrack"
    assert run("gallery", "export", exported, "--gallery", gallery, config=config_file).returncode == 0
    moved = run("gallery", "import", exported, "--gallery", tmp_path / "other.db", config=config_file)
    assert moved.returncode == 0 and "imported 1 people and 3 faces" in moved.stdout


def test_calibrate_writes_the_threshold_into_the_config(config_file, tmp_path):
    gallery = tmp_path / "g.db"
    folder = people_folder(tmp_path / "people", ["Colin_Powell", "Tony_Blair", "Donald_Rumsfeld"], 4)
    enrolled = run("enroll", "--dir", folder, "--gallery", gallery, config=config_file)
    assert enrolled.returncode == 1 and "Tony_Blair/1.jpg: 2 faces" in enrolled.stderr  # 1: a refusal, the rest in
    config = tmp_path / "config.toml"
    config.write_text(config_file.read_text())
    result = run("gallery", "calibrate", "--far", "0.01", "--lfw", LFW, "--lfw-count", "150", "--write",
                 "--gallery", gallery, config=config)
    assert result.returncode == 0, result.stderr
    assert "threshold for FAR 0.01" in result.stdout
    written = [line for line in config.read_text().splitlines() if line.startswith("threshold")]
    assert len(written) == 1 and float(written[0].split("=")[1].split("#")[0]) > 0
    assert "# from calibration" in written[0], "the comment on the line stays"
    assert "calibrated_far = 0.01" in config.read_text()
    assert run("config", "check", config).returncode == 0
    stats = run("gallery", "stats", "--gallery", gallery, config=config)
    assert "calibrated" in stats.stdout and f"{float(written[0].split('=')[1].split('#')[0]):.4f}" in stats.stdout


def test_kill_9_during_enrollment_leaves_no_partial_person(config_file, tmp_path, analyzer):
    people = ["Colin_Powell", "Tony_Blair", "Donald_Rumsfeld", "Gerhard_Schroeder", "Ariel_Sharon",
              "Hugo_Chavez", "Junichiro_Koizumi", "Jean_Chretien", "John_Ashcroft", "Jacques_Chirac",
              "Serena_Williams", "Vladimir_Putin"]
    folder = people_folder(tmp_path / "people", people, 4)
    gallery = tmp_path / "g.db"
    process = subprocess.Popen([str(FACETRACK), "enroll", "--dir", str(folder), "--gallery", str(gallery),
                                "--config", str(config_file)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    enrolled = 0
    while time.monotonic() < deadline and process.poll() is None:
        if gallery.exists():
            try:
                enrolled = sqlite3.connect(gallery).execute("SELECT COUNT(*) FROM identities").fetchone()[0]
            except sqlite3.OperationalError:  # the schema is being written, or a write is under way
                enrolled = 0
        if enrolled >= 2:
            break
        time.sleep(0.01)
    assert process.poll() is None, "enrollment finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    with GalleryStore(tmp_path / "reference.db") as reference:  # a complete enrollment, for comparison
        enroller = Enroller(analyzer, reference, store_policy(config_file))
        for person in people:
            enroller.enroll(person, *enroller.from_images(sorted((folder / person).iterdir())))
        expected = {i.name: i.faces for i in reference.identities()}
    with GalleryStore(gallery) as store:
        assert store.integrity_ok()
        survivors = {i.name: i.faces for i in store.identities()}
    assert 2 <= len(survivors) < len(expected)
    # Each person in the killed gallery holds exactly what a complete enrollment gives them.
    assert survivors == {name: expected[name] for name in survivors}
    # Running the same command again finishes the job.
    again = run("enroll", "--dir", folder, "--gallery", gallery, config=config_file)
    assert again.returncode == 1 and "Ariel_Sharon/4.jpg: 3 faces" in again.stderr, again.stderr  # refused again
    with GalleryStore(gallery) as store:
        assert {i.name: i.faces for i in store.identities()} == expected


def store_policy(config_file):
    from tracker.config import load_config

    return load_config(config_file, environ={}).enroll
