"""Shape and dtype conventions shared by the kernels: audio is (samples,) or (samples, channels), float32 or
float64, and every kernel returns its input's shape and dtype."""

from __future__ import annotations

import numpy as np


def as_frames(x) -> tuple[np.ndarray, bool]:
    """View audio as (samples, channels); the flag says whether it was 1-D (to undo with ``restore``)."""
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float32 if x.dtype.itemsize <= 4 else np.float64)
    if x.ndim == 1:
        return x[:, None], True
    if x.ndim == 2:
        return x, False
    raise ValueError(f"audio must be shaped (samples,) or (samples, channels), got {x.shape}")


def restore(y: np.ndarray, was_1d: bool) -> np.ndarray:
    return y[:, 0] if was_1d else y
