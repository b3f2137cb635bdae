"""``facetrack gallery audit`` on a gallery with a bad reference, the kind behind "a stranger named as family":
another person's photograph filed under a name. The audit flags that face and no clean one, names the
closest pair of people, and counts the strangers each face names."""

import json

from gallery.enroll import Enroller
from gallery.store import GalleryStore
from tests.support.cli import run
from tests.support.data import LFW, lfw_image, needs_data

pytestmark = needs_data
PEOPLE = ("Colin_Powell", "Tony_Blair", "Hugo_Chavez", "Jean_Chretien")
INTRUDER = "Gerhard_Schroeder"  # filed under Tony_Blair by mistake


def test_the_audit_flags_another_persons_photograph_filed_under_a_name(analyzer, config, cache_dir, tmp_path):
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'[models]\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n')
    gallery = tmp_path / "g.db"
    with GalleryStore(gallery) as store:
        enroller = Enroller(analyzer, store, config.enroll)
        for person in PEOPLE:
            enroller.enroll(person, *enroller.from_images([lfw_image(person, i) for i in range(1, 4)]))
        enroller.enroll("Tony_Blair", *enroller.from_images([lfw_image(INTRUDER, 1)]))
        tony = next(i.id for i in store.identities() if i.name == "Tony_Blair")
        (intruder,) = [f.id for f in store.faces(tony) if f.source.endswith(f"{INTRUDER}_0001.jpg")]
    done = run("gallery", "audit", "--gallery", gallery, "--strangers", LFW, "--count", "300", "--json",
               tmp_path / "audit.json", config=config_file)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "audit.json").read_text())
    flagged = {f["face_id"]: f["flags"] for f in report["faces"] if f["flags"]}
    assert "unlike its person" in flagged.get(intruder, []), report["faces"]
    assert set(flagged) == {intruder}, flagged  # the clean references are left alone
    assert report["strangers"] == 300 and report["strangers_named"] >= 0
    assert f"1 of {len(report['faces'])} faces flagged" in done.stdout and "closest pair of people:" in done.stdout
