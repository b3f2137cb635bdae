"""Fusion of two embedders: each one's unit embedding of the same face, concatenated and normalised again.

The analyzer cuts one crop per face on ``STORE_224`` (dlib's chip geometry with a margin, the crop a gallery
stores); each member re-cuts its own template from it with the similarity transform between the two
templates' points (for ``dlib-resnet-v1`` a whole-pixel shift: an exact copy). The model id names both
members and both weight hashes, so fused embeddings are never mixed with either member's.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from tracker.config import ModelsConfig
from tracker.face.align import STORE_224, similarity_transform
from tracker.face.card import load_card
from tracker.face.embedders.base import Embedder


def load_fusion(config: ModelsConfig, device: torch.device) -> FusionEmbedder:
    """The members ``config.embedder`` names ("a+b"), fused."""
    from tracker.face.embedders import base_embedder  # the package loads this module only when fusion is chosen

    name = config.embedder
    members = [base_embedder(config.model_copy(update={"embedder": member}), device) for member in name.split("+")]
    return FusionEmbedder(name, members, load_card(name).verify_threshold, config)


class FusionEmbedder(Embedder):
    def __init__(self, name: str, members: list[Embedder], threshold: float, config: ModelsConfig) -> None:
        digest = "".join(m.model_id.split(":")[1][:6] for m in members)
        super().__init__(name, torch.nn.Identity(), sum(m.dim for m in members), STORE_224, threshold, digest,
                         members[0].device, config, flips=False, optimize=False)  # members flip, freeze as theirs
        self.members = members
        self._warps = [similarity_transform(STORE_224.points, m.template.points) for m in members]

    def embed(self, crops: np.ndarray) -> np.ndarray:
        self.check(crops)
        parts = []
        for member, warp in zip(self.members, self._warps):
            s = member.template.size
            cut = np.stack([cv2.warpAffine(c, warp, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
                            for c in crops]) if len(crops) else np.zeros((0, s, s, 3), np.uint8)
            parts.append(member.embed(cut))
        joined = np.concatenate(parts, axis=1)
        return joined / np.maximum(np.linalg.norm(joined, axis=1, keepdims=True), 1e-12)
