"""``enroll --dir``: which files of each person's folder go to enrollment."""

import pytest

from pipelines.cli.gallery import _folders
from tracker.errors import TrackerError


def test_only_image_files_of_each_person_are_enrolled(tmp_path):
    ada = tmp_path / "Ada"
    ada.mkdir()
    for name in ["a.jpg", "B.JPEG", "c.Png", "d.tiff", "README.txt", "notes", "Thumbs.db", ".DS_Store", "._a.jpg"]:
        (ada / name).write_bytes(b"")
    (ada / "old.jpg").mkdir()  # a folder, whatever its name
    (tmp_path / "Bob").mkdir()
    (tmp_path / "Bob" / "photo.webp").write_bytes(b"")
    (tmp_path / "list.csv").write_bytes(b"")  # a file beside the person folders is no person

    people = _folders(tmp_path)

    assert [(person, [p.name for p in files]) for person, files in people] == [
        ("Ada", ["B.JPEG", "a.jpg", "c.Png", "d.tiff"]),
        ("Bob", ["photo.webp"]),
    ]


def test_a_person_folder_without_images_is_kept_empty(tmp_path):
    (tmp_path / "Cy").mkdir()
    (tmp_path / "Cy" / "README.md").write_text("no photos yet")
    assert _folders(tmp_path) == [("Cy", [])]


@pytest.mark.parametrize("make", [lambda root: None, lambda root: root.mkdir()])
def test_a_missing_or_empty_root_is_an_error(tmp_path, make):
    root = tmp_path / "people"
    make(root)
    with pytest.raises(TrackerError, match="enroll --dir takes"):
        _folders(root)
