"""Embedders with real weights on real faces, and the facenet weight-loading paths."""

from urllib.error import URLError

import numpy as np
import pytest
import torch
from facenet_pytorch import InceptionResnetV1

from tests.support.data import EIGHT_FACES, needs_data
from tracker.config import ModelsConfig
from tracker.errors import WeightsError
from tracker.face.embedders import load_embedder
from tracker.images import read_image

FACES = EIGHT_FACES
# Squared L2 between their dlib-resnet-v1 embeddings (config.toml defaults: YuNet landmarks, CPU), measured once
# with this code. Angelina Jolie and Kate Siegel (0.148) are two people closer than the threshold (0.177), so the
# threshold checks below cover the LFW pairs only.
DISTANCES = np.array([
    [0.0000, 0.0534, 0.2230, 0.1983, 0.4362, 0.4554, 0.3392, 0.3304],
    [0.0534, 0.0000, 0.2835, 0.2145, 0.4210, 0.4378, 0.3349, 0.3394],
    [0.2230, 0.2835, 0.0000, 0.1142, 0.3810, 0.4123, 0.2718, 0.2807],
    [0.1983, 0.2145, 0.1142, 0.0000, 0.3686, 0.3723, 0.2357, 0.2493],
    [0.4362, 0.4210, 0.3810, 0.3686, 0.0000, 0.1479, 0.3915, 0.3735],
    [0.4554, 0.4378, 0.4123, 0.3723, 0.1479, 0.0000, 0.3625, 0.3548],
    [0.3392, 0.3349, 0.2718, 0.2357, 0.3915, 0.3625, 0.0000, 0.2293],
    [0.3304, 0.3394, 0.2807, 0.2493, 0.3735, 0.3548, 0.2293, 0.0000],
])


@needs_data
def test_distance_matrix_of_real_faces(dlib_analyzer):
    analyzer = dlib_analyzer
    analyses, _ = analyzer.embed_central([read_image(path) for path in FACES])  # each photograph's subject
    assert [len(a) for a in analyses] == [1] * len(FACES)
    e = np.stack([a.embeddings[0] for a in analyses])
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    d = ((e[:, None] - e[None]) ** 2).sum(-1)
    np.testing.assert_allclose(d, DISTANCES, atol=0.01)
    t = analyzer.verify_threshold
    assert d[0, 1] < t and d[2, 3] < t, "the same LFW person must be within the threshold"
    assert min(d[0, 2], d[0, 3], d[1, 2], d[1, 3]) > t, "different LFW people must be beyond it"


def test_model_id_names_the_model_and_its_weights(analyzer, dlib_analyzer):
    name, digest = dlib_analyzer.embedder.model_id.split(":")
    assert name == "dlib-resnet-v1" and len(digest) == 12
    assert analyzer.embedder.model_id.split(":")[0] == "omz-reid-0095"  # the default
    int(digest, 16)


def test_converted_weights_are_cached_and_reused(config, tmp_path):
    models = config.models.model_copy(update={"cache_dir": str(tmp_path / "cache"), "embedder": "dlib-resnet-v1"})
    crops = np.random.default_rng(0).integers(0, 255, (3, 150, 150, 3), dtype=np.uint8)
    converted = load_embedder(models, torch.device("cpu"))
    cached = tmp_path / "cache" / f"dlib-resnet-v1-{converted.model_id.split(':')[1]}.pt"
    assert list((tmp_path / "cache").glob("*")) == [cached], "the converted weights were not cached"
    reloaded = load_embedder(models, torch.device("cpu"))
    np.testing.assert_array_equal(reloaded.embed(crops), converted.embed(crops))
    # Read back, not converted again: a cache whose last layer is negated gives negated embeddings.
    state = torch.load(cached, weights_only=True)
    torch.save({**state, "fc.weight": -state["fc.weight"]}, cached)
    tampered = load_embedder(models, torch.device("cpu"))
    np.testing.assert_allclose(tampered.embed(crops), -converted.embed(crops), atol=1e-6,
                               err_msg="the cached weights were not read back")


def test_embed_refuses_crops_of_the_wrong_size(analyzer):
    with pytest.raises(ValueError, match=r"omz-reid-0095 takes \(n, 128, 128, 3\) uint8"):
        analyzer.embedder.embed(np.zeros((1, 160, 160, 3), np.uint8))


@pytest.fixture
def random_facenet_weights(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "facenet-random.pt"
    torch.save(InceptionResnetV1(pretrained=None).state_dict(), path)
    return path


def test_facenet_runs_from_a_local_weights_file(random_facenet_weights):
    config = ModelsConfig(embedder="facenet-vggface2", facenet_weights=str(random_facenet_weights))
    embedder = load_embedder(config, torch.device("cpu"))
    crops = np.random.default_rng(0).integers(0, 255, (2, 160, 160, 3), dtype=np.uint8)
    e = embedder.embed(crops)
    assert e.shape == (2, 512)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert embedder.model_id.startswith("facenet-vggface2:")
    assert embedder.template.size == 160


def test_facenet_offline_without_weights_says_what_to_place_where(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def offline(url, dst, *args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr("facenet_pytorch.models.inception_resnet_v1.download_url_to_file", offline)
    with pytest.raises(WeightsError) as caught:
        load_embedder(ModelsConfig(embedder="facenet-casia-webface"), torch.device("cpu"))
    message = str(caught.value)
    assert "20180408-102900-casia-webface.pt" in message
    assert str(tmp_path / "torch" / "checkpoints") in message
    assert "models.facenet_weights" in message


def test_facenet_weights_file_errors_name_the_file(tmp_path):
    missing = ModelsConfig(embedder="facenet-vggface2", facenet_weights=str(tmp_path / "none.pt"))
    with pytest.raises(WeightsError, match="models.facenet_weights: .*none.pt does not exist"):
        load_embedder(missing, torch.device("cpu"))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a state dict")
    with pytest.raises(WeightsError, match="junk.pt: not a torch state-dict file"):
        load_embedder(ModelsConfig(embedder="facenet-vggface2", facenet_weights=str(junk)), torch.device("cpu"))


def test_images_without_faces_give_empty_analyses(analyzer):
    assert analyzer.analyze([]) == []
    [analysis] = analyzer.analyze([np.full((120, 160, 3), 90, np.uint8)])
    assert len(analysis) == 0
    assert analysis.embeddings.shape == (0, 256)
    assert analysis.crops.shape == (0, 128, 128, 3)
    assert analysis.quality.sharpness.shape == (0,)


def test_on_the_cpu_the_network_runs_frozen_or_as_it_is_with_a_warning(analyzer, caplog):
    from tracker.face.embedders import frozen

    assert isinstance(analyzer.embedder.net, torch.jit.ScriptModule)  # traced, frozen, oneDNN layouts

    class Untraceable(torch.nn.Module):
        def forward(self, crops):
            return {"embedding": crops.float()}  # a dict out: the tracer refuses it

    net = Untraceable().eval()
    assert frozen(net, 8, "dict-net") is net
    assert "dict-net: runs unoptimised on the CPU (cannot freeze it:" in caplog.text

    class Unsteady(torch.nn.Module):
        def forward(self, crops):
            return crops.float().mean(dim=(1, 2, 3)) * (2.0 if crops.float().mean() > 127.5 else 1.0)  # a branch

    net = Unsteady().eval()
    assert frozen(net, 8, "branching-net") is net  # traced one way, wrong on the other: caught, not frozen
    assert "branching-net: runs unoptimised on the CPU (cannot freeze it: its frozen outputs differ" in caplog.text
