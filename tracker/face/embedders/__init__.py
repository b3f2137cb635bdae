"""Face embedders: aligned crops in, L2-normalised embeddings out, chosen by name in config.

Every embedder has a stable ``model_id`` (name and a hash of its weights) that is stored
beside each embedding, so embeddings of different models are never mixed.
"""

from __future__ import annotations

import importlib

import torch

from tracker.config import ModelsConfig
from tracker.errors import ConfigError, WeightsError
from tracker.face.card import card_path, load_card
from tracker.face.embedders.base import Embedder, file_hash, frozen

__all__ = ["FUSION", "Embedder", "file_hash", "frozen", "load_embedder", "resolve_device"]


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when present, else the CPU; asking for CUDA without one is an error."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("models.device: 'cuda' asked for, but no CUDA device is available")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


FUSION = "dlib-resnet-v1+omz-reid-0095"  # its card: tracker/face/cards/dlib-resnet-v1+omz-reid-0095.json


def load_embedder(config: ModelsConfig, device: torch.device) -> Embedder:
    """The embedder ``config.embedder`` names, with its weights loaded on ``device``, and after it the trained
    head ``config.head`` names, if any."""
    base = base_embedder(config, device)
    if not config.head:
        return base
    from tracker.face.embedders.head import with_head  # torch.load of a head: only when one is configured

    return with_head(base, config)


def base_embedder(config: ModelsConfig, device: torch.device) -> Embedder:
    """The embedder ``config.embedder`` names, by the function its model card names: only the chosen model's code
    is imported (dlib's reader, OpenVINO's IR, facenet-pytorch)."""
    loader = load_card(config.embedder).loader
    module, _, function = loader.partition(":")
    try:
        load = getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError, ValueError) as error:
        raise WeightsError(f"{card_path(config.embedder)}: loader {loader!r} cannot be found ({error}); reinstall "
                           "facetrack") from None
    return load(config, device)
