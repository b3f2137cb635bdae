"""A trained head (``facetrack train``) after its base embedder, as ``models.head`` names it: a model like the
others, with a model id of its own (``<base name>+<head id>:<weights hash>``, so a gallery is re-embedded for
it and its embeddings are never mixed with the base's) and its own tables, measured at training on the
people it was not trained on (the test fold's): the verification threshold, the impostor and the same-person
distance tables that a shipped model's card holds (``tables``)."""

from __future__ import annotations

import numpy as np
from torch import nn

from tracker.config import ModelsConfig
from tracker.errors import WeightsError
from tracker.face.card import Tables
from tracker.face.embedders.base import Embedder, file_hash
from tracker.head_record import head_path, head_record, head_tables
from tracker.train.head import ResidualHead, load_head


class HeadEmbedder(Embedder):
    def __init__(self, base: Embedder, head: ResidualHead, record: dict, weights_hash: str,
                 config: ModelsConfig) -> None:
        super().__init__(f"{base.name}+{record['id']}", nn.Identity(), head.dim_out, base.template,
                         float(record["calibration"]["verify_threshold"]), weights_hash, base.device, config,
                         flips=False, optimize=False)
        self.base, self.head = base, head
        self._tables = head_tables(record, self.model_id)

    @property
    def tables(self) -> Tables:
        return self._tables

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
    return HeadEmbedder(base, head, record, file_hash(path), config)
