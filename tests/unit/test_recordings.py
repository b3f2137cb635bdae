"""Which file of a folder camera plays next: finished ones only (unchanged between two looks and not touched
lately), oldest first, each once; temporary, hidden and unprintable names left alone."""

import asyncio
import os
import time

from pipelines.live.recordings import STABLE_SECONDS, FolderReader, Played
from pipelines.live.sources import Mailbox


def reader(folder, loop) -> FolderReader:
    played = Played("redis://127.0.0.1:1/0", "test")  # never asked here: nothing is read or written
    return FolderReader("nvr", str(folder), Mailbox(loop), played, False, 5.0)


def test_the_oldest_finished_recording_comes_next_and_a_played_one_never_again(tmp_path):
    old = time.time() - 2 * STABLE_SECONDS
    for name, age in (("b.avi", old), ("a.avi", old - 5), ("c.avi", time.time()), ("d.avi.part", old),
                      (".e.avi", old), ("bad\nname.avi", old)):
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (age, age))
    (tmp_path / os.fsdecode(b"\xffbad.avi")).write_bytes(b"x")  # bytes that are not UTF-8
    loop = asyncio.new_event_loop()
    camera = reader(tmp_path, loop)
    loop.close()
    camera.played.close()
    assert camera._next() is None  # a first look: nothing is known to be finished yet
    path, stamp = camera._next()
    assert path.name == "a.avi"  # the oldest; c.avi was touched just now, the others are not recordings yet
    camera.played._done[path.name] = stamp  # as Played.add notes it
    assert camera._next()[0].name == "b.avi"
    assert camera._said == {"bad\nname.avi", os.fsdecode(b"\xffbad.avi")}  # said once each, never played
