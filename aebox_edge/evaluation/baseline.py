"""The non-neural Baseline of the evaluation (docs/architecture.md, section 7): match the long-term average spectrum of
the input to that of the reference with a linear-phase FIR EQ, then match the integrated loudness (ITU-R BS.1770,
pyloudnorm).

The EQ curve is ``sqrt(P_ref / P_in)`` of the two Welch power spectra (Hann, ``n_fft`` points, 50 % overlap),
each smoothed over ``octave_fraction`` of an octave, limited to +-``max_gain_db`` (the chain's EQ range); the FIR is
its frequency sampling with a Hann window, applied with its delay removed (offline, zero phase shift).
"""

from __future__ import annotations

import numpy as np


def _smoothed_psd(mono: np.ndarray, sample_rate: float, n_fft: int, octave_fraction: float) -> np.ndarray:
    """Welch power spectrum on the ``n_fft`` rfft bins, averaged over +-``octave_fraction / 2`` octave per bin."""
    from scipy.signal import welch

    nperseg = min(n_fft, len(mono))
    freqs, power = welch(mono, sample_rate, window="hann", nperseg=nperseg, nfft=n_fft)
    total = np.concatenate([[0.0], np.cumsum(power)])
    half = 2.0 ** (octave_fraction / 2.0)
    lo = np.searchsorted(freqs, freqs / half, side="left")
    hi = np.maximum(np.searchsorted(freqs, freqs * half, side="right"), lo + 1)
    return (total[hi] - total[lo]) / (hi - lo)


def average_spectrum_eq(audio, reference, sample_rate: float, n_fft: int = 4096, octave_fraction: float = 1 / 3,
                        max_gain_db: float = 24.0) -> np.ndarray:
    """``audio`` (samples,) or (samples, channels) filtered so that its long-term average spectrum matches
    ``reference``'s (channels mixed for analysis, the same filter on every channel); same shape, float32."""
    from scipy.signal import oaconvolve

    audio = np.asarray(audio, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    mono_in = audio.mean(axis=1) if audio.ndim == 2 else audio
    mono_ref = reference.mean(axis=1) if reference.ndim == 2 else reference
    p_in = _smoothed_psd(mono_in, sample_rate, n_fft, octave_fraction)
    p_ref = _smoothed_psd(mono_ref, sample_rate, n_fft, octave_fraction)
    gain_db = 10.0 * np.log10(np.maximum(p_ref, 1e-20) / np.maximum(p_in, 1e-20))
    gain = 10.0 ** (np.clip(gain_db, -max_gain_db, max_gain_db) / 20.0)
    fir = np.roll(np.fft.irfft(gain, n_fft), n_fft // 2) * np.hanning(n_fft + 1)[:n_fft]
    fir = fir[:, None] if audio.ndim == 2 else fir
    out = oaconvolve(audio, fir, mode="full", axes=0)[n_fft // 2: n_fft // 2 + len(audio)]
    return out.astype(np.float32)


def loudness_match(audio, reference, sample_rate: float) -> np.ndarray:
    """``audio`` scaled to the integrated loudness (BS.1770, pyloudnorm) of ``reference``; unchanged where either
    is shorter than one 400 ms gating block or silent. float32."""
    audio = np.asarray(audio, dtype=np.float32)
    if min(len(audio), len(reference)) < 0.4 * sample_rate:
        return audio
    try:
        import pyloudnorm
    except ImportError as exc:
        raise ImportError("the loudness match needs pyloudnorm: pip install 'aebox-edge[train]'") from exc
    meter = pyloudnorm.Meter(sample_rate)
    with np.errstate(divide="ignore"):
        levels = [meter.integrated_loudness(np.asarray(a, dtype=np.float64)) for a in (audio, reference)]
    if not np.all(np.isfinite(levels)):
        return audio
    return audio * np.float32(10.0 ** ((levels[1] - levels[0]) / 20.0))


def match_reference(audio, reference, sample_rate: float) -> np.ndarray:
    """The Baseline: average-spectrum EQ match, then loudness match, of ``audio`` to ``reference``."""
    return loudness_match(average_spectrum_eq(audio, reference, sample_rate), reference, sample_rate)
