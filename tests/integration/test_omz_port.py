"""Open Model Zoo's face-reidentification-retail-0095, run in torch from its IR files, against the OpenVINO
runtime itself (the PyPI ``openvino`` package, a test-only dependency), and on real faces."""

import numpy as np
import pytest
import torch

from tests.support.data import EIGHT_FACES, LFW, needs_data
from tracker.config import with_changes
from tracker.face.embedders.omz_reid import XML
from tracker.images import read_image
from tracker.lfw import read_pairs

ov = pytest.importorskip("openvino", reason="openvino (test extra) is not installed")

pytestmark = needs_data

FACES = EIGHT_FACES
# Squared L2 between their omz-reid-0095 embeddings (the default config but this embedder: YuNet landmarks, no
# flip averaging for this model, CPU), measured once with this code. As with dlib's model, Angelina Jolie and
# Kate Siegel (0.98) are two people closer than the threshold (1.396), so the threshold checks below cover the LFW
# pairs only.
DISTANCES = np.array([
    [0.0000, 0.6943, 1.7214, 1.6737, 2.2040, 2.0568, 1.9538, 2.0933],
    [0.6943, 0.0000, 1.8792, 1.7722, 2.1191, 2.0387, 2.0432, 2.0037],
    [1.7214, 1.8792, 0.0000, 0.9859, 1.8649, 1.8484, 2.1847, 1.7925],
    [1.6737, 1.7722, 0.9859, 0.0000, 2.0034, 1.9894, 1.8362, 2.1180],
    [2.2040, 2.1191, 1.8649, 2.0034, 0.0000, 0.9760, 2.0386, 1.8195],
    [2.0568, 2.0387, 1.8484, 1.9894, 0.9760, 0.0000, 1.8798, 1.6734],
    [1.9538, 2.0432, 2.1847, 1.8362, 2.0386, 1.8798, 0.0000, 1.8597],
    [2.0933, 2.0037, 1.7925, 2.1180, 1.8195, 1.6734, 1.8597, 0.0000],
])


@pytest.fixture(scope="module")
def omz(config):
    from tracker.face.analyzer import FaceAnalyzer

    analyzer = FaceAnalyzer.from_config(with_changes(config, "test", models={"embedder": "omz-reid-0095"}))
    assert not analyzer.embedder.flip  # models.flip = "auto": this model measured no better with it
    return analyzer


def test_the_torch_port_matches_openvino_on_real_lfw_crops(omz):
    pairs = read_pairs(LFW, LFW / "pairsDevTest.txt")
    analyses, _ = omz.embed_central([read_image(p) for p in pairs.images[:32]])
    crops = np.concatenate([a.crops for a in analyses if len(a)][:24])
    assert crops.shape == (24, 128, 128, 3)
    compiled = ov.Core().compile_model(str(XML), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    bgr = np.ascontiguousarray(crops.transpose(0, 3, 1, 2)[:, ::-1]).astype(np.float32)
    expected = np.concatenate([compiled(bgr[i : i + 1])[0].reshape(1, -1) for i in range(len(bgr))])
    with torch.inference_mode():
        ours = omz.embedder.net(torch.from_numpy(crops)).numpy()
    assert ours.shape == (24, 256)
    assert np.abs(ours - expected).max() < 1e-3


def test_the_same_person_is_closer_than_different_people_by_a_clear_gap(omz):
    analyses, _ = omz.embed_central([read_image(path) for path in FACES])
    assert [len(a) for a in analyses] == [1] * len(FACES)
    e = np.stack([a.embeddings[0] for a in analyses])
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    d = ((e[:, None] - e[None]) ** 2).sum(-1)
    np.testing.assert_allclose(d, DISTANCES, atol=0.01)
    same, different = max(d[0, 1], d[2, 3]), min(d[0, 2], d[0, 3], d[1, 2], d[1, 3])
    assert same < omz.verify_threshold < different, "the same LFW person within the threshold, different people beyond"
    assert different - same > 0.5, "a clear gap between the same and different LFW people"


def test_the_fusion_of_dlib_and_omz_is_their_mean_distance_on_real_faces(config, omz, dlib_analyzer):
    from tracker.face.analyzer import FaceAnalyzer

    fused = FaceAnalyzer.from_config(with_changes(config, "test", models={"embedder": "dlib-resnet-v1+omz-reid-0095"}))
    assert fused.embedder.dim == 384 and fused.embedder.model_id.startswith("dlib-resnet-v1+omz-reid-0095:")
    images = [read_image(path) for path in FACES]

    def distances(path) -> np.ndarray:
        e = np.stack([a.embeddings[0] for a in path.embed_central(images)[0]])
        return ((e[:, None] - e[None]) ** 2).sum(-1)

    # two unit vectors, concatenated and normalised: the squared distance is the mean of the two models'
    # (each member re-cuts its own crop from the fused path's 224 px crop, hence the tolerance)
    np.testing.assert_allclose(distances(fused), (distances(dlib_analyzer) + DISTANCES) / 2, atol=0.03)
