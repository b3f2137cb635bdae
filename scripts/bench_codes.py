"""128-byte codes against float32: one query against N stored faces (exact search), median of 15.

    .venv/bin/python scripts/bench_codes.py [N=1000000] [Q=1]

Rows: the float32 product the gallery does (``GalleryIndex``: query @ columns) at 256-d (omz-reid-0095) and
128-d (a 128-d head), and 128-d int8 codes (``tracker.codes``, 128 bytes a face) searched three ways: widened
to float32 block by block (64k faces at a time, so only the int8 codes stay in memory), ``torch._int_mm``
(an int8 x int8 -> int32 product, where this torch has one on the CPU), and numpy's int32 product.
"""

import os
import platform
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from tracker.codes import code_scale, quantise  # noqa: E402

BLOCK = 65536


def timed(search, repeats: int = 15) -> tuple[float, float]:
    search()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        search()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000), float(min(times) * 1000)


def unit(rng, n: int, dim: int) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def main(n: int, q: int) -> None:
    rng = np.random.default_rng(0)
    rows = []
    for dim in (256, 128):
        columns = torch.from_numpy(np.ascontiguousarray(unit(rng, n, dim).T))
        query = torch.from_numpy(unit(rng, q, dim))
        rows.append((f"float32 {dim}-d ({dim * 4} bytes a face)", n * dim * 4, timed(
            lambda c=columns, x=query: torch.topk(x @ c, 64, dim=1))))
    vectors = unit(rng, n, 128)
    scale = code_scale(vectors)
    codes = torch.from_numpy(quantise(vectors, scale))  # (n, 128) int8, row-major
    query_codes = torch.from_numpy(quantise(unit(rng, q, 128), scale))

    def widened():
        x = query_codes.float()
        parts = [x @ codes[s : s + BLOCK].float().T for s in range(0, n, BLOCK)]
        return torch.topk(torch.cat(parts, dim=1), 64, dim=1)

    rows.append(("int8 128-d, widened per block", n * 128, timed(widened)))
    try:
        padded = torch.zeros((max(q, 17), 128), dtype=torch.int8)  # _int_mm wants more than 16 rows
        padded[:q] = query_codes
        codes_t = codes.T.contiguous()
        torch._int_mm(padded, codes_t[:, :64])
        rows.append(("int8 128-d, torch._int_mm", n * 128, timed(lambda: torch.topk(
            torch._int_mm(padded, codes_t)[:q].float(), 64, dim=1))))
    except (RuntimeError, AttributeError) as error:
        print(f"torch._int_mm: not on this CPU ({str(error).splitlines()[0]})")
    wide = codes.numpy().astype(np.int32)
    rows.append(("int8 128-d, numpy int32 product", n * 128,
                 timed(lambda: query_codes.numpy().astype(np.int32) @ wide.T, repeats=5)))
    print(f"{q} query x {n:,} faces, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}")
    print("| search | memory | median | min |\n| --- | --- | --- | --- |")
    for name, size, (median, low) in rows:
        print(f"| {name} | {size / 1e6:,.0f} MB | {median:.1f} ms | {low:.1f} ms |")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(*(args + [1_000_000, 1][len(args):]))
