"""Blurring unknown faces (http.blur_unknown): the face regions lose their detail, the rest of the frame
does not change, and the live view draws over the blurred frame."""

import cv2
import numpy as np

from pipelines.live.sources import Frame
from pipelines.web.cameras import view
from tracker.images import blur_boxes
from tracker.track.state import TrackedFace


def detail(rgb: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def test_blur_boxes_removes_the_detail_of_the_face_regions_only():
    image = np.random.default_rng(1).integers(0, 255, (400, 600, 3), np.uint8)
    out = blur_boxes(image, [np.array([100, 100, 200, 220], np.float32)])
    face = (slice(60, 260), slice(60, 240))  # the box grown by 40% on each side
    assert detail(out[face]) < detail(image[face]) / 50
    assert np.array_equal(out[:, 300:], image[:, 300:]) and np.array_equal(out[300:], image[300:])


def test_the_live_view_blurs_unknown_faces_and_not_named_ones():
    image = np.random.default_rng(2).integers(0, 255, (400, 600, 3), np.uint8)
    faces = [TrackedFace(np.array([60, 100, 160, 220], np.float32), 1, None),
             TrackedFace(np.array([400, 100, 500, 220], np.float32), 2, "Ann Lee")]
    frame = Frame("door", 0, 0.0, image, 0.0)

    def region(jpeg: bytes, x1: int, x2: int) -> np.ndarray:
        rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        return rgb[110:210, x1:x2]  # inside the boxes, clear of the drawn frame and labels

    plain, blurred = view(frame, faces), view(frame, faces, blur_unknown=True)
    assert detail(region(blurred, 70, 150)) < detail(region(plain, 70, 150)) / 10  # the unknown face
    assert abs(detail(region(blurred, 410, 490)) - detail(region(plain, 410, 490))) < 0.05 * detail(
        region(plain, 410, 490))  # Ann Lee's, untouched
