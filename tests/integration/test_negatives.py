""""Not this person": a real false accept of dlib-resnet-v1 at the default FAR (Kim Yong-il's photographs named
as Tang Jiaxuan; omz-reid-0095, the default embedder, names no stranger here), rejected through the CLI and the
API, is not named so again while Tang Jiaxuan's own photographs still are; a rejection can be taken back, travels
with an export and is re-embedded for another model."""

import asyncio
import json

import cv2
import numpy as np
import pytest
import torch

from gallery.enroll import Enroller
from gallery.identify import Identifier
from gallery.negatives import Negatives
from gallery.reembed import reembed
from gallery.store import GalleryStore
from gallery.unknowns import Unknowns
from tests.support.cli import run
from tests.support.data import lfw_image, needs_data
from tests.support.http import AUTH, live_app, upload
from tracker.config import ModelsConfig, with_changes
from tracker.face.align import STORE_224, align, landmarks_on_crop
from tracker.face.embedders import load_embedder
from tracker.images import read_image
from tracker.track.camera import CameraTracks
from tracker.track.sighting import Sighting, SightingFace
from tracker.track.state import CameraRules, FrameInfo

pytestmark = needs_data

PERSON, STRANGER = "Tang_Jiaxuan", "Kim_Yong-il"


@pytest.fixture
def analyzer(dlib_analyzer):
    return dlib_analyzer


@pytest.fixture(scope="module")
def dlib_config(config):
    return with_changes(config, "test", models={"embedder": "dlib-resnet-v1"})


@pytest.fixture
def gallery(tmp_path, analyzer, config):
    """Tang Jiaxuan, Colin Powell and Hugo Chavez, enrolled from five LFW photographs each."""
    path = tmp_path / "gallery.db"
    with GalleryStore(path) as store:
        enroller = Enroller(analyzer, store, config.enroll)
        for person in (PERSON, "Colin_Powell", "Hugo_Chavez"):
            enroller.enroll(person, *enroller.from_images([lfw_image(person, i) for i in range(1, 6)]))
    return path


@pytest.fixture
def settings(tmp_path, cache_dir):
    path = tmp_path / "config.toml"
    path.write_text(f'[models]\nembedder = "dlib-resnet-v1"\ncache_dir = "{cache_dir}"\ndevice = "cpu"\n')
    return path


WALL = cv2.imencode(".png", np.full((240, 320, 3), 128, np.uint8))[1].tobytes()  # no face


def names(result) -> list[str | None]:
    return [face["name"] for line in result.stdout.splitlines() for face in json.loads(line)["faces"]]


def test_gallery_reject_stops_a_false_accept_and_keeps_the_persons_own_faces(gallery, settings):
    probes = [lfw_image(STRANGER, 2), lfw_image(PERSON, 6), lfw_image(PERSON, 7)]
    before = run("identify", *probes, "--json", "--gallery", gallery, config=settings)
    assert names(before) == [PERSON] * 3, "the stranger is wrongly named at the default threshold"

    rejected = run("gallery", "reject", PERSON, lfw_image(STRANGER, 1), "--gallery", gallery, config=settings)
    assert rejected.returncode == 0, rejected.stderr
    assert f"1 face(s) rejected as not {PERSON} (1 in all" in rejected.stdout

    after = run("identify", *probes, "--gallery", gallery, config=settings)
    assert names(run("identify", *probes, "--json", "--gallery", gallery, config=settings)) == [None, PERSON, PERSON]
    assert f"unknown (not {PERSON}: rejected)" in after.stdout
    shown = run("gallery", "show", PERSON, "--gallery", gallery, config=settings)
    folded = "".join(shown.stdout.split()).replace("│", "")  # the table folds long paths over lines
    assert f"faces rejected as not {PERSON}" in shown.stdout and "Kim_Yong-il_0001.jpg" in folded

    with GalleryStore(gallery) as store:
        negative_id = Negatives(store).of(store.identity(PERSON).id)[0].id
    undone = run("gallery", "reject", PERSON, "--undo", negative_id, "--gallery", gallery, config=settings)
    assert undone.returncode == 0 and f"rejected face {negative_id} taken back" in undone.stdout
    assert names(run("identify", probes[0], "--json", "--gallery", gallery, config=settings)) == [PERSON]


def test_gallery_reject_refuses_what_it_cannot_use_and_changes_nothing(gallery, settings, tmp_path):
    wall = tmp_path / "wall.png"
    wall.write_bytes(WALL)
    for args, message in (
        (("Nobody", lfw_image(STRANGER, 1)), "no identity named 'Nobody'"),
        ((PERSON, wall), "no face to reject as Tang_Jiaxuan; nothing was changed"),
        ((PERSON,), "give one of IMAGES, --sighting ID or --undo ID"),
        ((PERSON, "--sighting", 99), "no sighting 99"),
        ((PERSON, "--undo", 99), "no rejected face 99"),
    ):
        result = run("gallery", "reject", *args, "--gallery", gallery, config=settings)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
    with GalleryStore(gallery) as store:
        assert Negatives(store).vectors("any")[0].size == 0 and not store.query("SELECT * FROM negatives")


def stranger_sighting(analyzer, numbers) -> Sighting:
    faces = []
    for n in numbers:
        image = read_image(lfw_image(STRANGER, n))
        a = analyzer.analyze([image])[0]
        q = {"size": float(a.quality.size[0]), "sharpness": float(a.quality.sharpness[0]),
             "frontal": float(a.quality.frontal[0])}
        faces.append(SightingFace(align(image, a.faces.landmarks[0], STORE_224),
                                  landmarks_on_crop(a.faces.landmarks[0], STORE_224), q, a.embeddings[0], 10.0, 1.0))
    return Sighting("door", 3, 10.0, 12.0, analyzer.embedder.model_id, faces)


def test_a_sightings_faces_are_rejected_as_the_person_it_was_named_as(gallery, settings, analyzer):
    with GalleryStore(gallery) as store:  # as facetrack run keeps a named track with unknowns.keep_named
        unknowns = Unknowns(store, analyzer.embedder.model_id, 0.1)
        cluster = unknowns.add(stranger_sighting(analyzer, (1,)))
        sighting = unknowns.faces(cluster)[0].sighting_id
    result = run("gallery", "reject", PERSON, "--sighting", sighting, "--gallery", gallery, config=settings)
    assert result.returncode == 0 and "1 face(s) rejected" in result.stdout, result.stderr
    assert names(run("identify", lfw_image(STRANGER, 2), "--json", "--gallery", gallery, config=settings)) == [None]


def test_the_negatives_endpoints_reject_list_and_take_back(gallery, analyzer, dlib_config):
    stranger = lfw_image(STRANGER, 1).read_bytes()
    probe = lfw_image(STRANGER, 2).read_bytes()
    with GalleryStore(gallery) as store:
        unknowns = Unknowns(store, analyzer.embedder.model_id, 0.1)
        sighting = unknowns.faces(unknowns.add(stranger_sighting(analyzer, (3,))))[0].sighting_id

    async def scenario():
        r = {}
        async with live_app(analyzer, dlib_config, gallery, None, pipeline=False) as (client, _):
            async def named():
                body = await (await client.post("/api/recognize", headers=AUTH, data=probe)).json()
                return [(f["name"], f["refused_as"]) for f in body["faces"]]

            path = f"/api/identities/{PERSON}/negatives"
            r["before"] = await named()
            r["no token"] = (await client.post(path, data=upload(None, ("k.jpg", stranger)))).status
            posted = await client.post(path, headers=AUTH, data=upload(None, ("k.jpg", stranger)))
            r["posted"] = (posted.status, await posted.json())
            r["after"] = await named()
            shown = await (await client.get(f"/api/identities/{PERSON}")).json()
            r["listed"] = [n["source"] for n in shown["negative_list"]]
            by_sighting = await client.post(path, headers=AUTH, json={"sighting": sighting})
            r["by sighting"] = (by_sighting.status, (await by_sighting.json())["rejected"])
            errors = {}
            for label, method, target, kwargs in (
                ("no person", "post", "/api/identities/Nobody/negatives", {"json": {"sighting": sighting}}),
                ("no face", "post", path, {"data": upload(None, ("wall.png", WALL))}),
                ("not an image", "post", path, {"data": upload(None, ("x.jpg", b"not an image"))}),
                ("no files", "post", path, {"data": upload("x")}),
                ("plain body", "post", path, {"data": b"raw", "headers": {**AUTH, "Content-Type": "text/plain"}}),
                ("bad sighting", "post", path, {"json": {"sighting": "3"}}),
                ("no sighting", "post", path, {"json": {"sighting": 999}}),
                ("beyond SQLite", "post", path, {"json": {"sighting": 2**70}}),
                ("take back NaN", "delete", path + "/abc", {}),
                ("take back missing", "delete", path + "/999", {}),
                ("take back beyond", "delete", path + f"/{2**70}", {}),
            ):
                answer = await getattr(client, method)(target, **{"headers": AUTH, **kwargs})
                errors[label] = (answer.status, (await answer.json())["error"])
            r["errors"] = errors
            for negative_id in r["posted"][1]["ids"] + [n["id"] for n in shown["negative_list"]][1:]:
                taken = await client.delete(f"{path}/{negative_id}", headers=AUTH)
                r.setdefault("taken back", []).append(taken.status)
            with GalleryStore(gallery) as store:
                r["left"] = [n.source for n in Negatives(store).of(store.identity(PERSON).id)]
        return r

    r = asyncio.run(scenario())
    assert r["before"] == [(PERSON, None)] and r["no token"] == 401
    assert r["posted"][0] == 201 and r["posted"][1]["rejected"] == 1
    assert r["after"] == [(None, PERSON)], "refused at once: the live gallery was reloaded"
    assert r["listed"] == ["k.jpg"] and r["by sighting"] == (201, 1)
    e = r["errors"]
    assert e["no person"] == (404, "no identity named 'Nobody'")
    assert e["no face"][0] == 422 and e["not an image"][0] == 422 and e["no files"][0] == 400
    assert e["plain body"][0] == 400 and e["bad sighting"] == (400, "sighting: Input should be a valid integer")
    assert e["no sighting"] == (404, "no sighting 999") and e["beyond SQLite"][0] == 404
    assert e["take back NaN"][0] == 400 and e["take back missing"][0] == 404 and e["take back beyond"][0] == 404
    assert r["taken back"] == [204] and len(r["left"]) == 1  # the sighting's face stays rejected


def test_rejections_travel_with_an_export_and_are_reembedded_for_another_model(gallery, analyzer, tmp_path):

    with GalleryStore(gallery) as store:
        unknowns = Unknowns(store, analyzer.embedder.model_id, 0.1)
        faces = [f.as_new_face() for f in unknowns.faces(unknowns.add(stranger_sighting(analyzer, (1, 2))))]
        Negatives(store).add(PERSON, faces, analyzer.embedder.model_id)
        store.export(tmp_path / "export.db")
    with GalleryStore(tmp_path / "copy.db") as copy:
        copy.import_from(tmp_path / "export.db")
        negatives = Negatives(copy)
        assert [n.source for n in negatives.of(copy.identity(PERSON).id)] == [f.source for f in faces]
        other = load_embedder(ModelsConfig(embedder="omz-reid-0095"), torch.device("cpu"))
        assert negatives.missing(other.model_id) != []
        assert reembed(copy, other) == len(copy.faces()) + 2  # every enrolled face, and the two rejected ones
        ids, vectors = negatives.vectors(other.model_id)
        assert len(ids) == 2 and vectors.shape == (2, other.dim)


def test_not_this_person_on_a_live_false_match_unnames_the_open_track_at_once(gallery, analyzer, dlib_config):
    """Kim Yong-il's photograph, shown to a camera frame after frame, names its track Tang Jiaxuan; rejecting the
    event's face as not her un-names the open track on the next frame, and it is not named her again."""
    with GalleryStore(gallery) as store:
        identifier = Identifier(analyzer, store, dlib_config.match)
    rules = CameraRules(dlib_config.tracking, analyzer.verify_threshold, crop_max_bytes=0)
    view = identifier.view
    tracks = CameraTracks(camera_id="door", rules=rules)
    image, seen = read_image(lfw_image(STRANGER, 1)), []

    def frame(t: float) -> list:
        nonlocal view
        latest = identifier.view  # as the camera's loop does before each frame
        if latest.revision != view.revision:
            changed, view = latest.changed_since(view.revision), latest
            seen.extend(tracks.forget(changed, t, view.terms)[1])
        info, faces = FrameInfo(t, t, image), analyzer.detector.detect(image)
        tracks.note(info)
        plan = tracks.plan(info, faces)
        analysis = analyzer.embed_faces([image], [faces.select(plan.embed)])[0] if plan.embed else None
        verdicts = view.verdicts(analysis.embeddings) if analysis is not None else []
        tracked, events = tracks.update(info, faces, plan, analysis, verdicts, view.terms)
        seen.extend(events)
        return [f.name for f in tracked]

    assert frame(0.0) == [PERSON], "the stranger's track is falsely named at the default FAR"
    with GalleryStore(gallery) as store:
        faces, _ = Enroller(analyzer, store, dlib_config.enroll).from_images([lfw_image(STRANGER, 1)])
        Negatives(store).add(PERSON, faces, analyzer.embedder.model_id)  # what the dashboard's "not her" does
        identifier.reload(store)
    names_after = [frame(0.2 * i) for i in range(1, 8)]
    assert all(n == [None] for n in names_after), names_after
    changed = [e for e in seen if e.type == "identity.changed"]
    assert [(e.name, e.identity_id) for e in changed] == [("unknown", None)]
    assert [e.type for e in seen].count("person.left") == 1 and tracks.open == 1  # the same track, now unnamed
