"""Unknown people end to end: three never-enrolled LFW people each come back three times, with
other photographs, among enrolled people; the live pipeline's sightings cluster them one
cluster each; `unknowns name` turns a cluster into a person, whose next visit is named live."""

from collections import Counter

import pytest

from gallery.enroll import Enroller
from gallery.store import GalleryStore
from gallery.unknowns import Unknowns
from pipelines.eval.synthetic import make_plan, write_video
from pipelines.eval.video import play
from tests.support.data import LFW, needs_data
from tests.support.videos import enroll_plan

pytestmark = needs_data

STRANGERS = ("Hugo_Chavez", "Ariel_Sharon", "Jean_Chretien")
KNOWN = ("Colin_Powell", "Donald_Rumsfeld")
ORDER = ("Hugo_Chavez", "Colin_Powell", "Ariel_Sharon", "Jean_Chretien", "Hugo_Chavez", "Donald_Rumsfeld",
         "Ariel_Sharon", "Jean_Chretien", "Hugo_Chavez", "Ariel_Sharon", "Colin_Powell", "Jean_Chretien")
FPS = 5.0


def who_was_on(plan, seen) -> dict[int, str]:
    """Each track's person: the one in view (one at a time) on most of its frames."""
    votes: dict[int, Counter] = {}
    for number, faces in seen.items():
        t = number / plan.fps
        present = [a.name for a in plan.appearances if a.start <= t < a.start + a.duration]
        for face in faces:
            if len(present) == 1:
                votes.setdefault(face.track, Counter())[present[0]] += 1
    return {track: counts.most_common(1)[0][0] for track, counts in votes.items()}


@pytest.fixture(scope="module")
def watched(tmp_path_factory, analyzer, config):
    folder = tmp_path_factory.mktemp("unknowns-live")
    plan = make_plan(LFW, order=ORDER, enrolled=KNOWN, duration=2.5, gap=1.0)
    video = write_video(plan, folder / "video.avi")
    gallery = enroll_plan(plan, folder / "gallery.db", analyzer, config)
    seen = play(config, video, gallery, FPS, analyzer, sightings=True)
    return plan, gallery, seen


def test_three_strangers_back_three_times_make_one_cluster_each(watched, analyzer):
    plan, gallery, seen = watched
    person = who_was_on(plan, seen)
    with GalleryStore(gallery) as store:
        rows = store.query("SELECT track_id, cluster_id FROM sightings WHERE camera = 'video'")
    labelled = [(person[track], cluster) for track, cluster in rows if person.get(track) in STRANGERS]
    assert not [track for track, _ in rows if person.get(track) in KNOWN]  # named people leave no sighting
    assert len(labelled) >= 9  # every stranger's visit left one (a split would add one)
    clusters: dict[int, Counter] = {}
    people: dict[str, Counter] = {}
    for name, cluster in labelled:
        clusters.setdefault(cluster, Counter())[name] += 1
        people.setdefault(name, Counter())[cluster] += 1
    purity = sum(c.most_common(1)[0][1] for c in clusters.values()) / len(labelled)
    completeness = sum(c.most_common(1)[0][1] for c in people.values()) / len(labelled)
    print(f"strangers' sightings {len(labelled)}, clusters {len(clusters)}, purity {purity:.3f}, "
          f"completeness {completeness:.3f}")
    assert purity >= 0.9 and completeness >= 0.9


def test_a_named_cluster_is_named_on_the_persons_next_visit(watched, analyzer, config, tmp_path):
    plan, gallery, seen = watched
    person = who_was_on(plan, seen)
    with GalleryStore(gallery) as store:
        rows = store.query("SELECT track_id, cluster_id FROM sightings WHERE camera = 'video'")
        cluster = Counter(c for t, c in rows if person.get(t) == "Hugo_Chavez").most_common(1)[0][0]
        enroller = Enroller(analyzer, store, config.enroll)
        enroller.enroll_cluster(Unknowns(store, enroller.model_id), cluster, "Visitor One")
    again = make_plan(LFW, order=("Hugo_Chavez",) * 4, enrolled=(), duration=2.5, gap=1.0)  # the 4th photograph
    next_visit = make_plan(LFW, order=("Hugo_Chavez",), enrolled=(), duration=2.5)
    next_visit = type(next_visit)(**{**next_visit.__dict__, "appearances": [
        type(a)(**{**a.__dict__, "image": again.appearances[3].image}) for a in next_visit.appearances]})
    video = write_video(next_visit, tmp_path / "next.avi")
    names = Counter(f.name for faces in play(config, video, gallery, FPS, analyzer).values() for f in faces)
    assert names.most_common(1)[0][0] == "Visitor One", names
