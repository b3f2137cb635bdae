"""Image files that must be refused at once, naming the file: a pipe or device would block a read for ever."""

import os

import pytest

from tracker.errors import ImageError
from tracker.images import read_image


@pytest.mark.timeout(10)
def test_a_pipe_given_as_an_image_is_refused_at_once_not_read_forever(tmp_path):
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)  # enroll photo.jpg: a named pipe nobody writes to would block a read for ever
    with pytest.raises(ImageError, match=r"photo.jpg: not a regular file"):
        read_image(fifo)
