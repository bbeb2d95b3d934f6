"""The paper's four evaluation metrics, as DeepAFx-ST defines them (Steinmetz et al. 2022).

Each metric compares ``x`` (output) with ``y`` (target), both ``(samples,)`` or ``(samples, channels)`` at the same
length and sample rate; channels are mixed to mono by their mean before any metric. Lower is better for all four.
Per-clip values are averaged over a test set and always reported next to a **Corrupt** row (input vs target;
``tables``). Signals of other shapes, or of different or zero lengths, raise ``InputError``.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..frontend import cached_mel_filterbank, hann_window, stft

METRICS = ("msd", "sce", "rms", "lufs")

_MSD_FFT = 65536
_MSD_HOP = 16384
_MSD_MELS = 128
MSD_FLOOR = 1e-4
_LOUDNESS_FLOOR_LUFS = -70.0


def _mono_pair(x, y):
    """Both signals as float64 mono of equal length."""
    x, y = (np.asarray(a, dtype=np.float64) for a in (x, y))
    x, y = (a.mean(axis=1) if a.ndim == 2 else a for a in (x, y))
    if x.ndim != 1 or y.ndim != 1:
        raise InputError("audio must be shaped (samples,) or (samples, channels)")
    if x.shape != y.shape or x.size == 0:
        raise InputError(f"output and target must be non-empty and equally long, got {x.size} and {y.size} samples")
    return x, y


def msd_magnitudes(a):
    """The 65,536-point Hann FFT magnitudes that :func:`mel_spectral_distance` takes its mel bands of, of mono
    ``a``: ``(frames, 32769)`` (see there for the framing)."""
    import scipy.fft

    n = a.size
    if n <= _MSD_FFT:
        frames = (a * hann_window(n, dtype=np.float64))[None, :]
    else:
        starts = list(range(0, n - _MSD_FFT + 1, _MSD_HOP))
        if starts[-1] + _MSD_FFT < n:
            starts.append(n - _MSD_FFT)
        frames = np.stack([a[s:s + _MSD_FFT] for s in starts]) * hann_window(_MSD_FFT, dtype=np.float64)
    return np.abs(scipy.fft.rfft(frames, n=_MSD_FFT, axis=-1))


def msd_filterbank(sr):
    """The 128-band Slaney mel filterbank of :func:`mel_spectral_distance` at ``sr``, (128, 32769) float64."""
    return cached_mel_filterbank(sr, _MSD_FFT, _MSD_MELS, dtype=np.float64)


def _msd_mel(a, sr):
    """128-band Slaney mel of 65,536-point Hann FFT magnitudes, floored at 1e-4: ``(frames, 128)``."""
    return np.maximum(msd_magnitudes(a) @ msd_filterbank(sr).T, MSD_FLOOR)


def mel_spectral_distance(x, y, sr):
    """Mel spectral distance ``mean|ln M_x - ln M_y| + mean|M_x - M_y|`` (DeepAFx-ST, Steinmetz et al. 2022).

    ``M`` is the 128-band Slaney mel (``frontend.mel_filterbank``) of the magnitude of one 65,536-point FFT, floored at
    1e-4. A clip of at most 65,536 samples gets one Hann window of its own length, zero-padded to 65,536. A longer
    clip is cut into 65,536-sample frames every 16,384 samples (plus one frame aligned to the end so every sample is
    covered) and the distance is averaged over all frames and bands. Our choice for long clips: DeepAFx-ST evaluates
    clips that fit one FFT.
    """
    x, y = _mono_pair(x, y)
    mx, my = _msd_mel(x, sr), _msd_mel(y, sr)
    return float(np.mean(np.abs(np.log(mx) - np.log(my))) + np.mean(np.abs(mx - my)))


def rms_error(x, y):
    """RMS energy error ``|20 ln rms_x - 20 ln rms_y|`` with natural log, as DeepAFx-ST's code; rms floored at 1e-8."""
    x, y = _mono_pair(x, y)
    rms_x, rms_y = (max(float(np.sqrt(np.mean(a * a))), 1e-8) for a in (x, y))
    return float(abs(20.0 * np.log(rms_x) - 20.0 * np.log(rms_y)))


def centroid_magnitudes(a):
    """The magnitude frames :func:`spectral_centroid_error` takes its centroids of, of mono ``a``: n_fft 2048, hop
    512, centred Hann, ``(frames, 1025)``."""
    return np.abs(stft(a, 2048, 512))


def mean_spectral_centroid(a, sr):
    """Mean over frames of ``sum(f |X|) / sum(|X|)`` (0 for silent frames) of mono ``a``
    (:func:`centroid_magnitudes`)."""
    magnitude = centroid_magnitudes(a)
    freqs = np.arange(magnitude.shape[-1]) * (sr / 2048)
    total = magnitude.sum(axis=-1)
    centroid = np.divide(magnitude @ freqs, total, out=np.zeros_like(total), where=total > 0)
    return float(centroid.mean())


def spectral_centroid_error(x, y, sr):
    """Spectral centroid error ``|mean_t SC_x - mean_t SC_y|`` in Hz (DeepAFx-ST, Steinmetz et al. 2022)."""
    x, y = _mono_pair(x, y)
    return abs(mean_spectral_centroid(x, sr) - mean_spectral_centroid(y, sr))


def _integrated_loudness(meter, a):
    with np.errstate(divide="ignore", invalid="ignore"):
        loudness = meter.integrated_loudness(a)
    return loudness if np.isfinite(loudness) and loudness > _LOUDNESS_FLOOR_LUFS else _LOUDNESS_FLOOR_LUFS


def _meter(sr):
    try:
        import pyloudnorm
    except ImportError as exc:
        raise ImportError(
            "the loudness metric needs pyloudnorm: pip install 'aebox-edge[demo]' (or [train], [dev])"
        ) from exc
    return pyloudnorm.Meter(sr)


def integrated_loudness(a, sr):
    """Integrated loudness (LUFS) of mono ``a`` as :func:`loudness_error` measures it (pyloudnorm, floored at
    -70 LUFS)."""
    return _integrated_loudness(_meter(sr), np.asarray(a, dtype=np.float64))


def loudness_error(x, y, sr):
    """Loudness error ``|L_x - L_y|`` in LU, integrated loudness per ITU-R BS.1770 (pyloudnorm, DeepAFx-ST metric).

    Loudness is floored at -70 LUFS (BS.1770's absolute gate), so silence gives a finite error. Needs at least one
    400 ms gating block (``InputError`` otherwise).
    """
    x, y = _mono_pair(x, y)
    if x.size < 0.4 * sr:
        raise InputError(f"loudness needs at least 0.4 s of audio, got {x.size} samples ({x.size / sr:.3f} s at {sr} Hz)")
    meter = _meter(sr)
    return float(abs(_integrated_loudness(meter, x) - _integrated_loudness(meter, y)))


def evaluate(x, y, sr):
    """All four metrics of output ``x`` against target ``y``: ``{"msd", "sce", "rms", "lufs"}``. Raises
    ``InputError`` for bad signals (see the module's docstring) or less than 0.4 s of audio."""
    return {
        "msd": mel_spectral_distance(x, y, sr),
        "sce": spectral_centroid_error(x, y, sr),
        "rms": rms_error(x, y),
        "lufs": loudness_error(x, y, sr),
    }
