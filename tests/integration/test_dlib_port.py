"""The torch port of dlib's ResNet against dlib itself (dlib-bin, a test-only dependency)."""


import numpy as np
import pytest
import torch

from tests.support.data import LFW, needs_data
from tracker.images import read_image
from tracker.lfw import read_pairs

dlib = pytest.importorskip("dlib", reason="dlib-bin (test extra) is not installed")

pytestmark = needs_data


def lfw_chips(dlib_analyzer, count: int) -> np.ndarray:
    pairs = read_pairs(LFW, LFW / "pairsDevTest.txt")
    images = [read_image(p) for p in pairs.images[: count + 8]]
    analyses, _ = dlib_analyzer.embed_central(images)
    return np.concatenate([a.crops for a in analyses if len(a)][:count])


def test_port_matches_dlib_on_real_lfw_chips(dlib_analyzer):
    from tracker.face.embedders.dlib_resnet import weights_path

    chips = lfw_chips(dlib_analyzer, 24)
    assert len(chips) == 24
    reference = dlib.face_recognition_model_v1(str(weights_path()))
    expected = np.array([np.array(reference.compute_face_descriptor(np.ascontiguousarray(c))) for c in chips])
    with torch.inference_mode():
        ours = dlib_analyzer.embedder.net(torch.from_numpy(chips)).numpy()
    assert ours.shape == (24, 128)
    assert np.abs(ours - expected).max() < 1e-4
    # The embedding the rest of the system sees: dlib's descriptors of the chip and of its
    # mirror image, each normalised, averaged and normalised again.
    mirrored = np.array([np.array(reference.compute_face_descriptor(np.ascontiguousarray(c[:, ::-1]))) for c in chips])
    unit = expected / np.linalg.norm(expected, axis=1, keepdims=True)
    unit_mirrored = mirrored / np.linalg.norm(mirrored, axis=1, keepdims=True)
    both = unit + unit_mirrored
    assert dlib_analyzer.embedder.flip
    expected_embeddings = both / np.linalg.norm(both, axis=1, keepdims=True)
    np.testing.assert_allclose(dlib_analyzer.embedder.embed(chips), expected_embeddings, atol=1e-4)
