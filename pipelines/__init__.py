"""The running system: commands, evaluation runs and (later) the live pipeline.

numpy's BLAS threads and torch's threads fight over the cores; numpy's work here is small,
so its BLAS gets one thread unless the user says otherwise. This runs before numpy loads.
"""

import os

# Only numpy's OpenBLAS: torch's MKL and OpenMP threads are left to torch.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
