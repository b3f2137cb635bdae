"""The detectors (YuNet, the default, and MTCNN) on real photographs and the real street video."""

import cv2
import numpy as np
import pytest
import torch

from tests.support.data import STILLS, VIDEO, needs_data
from tracker.config import DetectorConfig
from tracker.face.detect import load_detector
from tracker.images import read_image

pytestmark = needs_data


@pytest.fixture(scope="module")
def group_six():
    return read_image(STILLS / "group_six.jpg")


@pytest.fixture(scope="module", params=["yunet", "mtcnn"])
def detector(request):
    return load_detector(DetectorConfig(model=request.param), torch.device("cpu"))


def test_finds_the_six_faces_of_the_group_photo(detector, group_six):
    faces = detector.detect(group_six)
    assert len(faces) == 6
    assert faces.scores.min() > 0.9
    # every landmark lies inside its box
    x, y = faces.landmarks[..., 0], faces.landmarks[..., 1]
    assert np.all((x >= faces.boxes[:, None, 0]) & (x <= faces.boxes[:, None, 2]))
    assert np.all((y >= faces.boxes[:, None, 1]) & (y <= faces.boxes[:, None, 3]))


def test_downscaled_detection_returns_full_frame_boxes(analyzer, group_six):
    full = analyzer.detector.detect(group_six)
    half = load_detector(DetectorConfig(scale=0.5, min_face_size=40), torch.device("cpu")).detect(group_six)
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


def test_a_frame_smaller_than_the_smallest_face_finds_nothing_and_its_batch_goes_on(detector, group_six):
    batch = detector.detect_batch([group_six, np.full((8, 8, 3), 128, np.uint8)], glances=[False, True])
    assert [len(f) for f in batch] == [6, 0]


def test_detector_refuses_frames_that_are_not_rgb(analyzer):
    with pytest.raises(ValueError, match="RGB uint8"):
        analyzer.detector.detect(np.zeros((10, 10), np.uint8))


def test_finds_faces_in_the_street_video(detector):
    capture = cv2.VideoCapture(str(VIDEO))
    frames = []
    for index in range(0, 100, 20):
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, bgr = capture.read()
        assert ok, f"cannot read frame {index} of {VIDEO}"
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    counts = [len(f) for f in detector.detect_batch(frames)]
    assert all(c >= 1 for c in counts), counts
    assert max(counts) >= 2, counts


def test_an_image_smaller_than_the_smallest_face_has_no_faces(analyzer):
    tiny = np.zeros((8, 30, 3), np.uint8)
    faces = analyzer.detector.detect_batch([tiny, read_image(STILLS / "group_six.jpg"), tiny])
    assert [len(f) for f in faces] == [0, 6, 0]


def test_yunet_gives_mtcnns_landmarks_in_mtcnns_order(group_six):
    yunet = load_detector(DetectorConfig(model="yunet"), torch.device("cpu")).detect(group_six)
    mtcnn = load_detector(DetectorConfig(model="mtcnn"), torch.device("cpu")).detect(group_six)
    for box, points in zip(mtcnn.boxes, mtcnn.landmarks):
        same = int(np.abs(yunet.boxes - box).max(axis=1).argmin())
        size = box[2] - box[0]
        assert np.abs(yunet.landmarks[same] - points).max() < 0.15 * size  # each point near its MTCNN twin
        left_eye, right_eye = yunet.landmarks[same][0], yunet.landmarks[same][1]
        assert left_eye[0] < right_eye[0]  # the eye on the image's left comes first


def test_yunet_is_fed_bgr_whatever_order_the_pixels_came_in(group_six):
    """The adapter takes RGB and gives YuNet BGR: its scores are YuNet's own on the BGR image."""
    from tracker.face.yunet import MODEL

    detector = load_detector(DetectorConfig(model="yunet", min_confidence=0.5), torch.device("cpu"))
    faces = detector.detect(group_six)
    scale = detector.scale_for(*group_six.shape[:2])
    bgr = cv2.resize(cv2.cvtColor(group_six, cv2.COLOR_RGB2BGR), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    net = cv2.FaceDetectorYN.create(str(MODEL), "", (bgr.shape[1], bgr.shape[0]), 0.5, 0.3, 5000)
    _, raw = net.detect(bgr)
    np.testing.assert_allclose(np.sort(faces.scores), np.sort(raw[:, 14]), atol=1e-4)
    _, swapped = net.detect(np.ascontiguousarray(bgr[..., ::-1]))  # the wrong channel order gives other scores
    assert not np.allclose(np.sort(swapped[:, 14])[: len(raw)], np.sort(raw[:, 14])[: len(swapped)], atol=1e-4)


def test_yunet_finds_one_face_in_a_large_close_up():
    rudd = read_image(STILLS / "people" / "paul_rudd" / "1.jpg")  # 1638x2048, a face 530 px wide
    faces = load_detector(DetectorConfig(model="yunet"), torch.device("cpu")).detect(rudd)
    assert len(faces) == 1 and faces.sizes[0] > 400
