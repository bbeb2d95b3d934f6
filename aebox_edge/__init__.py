"""aebox-edge: live-music enhancement on the edge (Audio Engineer in a Box, von Estorff & Krause 2024).

A small network predicts the 24 parameters of a parametric EQ and a compressor (``ddsp_kernels``) from log-mel
spectrograms of a dirty recording and a clean reference. This package is the device side: it never imports
TensorFlow at module level. BLAS is pinned to one thread unless the caller chose otherwise (an unpinned OpenBLAS
makes the small mel matmul 30x slower on a 2-core machine); this only takes effect when numpy is not yet imported.
"""

import os as _os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    _os.environ.setdefault(_var, "1")

__version__ = "0.1.0"
