"""A small trained head on top of a frozen embedder: a residual map from its unit embedding to a new unit vector.

``y = normalize(P x + W₂ relu(W₁ x))``: ``P`` starts as the identity (or, for fewer dimensions, the first
``dim_out`` axes) and ``W₂`` at zero, so an untrained head gives the base model's own distances (at equal
dimensions, exactly its embeddings) and training moves away from them only as far as the loss asks.
"""

from __future__ import annotations

import torch
from torch import nn


class ResidualHead(nn.Module):
    def __init__(self, dim_in: int, dim_out: int | None = None, hidden: int = 512) -> None:
        super().__init__()
        dim_out = dim_out or dim_in
        self.dim_in, self.dim_out = dim_in, dim_out
        self.project = nn.Linear(dim_in, dim_out, bias=False)
        with torch.no_grad():
            self.project.weight.copy_(torch.eye(dim_out, dim_in))
        self.residual = nn.Sequential(nn.Linear(dim_in, hidden), nn.ReLU(), nn.Linear(hidden, dim_out))
        nn.init.zeros_(self.residual[2].weight)
        nn.init.zeros_(self.residual[2].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.project(x) + self.residual(x), dim=1)
