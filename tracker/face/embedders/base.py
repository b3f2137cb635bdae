"""The embedder every model is: a face-embedding network with its crop template, a stable model id, and
the CPU freezing they share (``frozen``). Each model's module builds one; ``tracker.face.embedders`` chooses."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tracker.config import ModelsConfig
from tracker.face.align import Template
from tracker.face.card import Tables, measured_tables

logger = logging.getLogger(__name__)


class Embedder:
    """A face-embedding network with the crop template it expects."""

    def __init__(self, name: str, net: nn.Module, dim: int, template: Template, threshold: float, weights_hash: str,
                 device: torch.device, config: ModelsConfig, flips: bool = True, cpu_batch: int = 0,
                 optimize: bool = True) -> None:
        """``cpu_batch``: the most crops per pass on a CPU, where larger batches of this network fall out of
        the cache and run slower per face (0: ``models.batch_size``). ``optimize``: freeze the network for CPU
        inference (see ``frozen``)."""
        self.name = name
        self.dim = dim
        self.template = template
        self.verify_threshold = threshold  # the verification threshold: squared L2, from LFW (docs/benchmarks.md)
        self.model_id = f"{name}:{weights_hash}"
        self.device = device
        self.batch_size = min(config.batch_size, cpu_batch) if cpu_batch and device.type == "cpu" else config.batch_size
        self.flip = flips if config.flip == "auto" else config.flip  # flips: whether it measured better on LFW
        self.net = net.to(device).eval()
        if optimize and device.type == "cpu" and torch.backends.mkldnn.is_available():
            self.net = frozen(self.net, template.size, name)

    @property
    def tables(self) -> Tables | None:
        """Its distance tables, which the gallery's threshold and evidence read: its card's, measured for exactly
        these weights (None: none)."""
        return measured_tables(self.model_id)

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """Unit embeddings ``(n, dim)`` float32 of aligned uint8 crops ``(n, size, size, 3)``.

        With ``flip``, each crop and its mirror image are embedded and their unit vectors
        averaged (then normalised again): the same face seen both ways.
        """
        self.check(crops)
        out = []
        # CUDA: half precision (autocast); the CPU stays in float32 (bf16 is far slower on CPUs like ours)
        half = torch.autocast("cuda", dtype=torch.float16) if self.device.type == "cuda" else contextlib.nullcontext()
        with torch.inference_mode(), half:
            for start in range(0, len(crops), self.batch_size):
                batch = torch.from_numpy(crops[start : start + self.batch_size]).to(self.device)
                out.append(self._forward(batch).cpu())
        if not out:
            return np.zeros((0, self.dim), np.float32)
        return torch.cat(out).numpy()

    def check(self, crops: np.ndarray) -> None:
        """Refuse crops that are not ``(n, size, size, 3)`` uint8 for this model's template."""
        size = self.template.size
        if crops.ndim != 4 or crops.shape[1:] != (size, size, 3) or crops.dtype != np.uint8:
            raise ValueError(f"{self.name} takes (n, {size}, {size}, 3) uint8 crops, got {crops.dtype} {crops.shape}")

    def _forward(self, batch: torch.Tensor) -> torch.Tensor:
        if not self.flip:
            return F.normalize(self.net(batch).float(), dim=1)
        both = F.normalize(self.net(torch.cat([batch, batch.flip(2)])).float(), dim=1)
        return F.normalize(both[: len(batch)] + both[len(batch) :], dim=1)


def frozen(net: nn.Module, size: int, name: str) -> nn.Module:
    """``net`` traced, frozen and optimised for CPU inference (TorchScript): convolutions run in oneDNN's own
    layout with their weights packed once, instead of converting weights and activations at every call.
    Measured on this 2-core CPU through ``embed``, interleaved: omz-reid-0095 1.25-1.45x faster, dlib-resnet-v1
    up to 1.1x, the outputs within 1e-6 (docs/benchmarks.md). Needs no compiler (unlike ``torch.compile``) and
    about half a second: the tracer's own check (which imports ``torch.testing`` and took 1.8 s of every
    model-loading command's start) is replaced by a comparison of the frozen network's outputs with the
    network's own on the batch it was traced with and on another (other values, another size).
    A network that cannot be traced, or whose frozen outputs differ, runs as it is, with a warning naming why."""
    def batch(n: int, seed: int) -> torch.Tensor:
        random = torch.Generator().manual_seed(seed)
        return torch.randint(0, 256, (n, size, size, 3), dtype=torch.uint8, generator=random)

    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated in favour of torch.compile
            warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shapes are fixed but for the batch size
            fast = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(net, batch(2, 0),
                                                                                     check_trace=False)))
            for crops in (batch(2, 0), batch(3, 1)):
                same = fast(crops), net(crops)
                if not all(isinstance(out, torch.Tensor) for out in same) or not torch.allclose(*same, rtol=1e-3,
                                                                                                  atol=1e-4):
                    raise ValueError("its frozen outputs differ from its own")
            return fast
    except (RuntimeError, ValueError) as error:
        logger.warning("%s: runs unoptimised on the CPU (cannot freeze it: %s)", name, error)
        return net


def file_hash(path: Path) -> str:
    """First 12 hex digits of the file's SHA-256: the weights part of a model id."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]
