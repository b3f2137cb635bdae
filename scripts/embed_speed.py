"""Milliseconds per ``Embedder.embed`` call on random aligned crops, by crops per call: every embedder, and
dlib's and omz's networks as plain (unfrozen) modules, interleaved in one process, best of 3 rounds.
Prints a Markdown table (docs/benchmarks.md, "Embedders compared"). Usage:
    .venv/bin/python scripts/embed_speed.py [TORCH_THREADS]
"""

from __future__ import annotations

import sys
import time
from unittest import mock

import numpy as np
import torch

from tracker.config import ModelsConfig
from tracker.face.embedders import FUSION, Embedder, load_embedder

SIZES = (1, 2, 4, 8, 16, 32)
ROUNDS, CALLS = 3, 3


def embedders() -> dict[str, Embedder]:
    cpu = torch.device("cpu")
    chosen = {name: load_embedder(ModelsConfig(embedder=name), cpu) for name in ("omz-reid-0095", "dlib-resnet-v1",
                                                                                 FUSION)}
    with mock.patch("tracker.face.embedders.frozen", lambda net, size, name: net):  # the plain module
        for name in ("omz-reid-0095", "dlib-resnet-v1"):
            chosen[f"{name}, as a plain module"] = load_embedder(ModelsConfig(embedder=name), cpu)
    return chosen


def main(threads: int) -> None:
    torch.set_num_threads(threads)
    chosen = embedders()
    rng = np.random.default_rng(0)
    best: dict[tuple[str, int], float] = {}
    for _ in range(ROUNDS):
        for name, embedder in chosen.items():
            size = embedder.template.size
            for n in SIZES:
                crops = rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8)
                embedder.embed(crops)  # warm
                started = time.perf_counter()
                for _ in range(CALLS):
                    embedder.embed(crops)
                ms = (time.perf_counter() - started) / CALLS * 1000
                best[name, n] = min(best.get((name, n), ms), ms)
    print("| torch threads | embedder | " + " | ".join(f"{n} crops" for n in SIZES) + " | faces/s (4 / 32) |")
    print("| --- | --- | " + " | ".join("---:" for _ in SIZES) + " | --- |")
    for name in chosen:
        cells = " | ".join(f"{best[name, n]:.1f}" for n in SIZES)
        rates = " / ".join(f"{n * 1000 / best[name, n]:.0f}" for n in (4, 32))
        print(f"| {threads} | `{name}` | {cells} | {rates} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
