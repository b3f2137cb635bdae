"""facenet-pytorch's InceptionResnetV1 (512-d, 160x160) with offline weight loading.

Weights come from a local file named in config, else from facenet-pytorch's own cache
(``$TORCH_HOME/checkpoints``), else from facenet-pytorch's download; offline with none of
these, the error names the file to place and where.
"""

from __future__ import annotations

from pathlib import Path

import torch
from facenet_pytorch import InceptionResnetV1
from facenet_pytorch.models.inception_resnet_v1 import get_torch_home

from tracker.config import ModelsConfig
from tracker.errors import WeightsError
from tracker.face.align import model_template
from tracker.face.card import load_card
from tracker.face.embedders.base import Embedder, file_hash

WEIGHTS = {
    "facenet-vggface2": ("vggface2", "20180402-114759-vggface2.pt"),
    "facenet-casia-webface": ("casia-webface", "20180408-102900-casia-webface.pt"),
}


class _Standardised(torch.nn.Module):
    """uint8 RGB ``(n, h, w, 3)`` in; facenet's ``(x - 127.5) / 128`` standardisation; embeddings out."""

    def __init__(self, net: InceptionResnetV1) -> None:
        super().__init__()
        self.net = net

    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        x = (chips.permute(0, 3, 1, 2).float() - 127.5) / 128.0
        return self.net(x)


def _weights_file(config: ModelsConfig) -> Path:
    dataset, filename = WEIGHTS[config.embedder]
    if config.facenet_weights:
        path = Path(config.facenet_weights).expanduser()
        if not path.is_file():
            raise WeightsError(f"models.facenet_weights: {path} does not exist")
        return path
    cached = Path(get_torch_home()) / "checkpoints" / filename
    if not cached.is_file():
        try:
            InceptionResnetV1(pretrained=dataset)  # facenet-pytorch downloads into its cache
        except OSError as error:
            raise WeightsError(
                f"{config.embedder}: weights not found and cannot be downloaded ({error}). "
                f"Place {filename} at {cached}, or name a local state-dict file in models.facenet_weights."
            ) from None
    return cached


def load_facenet(config: ModelsConfig, device: torch.device) -> Embedder:
    path = _weights_file(config)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a bad file
        raise WeightsError(f"{path}: not a torch state-dict file: {error}") from None
    net = InceptionResnetV1(pretrained=None, classify=False)
    state = {k: v for k, v in state.items() if not k.startswith("logits.")}
    try:
        net.load_state_dict(state)
    except RuntimeError as error:
        raise WeightsError(f"{path}: does not hold InceptionResnetV1 weights: {str(error)[:300]}") from None
    card = load_card(config.embedder)
    return Embedder(config.embedder, _Standardised(net), 512, model_template(config.embedder), card.verify_threshold,
                    file_hash(path), device, config)
