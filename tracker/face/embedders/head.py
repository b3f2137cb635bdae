"""A trained head (``facetrack train``) after its base embedder, as ``models.head`` names it: a model like the
others, with a model id of its own (``<base name>+<head id>:<weights hash>``, so a gallery is re-embedded for
it and its embeddings are never mixed with the base's) and its own calibration, measured at training on the
people it was not trained on (the test fold's): the verification threshold, the impostor and the same-person
distance tables that ``gallery.far_tables`` holds for the shipped models."""

from __future__ import annotations

import numpy as np
from torch import nn

from tracker.config import ModelsConfig
from tracker.errors import WeightsError
from tracker.face.embedders.base import Embedder, file_hash
from tracker.head_record import head_path, head_record, register
from tracker.train.head import ResidualHead, load_head


class HeadEmbedder(Embedder):
    def __init__(self, base: Embedder, head: ResidualHead, head_id: str, weights_hash: str, calibration: dict,
                 config: ModelsConfig) -> None:
        super().__init__(f"{base.name}+{head_id}", nn.Identity(), head.dim_out, base.template,
                         float(calibration["verify_threshold"]), weights_hash, base.device, config, flips=False,
                         optimize=False)
        self.base, self.head = base, head

    def embed(self, crops: np.ndarray) -> np.ndarray:
        return self.head.embed(self.base.embed(crops))


def with_head(base: Embedder, config: ModelsConfig) -> Embedder:
    """``base`` followed by the head ``models.head`` names; a ``WeightsError`` naming the file at fault."""
    path, record = head_path(config), head_record(config)
    if record.get("base") != base.model_id:
        raise WeightsError(f"models.head: {path} was trained on {record.get('base')}, the embedder is "
                           f"{base.model_id}; set models.embedder to its base or train a head for this one")
    head = load_head(path)
    if head.dim_in != base.dim:
        raise WeightsError(f"models.head: {path} takes {head.dim_in}-d embeddings, {base.name} gives {base.dim}")
    embedder = HeadEmbedder(base, head, record["id"], file_hash(path), record["calibration"], config)
    register(embedder.model_id, record)
    return embedder
