import numpy as np
import pytest

from tracker.errors import DatasetError
from tracker.face.analyzer import central_face
from tracker.faces import Faces
from tracker.lfw import read_pairs


def make_root(tmp_path):
    (tmp_path / "images_deepfunneled").mkdir()
    return tmp_path


def test_view2_pairs_are_read_in_folds(tmp_path):
    root = make_root(tmp_path)
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("2\t1\nAnn\t1\t2\nBob\t1\tCid\t3\nAnn\t2\t3\nBob\t1\tAnn\t1\n")
    p = read_pairs(root, pairs)
    assert len(p) == 4
    assert list(p.same) == [True, False, True, False]
    assert list(p.fold) == [0, 0, 1, 1]
    assert p.images[p.first[1]].name == "Bob_0001.jpg"
    assert p.images[p.second[1]].name == "Cid_0003.jpg"
    assert len(p.images) == 5  # Ann 1, 2, 3; Bob 1; Cid 3


def test_view1_header_is_one_fold(tmp_path):
    root = make_root(tmp_path)
    pairs = tmp_path / "dev.txt"
    pairs.write_text("1\nAnn\t1\t2\nBob\t1\tCid\t3\n")
    assert list(read_pairs(root, pairs).fold) == [0, 0]


@pytest.mark.parametrize(
    "text, message",
    [("x\n", "header"), ("1\t2\nAnn\t1\t2\n", "promises 4 pairs"), ("1\nAnn\tx\t2\nB\t1\tC\t2\n", ":2: expected")],
)
def test_malformed_pairs_files_name_the_line(tmp_path, text, message):
    root = make_root(tmp_path)
    pairs = tmp_path / "pairs.txt"
    pairs.write_text(text)
    with pytest.raises(DatasetError, match=message):
        read_pairs(root, pairs)


def test_missing_image_folder_is_named(tmp_path):
    with pytest.raises(DatasetError, match="no LFW image folder"):
        read_pairs(tmp_path, tmp_path / "pairs.txt")


def test_central_face_prefers_the_middle():
    boxes = np.array([[0, 0, 60, 60], [95, 95, 155, 155], [180, 180, 250, 250]], np.float32)
    faces = Faces(boxes, np.ones(3, np.float32), np.zeros((3, 5, 2), np.float32))
    chosen = central_face(faces, 250, 250)
    np.testing.assert_array_equal(chosen.boxes, boxes[1:2])
