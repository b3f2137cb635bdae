"""Reviews on real LFW faces: a track that ended almost named waits with its sighting; "yes" makes its faces the
candidate's references (never one that would make someone confusable), "no" records them as not the candidate,
"someone else" names them, undo takes each back, and erasing the candidate erases the review."""

import asyncio

import pytest

from gallery.enroll import Enroller
from gallery.identify import Identifier
from gallery.negatives import Negatives
from gallery.reviews import NO, OTHER, YES, Reviews
from gallery.store import GalleryError, GalleryStore
from gallery.unknowns import Unknowns
from pipelines.web.keys import SERVICES
from tests.support.cli import run
from tests.support.data import lfw_image, needs_data
from tests.support.http import AUTH, live_app
from tests.support.sightings import ask
from tracker.config import EnrollConfig, MatchConfig

pytestmark = needs_data

ANN, BO = "Colin_Powell", "George_W_Bush"  # people with many photographs


@pytest.fixture()
def gallery(analyzer, tmp_path):
    """Ann and Bo enrolled from two photographs each; the Enroller and the threshold in force."""
    store = GalleryStore(tmp_path / "g.db")
    enroller = Enroller(analyzer, store, EnrollConfig())
    for person, name in ((ANN, "Ann"), (BO, "Bo")):
        faces, _ = enroller.from_images([lfw_image(person, 1), lfw_image(person, 2)])
        enroller.enroll(name, faces, [])
    threshold = Identifier(analyzer, store, MatchConfig()).view.threshold
    yield store, enroller, threshold
    store.close()


def test_yes_adds_the_faces_as_the_candidates_references_and_undo_takes_them_back(analyzer, config, gallery):
    store, enroller, threshold = gallery
    review_id = ask(analyzer, store, ANN, "Ann")
    waiting = Reviews(store).get(review_id)
    assert (waiting.name, waiting.camera, waiting.track_id, waiting.evidence, waiting.faces) == ("Ann", "door", 7,
                                                                                                  5.2, 2)
    answered = Reviews(store).answer(review_id, YES, config)
    assert answered.review.answer == YES and answered.review.answered_as == "Ann"
    assert store.identity("Ann").faces == 4 and Reviews(store).items() == []
    with pytest.raises(GalleryError, match="was answered"):
        Reviews(store).answer(review_id, NO, config)
    Reviews(store).undo(review_id)
    assert store.identity("Ann").faces == 2 and [r.id for r in Reviews(store).items()] == [review_id]


def test_no_records_the_faces_as_not_the_candidate_and_someone_else_names_them(analyzer, config, gallery):
    store, enroller, threshold = gallery
    review_id = ask(analyzer, store, BO, "Ann")  # Bo's faces, asked about Ann
    Reviews(store).answer(review_id, NO, config)
    ann = store.identity("Ann").id
    assert len(Negatives(store).of(ann)) == 2 and store.identity("Ann").faces == 2
    Reviews(store).undo(review_id)
    assert Negatives(store).of(ann) == []
    answered = Reviews(store).answer(review_id, OTHER, config, name="Bo")
    assert answered.review.answered_as == "Bo" and store.identity("Bo").faces == 4


def test_yes_never_adds_a_face_that_would_make_two_people_confusable(analyzer, config, gallery):
    store, enroller, threshold = gallery
    review_id = ask(analyzer, store, BO, "Ann")  # someone answers yes by mistake: they are Bo's faces
    answered = Reviews(store).answer(review_id, YES, config)
    assert [o.reason for o in answered.outcomes] == ["it would make Ann confusable"] * 2
    assert store.identity("Ann").faces == 2 and answered.review.answer == YES  # answered; nothing learnt
    Reviews(store).undo(review_id)
    with pytest.raises(GalleryError, match="no face of review .* could make a new person Cy"):
        Reviews(store).answer(review_id, OTHER, config, name="Cy")
    assert store.find("Cy") is None and Reviews(store).get(review_id).answer is None


def test_erasing_the_candidate_erases_the_review_and_a_yes_makes_the_sighting_theirs(analyzer, config, gallery):
    store, enroller, threshold = gallery
    first = ask(analyzer, store, ANN, "Ann")
    Reviews(store).answer(first, YES, config)
    ask(analyzer, store, ANN, "Ann", photos=(7,), track=8)
    store.erase("Ann")
    assert Reviews(store).items(answered=True) == []
    assert store.query("SELECT COUNT(*) FROM sightings WHERE track_id = 7")[0][0] == 0  # the answered one: theirs


def test_the_review_endpoints_list_show_answer_and_undo(analyzer, config, tmp_path):
    gallery = tmp_path / "g.db"
    with GalleryStore(gallery) as store:
        enroller = Enroller(analyzer, store, EnrollConfig())
        for person, name in ((ANN, "Ann"), (BO, "Bo")):
            enroller.enroll(name, enroller.from_images([lfw_image(person, 1), lfw_image(person, 2)])[0], [])
        review_id = ask(analyzer, store, ANN, "Ann")

    async def scenario():
        r = {}
        async with live_app(analyzer, config, gallery, None, pipeline=False) as (client, _):
            listed = await (await client.get("/api/reviews")).json()
            r["listed"] = [(x["id"], x["name"], x["camera"], x["track_id"], x["answer"]) for x in listed]
            face = await client.get(listed[0]["face_url"])
            r["face"] = (face.status, face.content_type)
            path = f"/api/reviews/{review_id}"
            r["no token"] = (await client.post(path, json={"answer": "yes"})).status
            r["other unnamed"] = (await client.post(path, json={"answer": "other"}, headers=AUTH)).status
            r["missing"] = (await client.post("/api/reviews/999", json={"answer": "no"}, headers=AUTH)).status
            both = await asyncio.gather(client.post(path, json={"answer": "yes"}, headers=AUTH),
                                        client.post(path, json={"answer": "no"}, headers=AUTH))  # two people at once
            answered = next(b for b in both if b.status == 200)
            r["at once"] = sorted(b.status for b in both)
            body = await answered.json()
            r["yes"] = (answered.status, body["answer"], body["answered_as"], [o["status"] for o in body["outcomes"]])
            r["after"] = await (await client.get("/api/reviews")).json()
            r["faces in the view"] = client.server.app[SERVICES].identifier.view.face_counts[body["identity_id"]]
            r["again"] = (await client.post(path, json={"answer": "no"}, headers=AUTH)).status
            undone = await client.post(f"{path}/undo", headers=AUTH)
            r["undo"] = (undone.status, (await undone.json())["answer"])
            r["faces after undo"] = client.server.app[SERVICES].identifier.view.face_counts[body["identity_id"]]
        return r

    r = asyncio.run(scenario())
    assert r["at once"] == [200, 409]  # one answer applies, the other is refused
    assert r["listed"] == [(review_id, "Ann", "door", 7, None)] and r["face"] == (200, "image/jpeg")
    assert (r["no token"], r["other unnamed"], r["missing"]) == (401, 400, 404)
    assert r["yes"][0] == 200 and r["after"] == []
    assert r["faces in the view"] == (4 if r["yes"][1] == "yes" else 2) and r["again"] == 409  # applied at once
    assert r["undo"] == (200, None) and r["faces after undo"] == 2


def test_facetrack_reviews_lists_answers_and_undoes(analyzer, tmp_path, cache_dir):
    gallery = tmp_path / "g.db"
    with GalleryStore(gallery) as store:
        enroller = Enroller(analyzer, store, EnrollConfig())
        enroller.enroll("Ann", enroller.from_images([lfw_image(ANN, 1), lfw_image(ANN, 2)])[0], [])
        review_id = ask(analyzer, store, ANN, "Ann")
    settings = tmp_path / "config.toml"
    settings.write_text(f'[models]\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n')
    listed = run("reviews", "list", "--out", tmp_path / "faces", "--gallery", gallery, config=settings)
    assert listed.returncode == 0 and "Ann" in listed.stdout
    assert (tmp_path / "faces" / f"review{review_id}.jpg").is_file()
    unclear = run("reviews", "answer", review_id, "maybe", "--gallery", gallery, config=settings)
    assert unclear.returncode == 2 and "say yes, no, or --someone NAME" in unclear.stderr
    said = run("reviews", "answer", review_id, "yes", "--gallery", gallery, config=settings)
    assert said.returncode == 0 and f"review {review_id}: Ann: 2 face(s) added as references" in said.stdout
    missing = run("reviews", "undo", 999, "--gallery", gallery, config=settings)
    assert missing.returncode == 2 and "no review 999" in missing.stderr
    assert run("reviews", "undo", review_id, "--gallery", gallery, config=settings).returncode == 0
    with GalleryStore(gallery) as store:
        assert store.identity("Ann").faces == 2 and Reviews(store).get(review_id).answer is None


def test_undo_takes_back_only_what_its_answer_added_and_what_is_still_there(analyzer, config, gallery):
    store, enroller, threshold = gallery
    review_id = ask(analyzer, store, ANN, "Ann")
    sighting = Reviews(store).get(review_id).sighting_id
    cluster = store.query("SELECT cluster_id FROM sightings WHERE id = ?", (sighting,))[0][0]
    enroller.enroll_cluster(Unknowns(store, enroller.model_id), cluster, "Ann")  # named another way first
    assert store.identity("Ann").faces == 4
    answered = Reviews(store).answer(review_id, YES, config)  # the same faces: skipped
    assert [o.status for o in answered.outcomes] == ["skipped", "skipped"]
    Reviews(store).undo(review_id)
    assert store.identity("Ann").faces == 4  # the cluster's naming stands

    no = ask(analyzer, store, BO, "Ann", track=8)
    rejected = Negatives(store).of(store.identity("Ann").id)
    Reviews(store).answer(no, NO, config)
    first = next(n for n in Negatives(store).of(store.identity("Ann").id) if n not in rejected)
    Negatives(store).remove("Ann", first.id)  # one taken back by hand meanwhile
    Reviews(store).undo(no)
    assert Negatives(store).of(store.identity("Ann").id) == rejected and Reviews(store).get(no).answer is None

    someone = ask(analyzer, store, "Tony_Blair", "Ann", track=9)
    Reviews(store).answer(someone, OTHER, config, name="Tony")
    _, left = Reviews(store).undo(someone)
    assert store.identity("Tony").faces == 0 and "Tony, whom the answer made, has no face left" in left


def test_a_review_by_another_version_of_the_model_is_refused_unless_it_is_the_one_running(analyzer, config,
                                                                                        gallery):
    """Answered, faces by weights the gallery does not name with would be references no frame is compared with."""
    store, _, _ = gallery
    review_id = ask(analyzer, store, ANN, "Ann")
    running = analyzer.embedder.model_id
    other = f"{running.split(':')[0]}:0ther"  # the same model's name, other weights (a reembedded gallery keeps both)
    ids, _, vectors = store.embeddings(running)
    store.add_embeddings(other, [(int(ids[0]), vectors.reshape(len(ids), -1)[0])])
    with pytest.raises(GalleryError, match="2 versions of .* answer review .* on the dashboard"):
        Reviews(store).answer(review_id, YES, config)  # the CLI, the MQTT bridge: which one runs is not known
    with pytest.raises(GalleryError, match=f"faces are by {running}, the active model is {other}"):
        Reviews(store).answer(review_id, YES, config, running=other)
    assert Reviews(store).answer(review_id, YES, config, running=running).review.answer == YES  # the dashboard


def test_erasing_the_candidate_of_a_waiting_review_erases_its_sighting(analyzer, gallery):
    store, _, _ = gallery
    ask(analyzer, store, ANN, "Ann")
    gone = store.erase("Ann")
    assert gone["sightings"] == 1 and store.query("SELECT COUNT(*) FROM sightings")[0][0] == 0
    assert ("door", 7) in [tuple(t[:2]) for t in store.erased_traces()[0]]  # its events are swept from the Stream too
