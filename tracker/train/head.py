"""A small trained head on top of a frozen embedder: a residual map from its unit embedding to a new unit vector.

``y = normalize(P x + W₂ relu(W₁ x))``: ``P`` starts as the identity (or, for fewer dimensions, a given
``basis``, such as the training faces' principal axes) and ``W₂`` at zero, so an untrained head gives the base
model's own distances (at equal dimensions, exactly its embeddings) and training moves away from them only as
far as the loss asks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from tracker.errors import WeightsError


class ResidualHead(nn.Module):
    def __init__(self, dim_in: int, dim_out: int | None = None, hidden: int = 512,
                 basis: torch.Tensor | None = None) -> None:
        super().__init__()
        dim_out = dim_out or dim_in
        self.dim_in, self.dim_out = dim_in, dim_out
        self.project = nn.Linear(dim_in, dim_out, bias=False)
        with torch.no_grad():
            self.project.weight.copy_(torch.eye(dim_out, dim_in) if basis is None else basis)
        first, last = nn.Linear(dim_in, hidden), nn.Linear(hidden, dim_out)  # made in this order: the same weights
        nn.init.zeros_(last.weight)  # zero: the head starts as the projection
        nn.init.zeros_(last.bias)
        self.residual = nn.Sequential(first, nn.ReLU(), last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.project(x) + self.residual(x), dim=1)

    def embed(self, vectors: np.ndarray) -> np.ndarray:
        """The head's unit outputs of float32 ``vectors`` (n, dim_in), without gradients: numpy in, numpy out."""
        with torch.inference_mode():
            return self(torch.from_numpy(vectors)).numpy()


def load_head(path: Path) -> ResidualHead:
    """The head saved at ``path`` (by ``facetrack train``); a ``WeightsError`` naming the file if it is not one."""
    try:
        held = torch.load(path, map_location="cpu", weights_only=True)
        head = ResidualHead(held["dim_in"], held["dim_out"])
        head.load_state_dict(held["state"])
    except (OSError, KeyError, RuntimeError, TypeError) as error:
        raise WeightsError(f"{path}: not a trained head ({error})") from None
    return head.eval()
