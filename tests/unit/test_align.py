import numpy as np
import pytest

from tracker.face.align import DLIB_150, Template, align, similarity_transform


@pytest.mark.parametrize("angle, scale, shift", [(0.0, 1.0, (0, 0)), (0.3, 0.5, (10, -4)), (-1.2, 2.5, (-30, 7))])
def test_similarity_transform_recovers_a_known_transform(angle, scale, shift):
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 100, (5, 2))
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ rot.T + shift
    m = similarity_transform(src, dst)
    np.testing.assert_allclose(m[:, :2], rot, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], shift, atol=1e-9)


def test_a_reflection_is_never_returned():
    src = DLIB_150.points.astype(float)  # a face seen in a mirror must not be flipped back
    mirrored = src * [-1, 1]
    m = similarity_transform(src, mirrored)
    assert np.linalg.det(m[:, :2]) > 0


def test_align_puts_the_landmarks_on_the_template():
    # Paint five dots, rotate and shrink them in a larger image, align back: each dot lands on its template point.
    image = np.zeros((400, 400, 3), np.uint8)
    angle, scale = 0.4, 1.8
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    landmarks = DLIB_150.points @ rot.T + [120, 60]
    for i, (x, y) in enumerate(landmarks):
        image[int(round(y)) - 2 : int(round(y)) + 3, int(round(x)) - 2 : int(round(x)) + 3, i % 3] = 255
    crop = align(image, landmarks, DLIB_150)
    assert crop.shape == (150, 150, 3)
    for i, (x, y) in enumerate(DLIB_150.points):
        window = crop[int(y) - 3 : int(y) + 4, int(x) - 3 : int(x) + 4, i % 3]
        assert window.max() > 100, f"landmark {i} not at its template point"


def test_large_faces_are_shrunk_without_losing_the_geometry():
    image = np.full((1200, 1200, 3), 40, np.uint8)
    landmarks = DLIB_150.points * 6 + 50  # a face six times the chip size
    for x, y in landmarks:
        image[int(y) - 8 : int(y) + 9, int(x) - 8 : int(x) + 9] = 255
    crop = align(image, landmarks, DLIB_150)
    for x, y in DLIB_150.points:
        assert crop[int(round(y)), int(round(x))].min() > 150


def test_template_shape_is_checked():
    with pytest.raises(ValueError):
        Template(150, np.zeros((4, 2)))
