"""The gallery with real models and real LFW faces: enrollment rules, the store, re-embedding."""

import shutil
import sqlite3

import numpy as np
import pytest
import torch
from facenet_pytorch import InceptionResnetV1

from gallery.enroll import DROPPED, ENROLLED, REFUSED, SKIPPED, Enroller
from gallery.identify import Identifier
from gallery.reembed import reembed
from gallery.store import GalleryError, GalleryStore
from tests.support.data import STILLS, lfw_image, needs_data
from tracker.config import EnrollConfig, MatchConfig, ModelsConfig
from tracker.face.embedders import load_embedder
from tracker.images import read_image

pytestmark = needs_data


@pytest.fixture
def store(tmp_path):
    with GalleryStore(tmp_path / "gallery.db") as s:
        yield s


def enroll(analyzer, store, name, paths, **policy):
    enroller = Enroller(analyzer, store, EnrollConfig(**policy))
    return enroller.enroll(name, *enroller.from_images(paths))


def statuses(result):
    return {o.source.rsplit("/", 1)[-1]: (o.status, o.reason) for o in result.outcomes}


def test_bad_files_are_refused_by_name_and_the_rest_enrolled(analyzer, store, tmp_path):
    good = [lfw_image("Colin_Powell", i) for i in (1, 2, 3)]
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good[0].read_bytes()[:400])
    text = tmp_path / "text.jpg"
    text.write_text("not an image")
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    wall = tmp_path / "wall.png"
    import cv2

    cv2.imwrite(str(wall), np.full((300, 300, 3), 120, np.uint8))
    result = enroll(analyzer, store, "Colin Powell",
                    [good[0], truncated, text, corrupt, wall, good[1], STILLS / "group_six.jpg", good[2]])
    s = statuses(result)
    assert [s[p.name][0] for p in good] == [ENROLLED] * 3
    for name in ("truncated.jpg", "text.jpg", "corrupt.png"):
        assert s[name][0] == REFUSED and "not an image" in s[name][1]
    assert s["wall.png"] == (REFUSED, "no face; the image must hold exactly one")
    assert s["group_six.jpg"] == (REFUSED, "6 faces; the image must hold exactly one")
    assert store.identity("Colin Powell").faces == 3


def test_near_duplicates_are_skipped_and_quality_is_enforced(analyzer, store):
    image = lfw_image("Tony_Blair", 2)  # (Tony_Blair_0001 shows a second face behind him)
    first = enroll(analyzer, store, "Tony Blair", [image])
    again = enroll(analyzer, store, "Tony Blair", [image])
    assert statuses(first)[image.name][0] == ENROLLED
    assert statuses(again)[image.name] == (SKIPPED, "near-duplicate of a face already enrolled")
    strict = enroll(analyzer, store, "Tony Blair", [lfw_image("Tony_Blair", 3)], min_face_size=400)
    status, reason = statuses(strict)["Tony_Blair_0003.jpg"]
    assert status == REFUSED and reason.startswith("face too small")
    assert store.identity("Tony Blair").faces == 1


def test_the_cap_keeps_the_most_varied_faces(analyzer, store):
    paths = [lfw_image("George_W_Bush", i) for i in range(2, 8)]
    result = enroll(analyzer, store, "George W Bush", paths, max_faces_per_person=3)
    assert result.count(ENROLLED) == 3 and result.count(DROPPED) >= 2  # the rest: over the cap (or refused)
    assert store.identity("George W Bush").faces == 3
    more = enroll(analyzer, store, "George W Bush", [lfw_image("George_W_Bush", i) for i in range(8, 11)],
                  max_faces_per_person=3)
    assert more.faces_total == 3 and store.identity("George W Bush").faces == 3


def test_identify_names_enrolled_people_and_not_strangers(analyzer, store):
    for person in ("Colin_Powell", "Tony_Blair", "Donald_Rumsfeld"):
        enroll(analyzer, store, person, [lfw_image(person, i) for i in range(1, 5)])
    identifier = Identifier(analyzer, store, MatchConfig())
    for person in ("Colin_Powell", "Tony_Blair", "Donald_Rumsfeld"):
        faces = identifier.identify(read_image(lfw_image(person, 9)))
        assert max(faces, key=lambda f: f.box[2] - f.box[0]).name == person
    stranger = identifier.identify(read_image(lfw_image("Gerhard_Schroeder", 1)))
    assert all(f.name is None for f in stranger)


def test_rename_remove_and_erasure(analyzer, store):
    enroll(analyzer, store, "Tony Blair", [lfw_image("Tony_Blair", 2)])
    enroll(analyzer, store, "Colin Powell", [lfw_image("Colin_Powell", 1)])
    crop = sqlite3.connect(store.path).execute("SELECT crop FROM faces WHERE identity_id = "
                                              "(SELECT id FROM identities WHERE name = 'Tony Blair')").fetchone()[0]
    store.rename("Tony Blair", "Anthony Blair")
    with pytest.raises(GalleryError, match="the name 'Colin Powell' is taken"):
        store.rename("Anthony Blair", "Colin Powell")
    assert store.remove("Anthony Blair") == 1
    assert [i.name for i in store.identities()] == ["Colin Powell"]
    assert crop[100:400] not in store.path.read_bytes(), "a removed face's crop must not stay in the file"
    with pytest.raises(GalleryError, match="no identity named 'Anthony Blair'"):
        store.remove("Anthony Blair")


def test_export_and_import_move_a_gallery(analyzer, store, tmp_path):
    enroll(analyzer, store, "Tony Blair", [lfw_image("Tony_Blair", i) for i in (2, 3)])
    exported = tmp_path / "moved.facetrack"
    store.export(exported)
    with GalleryStore(tmp_path / "elsewhere.db") as other:
        assert other.import_from(exported) == (1, 2)
        _, _, vectors = other.embeddings(analyzer.embedder.model_id)
        _, _, original = store.embeddings(analyzer.embedder.model_id)
        np.testing.assert_array_equal(vectors, original)
        with pytest.raises(GalleryError, match="already enrolled here: Tony Blair"):
            other.import_from(exported)
        assert other.identity("Tony Blair").faces == 2


def test_reembed_works_without_the_original_images(analyzer, store, tmp_path):
    people = ("Colin_Powell", "Tony_Blair")
    for person in people:
        copies = []
        for i in (2, 3, 4):
            copies.append(tmp_path / f"{person}_{i}.jpg")
            shutil.copy(lfw_image(person, i), copies[-1])
        enroll(analyzer, store, person, copies)
        for copy in copies:
            copy.unlink()
    model_id = analyzer.embedder.model_id
    _, _, enrolled = store.embeddings(model_id)
    # Another model: facenet with random weights, from a local file.
    weights = tmp_path / "facenet.pt"
    torch.save(InceptionResnetV1(pretrained=None).state_dict(), weights)
    facenet = load_embedder(ModelsConfig(embedder="facenet-vggface2", facenet_weights=str(weights)),
                            torch.device("cpu"))
    assert reembed(store, facenet) == 6
    assert reembed(store, facenet) == 0, "a finished re-embedding has nothing left to do"
    assert store.model_counts() == {model_id: 6, facenet.model_id: 6}
    # Back to the default model with its embeddings gone: re-embedding the stored crops restores a working gallery.
    sqlite3.connect(store.path, isolation_level=None).execute("DELETE FROM embeddings WHERE model_id = ?",
                                                              (model_id,))
    assert reembed(store, analyzer.embedder) == 6
    _, _, restored = store.embeddings(model_id)
    assert ((restored - enrolled) ** 2).sum(axis=1).max() < 0.02
    identifier = Identifier(analyzer, store, MatchConfig())
    assert [f.name for f in identifier.identify(read_image(lfw_image("Tony_Blair", 9)))] == ["Tony_Blair"]


def test_a_gallery_of_another_model_says_which_and_what_to_do(analyzer, dlib_analyzer, store):
    """A gallery enrolled with dlib-resnet-v1 (the default embedder before omz-reid-0095) under the default."""
    enroll(dlib_analyzer, store, "Tony_Blair", [lfw_image("Tony_Blair", i) for i in (1, 2, 3)])
    faces = len(store.faces())
    identifier = Identifier(analyzer, store, MatchConfig())
    assert faces and identifier.view.missing == faces
    assert identifier.identify(read_image(lfw_image("Tony_Blair", 9)))[0].name is None
    warning = identifier.missing_warning(store)
    model = analyzer.embedder.model_id
    assert warning.startswith(f"{faces} gallery faces have no {model} embedding and are not matched")
    assert "(they have dlib-resnet-v1 embeddings)" in warning and "run `facetrack gallery reembed`" in warning
    assert 'or set models.embedder = "dlib-resnet-v1"' in warning
    assert Identifier(dlib_analyzer, store, MatchConfig()).missing_warning(store) is None


def test_a_file_that_is_not_a_gallery_is_refused(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"hello, not sqlite" * 100)
    with pytest.raises(GalleryError, match="junk.db: not a facetrack gallery"):
        GalleryStore(junk)


def test_enroll_from_a_video_keeps_distinct_faces_of_the_one_person(analyzer, store, tmp_path):
    import cv2

    from tracker.images import read_image

    video = tmp_path / "colin.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (250, 250))
    for i in (1, 2, 3, 4):  # four photographs, each held for 10 frames
        frame = cv2.cvtColor(read_image(lfw_image("Colin_Powell", i)), cv2.COLOR_RGB2BGR)
        for _ in range(10):
            writer.write(frame)
    writer.release()
    enroller = Enroller(analyzer, store, EnrollConfig())
    result = enroller.enroll("Colin Powell", *enroller.from_video(video), metadata={"team": "state"})
    enrolled = [o.source for o in result.outcomes if o.status == ENROLLED]
    assert 3 <= len(enrolled) <= 4, result.outcomes  # one face per photograph, repeats skipped
    assert all("#frame=" in source for source in enrolled)
    assert result.count(SKIPPED) >= 14
    assert store.identity("Colin Powell").metadata == {"team": "state"}


def test_a_file_that_is_not_a_video_is_an_error(analyzer, store, tmp_path):
    from tracker.errors import ImageError

    fake = tmp_path / "clip.mp4"
    fake.write_text("no video here")
    with pytest.raises(ImageError, match="clip.mp4: not a video"):
        Enroller(analyzer, store, EnrollConfig()).from_video(fake)


def test_a_small_soft_reference_is_refused_with_the_setting_that_takes_it_and_its_price_then_admitted_and_marked(
        analyzer, store, tmp_path):
    """A CCTV crop: the refusal says which setting would take it and what it costs; --accept-small takes it with
    that warning, and the audit marks it."""
    import cv2

    from gallery.audit import SMALL, audit, small_faces

    crop = tmp_path / "cctv.png"  # the photograph at a third of its size: a face of about 35 px
    cv2.imwrite(str(crop), cv2.resize(cv2.imread(str(lfw_image("Colin_Powell", 4))), None, fx=0.36, fy=0.36,
                                      interpolation=cv2.INTER_AREA))
    status, reason = statuses(enroll(analyzer, store, "Colin Powell", [crop]))["cctv.png"]
    size = int(reason.split("(")[1].split(" px")[0])
    assert status == REFUSED and 20 <= size < 50, reason
    assert f"enroll.min_face_size = {size} would take it (or `facetrack enroll --accept-small`)" in reason
    assert f"a reference of {size} px is within omz-reid-0095's verification threshold of" in reason
    assert "strangers' faces, against 0.24% for one as large as LFW's" in reason
    enroller = Enroller(analyzer, store, EnrollConfig(), accept_small=True)
    outcome = enroller.enroll("Colin Powell", *enroller.from_images([crop])).outcomes[0]
    assert outcome.status == ENROLLED
    assert outcome.reason.startswith(f"admitted under the gates: face too small ({size} px")
    assert "of strangers' faces" in outcome.reason and "would take it" not in outcome.reason
    face_ids, identity_ids, vectors = store.embeddings(enroller.model_id)
    small = small_faces(store, EnrollConfig())
    assert set(small) == set(face_ids.tolist())  # the one face, under the gates
    report = audit(face_ids, identity_ids, vectors, analyzer.embedder.tables, 1.0, small=small)
    assert [f.flags for f in report.faces] == [[SMALL]]
    assert small_faces(store, EnrollConfig(min_face_size=size, min_sharpness=0.0)) == frozenset()  # gates lowered
