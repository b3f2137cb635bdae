import numpy as np
import pytest

from tracker.face.align import DLIB_150
from tracker.face.quality import frontal_score, sharpness
from tracker.faces import Faces


def test_empty_faces_are_an_ordinary_value():
    empty = Faces.empty()
    assert len(empty) == 0 and empty.sizes.shape == (0,)
    assert len(empty.scaled(2.0)) == 0


def test_inconsistent_arrays_are_refused():
    with pytest.raises(ValueError, match="inconsistent"):
        Faces(np.zeros((2, 4)), np.zeros(1), np.zeros((2, 5, 2)))


def test_scaled_maps_boxes_and_landmarks_back():
    faces = Faces(np.array([[10, 20, 30, 50]], float), np.array([0.9]), np.full((1, 5, 2), 5.0))
    big = faces.scaled(2.0)
    np.testing.assert_array_equal(big.boxes, [[20, 40, 60, 100]])
    np.testing.assert_array_equal(big.landmarks, np.full((1, 5, 2), 10.0))
    assert big.sizes[0] == 40


def rotate(points, angle):
    c, s = np.cos(angle), np.sin(angle)
    centre = points.mean(0)
    return (points - centre) @ np.array([[c, -s], [s, c]]).T + centre


def test_frontal_score_falls_with_roll_and_yaw():
    frontal = DLIB_150.points.astype(float)
    rolled = rotate(frontal, np.radians(30))
    turned = frontal.copy()
    turned[2, 0] += 20  # nose towards one eye: the head is turned
    scores = frontal_score(np.stack([frontal, rolled, turned]))
    assert scores[0] > 0.9
    assert scores[1] < scores[0] - 0.3
    assert scores[2] < scores[0] - 0.3


def test_blur_lowers_sharpness():
    rng = np.random.default_rng(0)
    crisp = rng.integers(0, 255, (1, 150, 150, 3), dtype=np.uint8)
    import cv2

    blurred = cv2.GaussianBlur(crisp[0], (9, 9), 3)[None]
    assert sharpness(blurred)[0] < sharpness(crisp)[0] / 10
