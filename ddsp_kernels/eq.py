"""The parametric EQ: a cascade of RBJ cookbook biquads (``biquads``) run as one cascade (``iir.BlockFilter``, what
``scipy.signal.sosfilt`` computes: scipy's compiled cascade where it loads, else numpy); the chain's EQ is its six
bands of ``spec.BANDS`` (low shelf, four peaking bands, high shelf)."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .biquads import rbj_bank
from .iir import BlockFilter
from .signal import as_frames, restore

def eq_sos(sample_rate: float, bands: Iterable[tuple]) -> np.ndarray:
    """Second-order sections of the EQ, shaped (..., bands, 6), float64, for ``bands`` of
    ``(kind, freq_hz, gain_db, q)`` (kind one of ``biquads.KINDS``; values scalars or arrays of one batch shape).
    An unknown kind raises ``ValueError``."""
    kinds, freq_hz, gain_db, q = zip(*bands)
    return rbj_bank(kinds, *(_bands_last(v) for v in (freq_hz, gain_db, q)), sample_rate)


def _bands_last(values: tuple) -> np.ndarray:
    """The bands' values (scalars, or arrays of one batch shape or of shapes that broadcast) on a last axis."""
    try:
        stacked = np.array(values, dtype=np.float64)  # scalars (what the chain passes): no broadcasting to do
    except ValueError:  # shapes that differ
        return np.stack(np.broadcast_arrays(*values), axis=-1)
    return stacked if stacked.ndim == 1 else np.moveaxis(stacked, 0, -1)


def sosfilt_state(sos, x: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``scipy.signal.sosfilt`` along axis 0 of (samples, channels) audio with carried state zi (sections, 2,
    channels), by ``iir.BlockFilter`` (``sos`` may be one already built), computed in float64 (float32 coefficients
    misplace low bands at high rates) and returned in x's dtype."""
    block_filter = sos if isinstance(sos, BlockFilter) else BlockFilter(sos)
    y, zf = block_filter.filter(x, zi)
    return y.astype(x.dtype, copy=False), zf


def parametric_eq(x, sample_rate: float, bands: Iterable[tuple]) -> np.ndarray:
    """Apply the EQ of ``bands`` (``(kind, freq_hz, gain_db, q)`` each) to audio shaped (samples,) or
    (samples, channels) at ``sample_rate`` Hz. Raises ``ValueError`` for other shapes or an unknown kind."""
    frames, was_1d = as_frames(x)
    sos = eq_sos(sample_rate, bands)
    zi = np.zeros((sos.shape[0], 2, frames.shape[1]))
    y, _ = sosfilt_state(sos, frames, zi)
    return restore(y, was_1d)
