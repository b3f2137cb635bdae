"""Face alignment: five landmarks onto a model's canonical template by a similarity transform.

This one function cuts the crops for enrollment, live video and evaluation alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tracker.errors import WeightsError
from tracker.face.card import card_path, load_card
from tracker.faces import Faces


@dataclass(frozen=True)
class Template:
    """Where a model expects the five landmarks on its square ``size`` crop."""

    size: int
    points: np.ndarray  # (5, 2): left eye, right eye, nose, left mouth, right mouth

    def __post_init__(self) -> None:
        if self.points.shape != (5, 2):
            raise ValueError(f"a template has 5 (x, y) points, not {self.points.shape}")


# MTCNN's landmarks as they fall on dlib's own 150x150 chips (get_face_chip, padding 0.25),
# medians over 511 LFW faces: measured by scripts/derive_dlib_template.py.
DLIB_150 = Template(
    150, np.array([[48.50, 46.66], [102.65, 46.79], [75.29, 79.23], [51.85, 106.51], [99.36, 106.90]], np.float32)
)
# MTCNN's landmarks in facenet-pytorch's 160x160 box crops (margin 0), medians over LFW faces.
FACENET_160 = Template(
    160, np.array([[45.54, 62.49], [119.13, 60.96], [84.28, 93.74], [51.69, 121.19], [117.82, 119.64]], np.float32)
)

# omz-reid-0095's reference points, from its Open Model Zoo card (ArcFace's 96x112 points as shares of width and
# height), on a 128 px crop.
OMZ_128 = Template(128, np.array([[0.31557, 0.46157], [0.68262, 0.45983], [0.50026, 0.64051],
                                  [0.34947, 0.82469], [0.65344, 0.82325]], np.float32) * 128)


# The canonical crop a gallery stores: dlib's chip geometry with a 37 px margin all round, large
# enough that every model's template can be cut from it again (see ``landmarks_on_crop``).
STORE_224 = Template(224, DLIB_150.points + np.float32(37.0))
TEMPLATES = {"DLIB_150": DLIB_150, "FACENET_160": FACENET_160, "OMZ_128": OMZ_128, "STORE_224": STORE_224}


def model_template(name: str) -> Template:
    """The crop template the model card of embedder ``name`` names."""
    template = load_card(name).template
    if template not in TEMPLATES:
        raise WeightsError(f"{card_path(name)}: template {template!r} is none of {sorted(TEMPLATES)}")
    return TEMPLATES[template]


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 rotation + uniform scale + translation mapping ``src`` points onto ``dst``, least squares.

    Umeyama's closed form; ``src`` and ``dst`` are ``(n, 2)`` with n >= 2.
    """
    src, dst = src.astype(np.float64), dst.astype(np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sigma, vt = np.linalg.svd(cov)
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rotation = u @ sign @ vt
    variance = (s**2).sum() / len(src)
    scale = (sigma * np.diag(sign)).sum() / variance if variance > 0 else 1.0
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = mu_d - matrix[:, :2] @ mu_s
    return matrix


def align(image: np.ndarray, landmarks: np.ndarray, template: Template) -> np.ndarray:
    """Cut the ``template.size`` square crop that puts ``landmarks (5, 2)`` on the template's points.

    Large faces are first shrunk with area averaging so the crop does not alias.
    """
    matrix = similarity_transform(landmarks, template.points)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if scale < 0.5:
        shrink = scale * 1.5
        image = cv2.resize(image, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
        matrix = similarity_transform(landmarks * shrink, template.points)
    size = template.size
    return cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def landmarks_on_crop(landmarks: np.ndarray, template: Template) -> np.ndarray:
    """Where ``landmarks`` land on the crop ``align`` cuts for ``template``: a crop can be re-aligned
    to another model's template with ``align(crop, landmarks_on_crop(...), other)``."""
    matrix = similarity_transform(landmarks, template.points)
    return (landmarks @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def align_faces(image: np.ndarray, faces: Faces, template: Template) -> np.ndarray:
    """Aligned crops of every face in ``image``: ``(n, size, size, 3)`` uint8."""
    if not len(faces):
        return np.zeros((0, template.size, template.size, 3), np.uint8)
    return np.stack([align(image, marks, template) for marks in faces.landmarks])
