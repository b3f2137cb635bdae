"""Small synthetic videos for the source and lifecycle tests, and galleries of a demo plan's people."""

from pathlib import Path

import cv2

from gallery.enroll import Enroller
from gallery.store import GalleryStore
from pipelines.eval.synthetic import background


def write_video(path, seconds: float, fps: float = 10.0):
    """An MJPEG AVI of a background with the frame number drawn on it."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (320, 240))
    frame = background(320, 240)
    for n in range(int(seconds * fps)):
        cv2.putText(frame, str(n), (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2)
        writer.write(frame)
    writer.release()
    return path


def enroll_plan(plan, gallery: Path, analyzer, config) -> Path:
    """A gallery of the plan's enrolled people, from their enrollment photographs (not the ones shown)."""
    with GalleryStore(gallery) as store:
        enroller = Enroller(analyzer, store, config.enroll)
        for name, photos in plan.enroll.items():
            enroller.enroll(name, *enroller.from_images([Path(p) for p in photos]))
    return gallery
