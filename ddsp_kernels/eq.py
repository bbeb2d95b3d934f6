"""The 6-band parametric EQ: low shelf, four peaking bands, high shelf (RBJ cookbook biquads, ``biquads``),
run as one ``scipy.signal.sosfilt`` cascade."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from .biquads import rbj_sos
from .signal import as_frames, restore
from .spec import EQ_BANDS

_KIND = {"low_shelf": "low_shelf", "high_shelf": "high_shelf"}


def eq_sos(sample_rate: float, params: Mapping) -> np.ndarray:
    """Second-order sections of the EQ, shaped (..., 6 bands, 6), float64, for physical ``params``
    (name -> dB / Hz / Q values, scalars or arrays of one batch shape)."""
    return np.stack(
        [
            rbj_sos(_KIND.get(band, "peak"), params[f"{band}_freq_hz"], params[f"{band}_gain_db"],
                    params[f"{band}_q"], sample_rate)
            for band in EQ_BANDS
        ],
        axis=-2,
    )


def sosfilt_state(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``sosfilt`` along axis 0 of (samples, channels) audio with carried state zi (sections, 2, channels),
    computed in float64 (float32 coefficients misplace low bands at high rates) and returned in x's dtype."""
    from scipy.signal import sosfilt

    y, zf = sosfilt(sos, x, axis=0, zi=zi)
    return y.astype(x.dtype, copy=False), zf


def parametric_eq(x, sample_rate: float, params: Mapping) -> np.ndarray:
    """Apply the 6-band EQ to audio shaped (samples,) or (samples, channels) at ``sample_rate`` Hz."""
    frames, was_1d = as_frames(x)
    sos = eq_sos(sample_rate, params)
    zi = np.zeros((sos.shape[0], 2, frames.shape[1]))
    y, _ = sosfilt_state(sos, frames, zi)
    return restore(y, was_1d)
