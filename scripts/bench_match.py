"""Gallery search speed: Q query faces against a gallery of N stored faces (exact search).

Prints the median of several timed runs. Usage:
    .venv/bin/python scripts/bench_match.py [N=100000] [Q=64] [faces per person=5] [dimensions=256]

256 dimensions are the default embedder's (omz-reid-0095); dlib-resnet-v1's are 128.
"""

import os
import platform
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from gallery.matching import GalleryIndex  # noqa: E402


def main(n: int, q: int, per_person: int, dim: int) -> None:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((n // per_person, dim)).astype(np.float32)
    vectors = np.repeat(centres, per_person, axis=0) + 0.3 * rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(n) // per_person
    index = GalleryIndex(ids, vectors)
    queries = vectors[rng.choice(n, q, replace=False)] + 0.05 * rng.standard_normal((q, dim)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    index.search(queries, 0.5, 0.03)  # warm-up
    times = []
    for _ in range(15):
        start = time.perf_counter()
        index.search(queries, 0.5, 0.03)
        times.append(time.perf_counter() - start)
    print(f"{q} queries x {n:,} faces ({n // per_person:,} people), {dim}-d, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"median {np.median(times) * 1000:.1f} ms, min {min(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(*(args + [100_000, 64, 5, 256][len(args):]))
