"""The MTCNN adapter on real photographs and the real street video."""

import cv2
import numpy as np
import pytest
import torch

from tests.conftest import STILLS, VIDEO, needs_data
from tracker.config import DetectorConfig
from tracker.face.detect import FaceDetector
from tracker.images import read_image

pytestmark = needs_data


@pytest.fixture(scope="module")
def group_six():
    return read_image(STILLS / "group_six.jpg")


def test_finds_the_six_faces_of_the_group_photo(analyzer, group_six):
    faces = analyzer.detector.detect(group_six)
    assert len(faces) == 6
    assert faces.scores.min() > 0.95
    # every landmark lies inside its box
    x, y = faces.landmarks[..., 0], faces.landmarks[..., 1]
    assert np.all((x >= faces.boxes[:, None, 0]) & (x <= faces.boxes[:, None, 2]))
    assert np.all((y >= faces.boxes[:, None, 1]) & (y <= faces.boxes[:, None, 3]))


def test_downscaled_detection_returns_full_frame_boxes(analyzer, group_six):
    full = analyzer.detector.detect(group_six)
    half = FaceDetector(DetectorConfig(scale=0.5, min_face_size=40), torch.device("cpu")).detect(group_six)
    assert len(half) == 6
    for box in half.boxes:  # each half-scale box matches a full-scale box within a few pixels
        assert np.abs(full.boxes - box).max(axis=1).min() < 10


def test_a_frame_without_faces_is_empty(analyzer):
    assert len(analyzer.detector.detect(np.full((240, 320, 3), 128, np.uint8))) == 0


def test_batches_give_what_single_frames_give(analyzer, group_six):
    other = read_image(STILLS / "people" / "paul_rudd" / "1.jpg")
    batch = analyzer.detector.detect_batch([group_six, other, group_six])
    assert [len(f) for f in batch] == [6, len(analyzer.detector.detect(other)), 6]
    np.testing.assert_allclose(batch[0].boxes, batch[2].boxes)


def test_detector_refuses_frames_that_are_not_rgb(analyzer):
    with pytest.raises(ValueError, match="RGB uint8"):
        analyzer.detector.detect(np.zeros((10, 10), np.uint8))


def test_finds_faces_in_the_street_video(analyzer):
    capture = cv2.VideoCapture(str(VIDEO))
    frames = []
    for index in range(0, 100, 20):
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, bgr = capture.read()
        assert ok, f"cannot read frame {index} of {VIDEO}"
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    counts = [len(f) for f in analyzer.detector.detect_batch(frames)]
    assert all(c >= 1 for c in counts), counts
    assert max(counts) >= 2, counts


def test_an_image_smaller_than_the_smallest_face_has_no_faces(analyzer):
    tiny = np.zeros((8, 30, 3), np.uint8)
    faces = analyzer.detector.detect_batch([tiny, read_image(STILLS / "group_six.jpg"), tiny])
    assert [len(f) for f in faces] == [0, 6, 0]
