"""TensorFlow twins of ``ddsp_kernels`` (the ``autodiff`` gradient method): the same 24-parameter chain, written
with differentiable TF ops so that gradients reach every parameter.

- Parameter mapping: ``PARAM_SPEC``'s ranges and lin/log scales, restated in TF (:func:`to_physical`).
- EQ: the same RBJ Audio-EQ-Cookbook biquads (R. Bristow-Johnson) as ``ddsp_kernels.rbj_sos``, applied by
  frequency sampling: the cascade's response is evaluated on the bins of an FFT long enough that the filters' tails
  do not wrap around (``EQ_TAIL_S``), multiplied with the zero-padded signal's spectrum and transformed back
  (as the autodiff EQ of Steinmetz et al. 2022 and Martinez Ramirez et al. 2021).
- Compressor: Giannoulis, Massberg & Reiss (2012) exactly as ``ddsp_kernels.compressor``: sample-peak level in dB,
  soft-knee gain computer, smooth decoupled peak detector, makeup. The release stage is the exact max-recursion,
  evaluated in parallel as ``ddsp_kernels`` does (Lindley recursion -> scaled cumulative sum and cumulative
  minimum; the minimum by a log-depth prefix scan); the attack stage is the one-pole applied by FFT.

Audio is ``(batch, samples)`` float32 with a static number of samples; parameters are ``(batch,)`` tensors in
physical units (or ``(batch, 24)`` normalized for :func:`apply_chain`). Filter design and the detector run in
float64 (the kernels filter in float64 too). Measured parity with ``ddsp_kernels`` is in ``tests/test_training_dsp.py``.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from ddsp_kernels import BANDS, MAX_FREQ_RATIO, PARAM_SPEC
from ddsp_kernels.compressor import _MAX_LOG_SCALE, LEVEL_FLOOR_DB

EQ_TAIL_S = 2.5  # zero padding of the FFT filters: the longest EQ response (20 Hz shelf, Q 10) is < -80 dB by then
_LN10 = math.log(10.0)


def to_physical(p01):
    """``(..., 24)`` normalized parameters -> dict name -> ``(...)`` float64 physical values (``PARAM_SPEC``)."""
    p = tf.clip_by_value(tf.cast(p01, tf.float64), 0.0, 1.0)
    lo = tf.constant(PARAM_SPEC.minimum, tf.float64)
    hi = tf.constant(PARAM_SPEC.maximum, tf.float64)
    is_log = tf.constant([s == "log" for s in PARAM_SPEC.scales])
    log_ratio = tf.constant([math.log(q.maximum / q.minimum) if q.scale == "log" else 0.0
                             for q in PARAM_SPEC.params], tf.float64)
    values = tf.where(is_log, lo * tf.exp(p * log_ratio), lo + (hi - lo) * p)
    return {name: values[..., i] for i, name in enumerate(PARAM_SPEC.names)}


def fft_length(samples: int, sample_rate: float) -> int:
    """Power of two holding the signal plus ``EQ_TAIL_S`` of filter tail."""
    return 1 << int(math.ceil(math.log2(samples + EQ_TAIL_S * sample_rate)))


def rbj_coefficients(kind: str, freq_hz, gain_db, q, sample_rate: float):
    """``(b0, b1, b2, a1, a2)`` normalized by a0, as ``ddsp_kernels.rbj_sos`` (same cookbook formulas, in TF)."""
    w0 = 2.0 * math.pi * tf.minimum(freq_hz, MAX_FREQ_RATIO * sample_rate) / sample_rate
    amp = tf.pow(tf.constant(10.0, tf.float64), gain_db / 40.0)
    cos_w0 = tf.cos(w0)
    alpha = tf.sin(w0) / (2.0 * q)
    if kind == "peak":
        b = (1.0 + alpha * amp, -2.0 * cos_w0, 1.0 - alpha * amp)
        a = (1.0 + alpha / amp, -2.0 * cos_w0, 1.0 - alpha / amp)
    elif kind in ("low_shelf", "high_shelf"):
        sign = 1.0 if kind == "low_shelf" else -1.0
        two_sqrt_a_alpha = 2.0 * tf.sqrt(amp) * alpha
        ap1, am1 = amp + 1.0, amp - 1.0
        b = (amp * (ap1 - sign * am1 * cos_w0 + two_sqrt_a_alpha),
             sign * 2.0 * amp * (am1 - sign * ap1 * cos_w0),
             amp * (ap1 - sign * am1 * cos_w0 - two_sqrt_a_alpha))
        a = (ap1 + sign * am1 * cos_w0 + two_sqrt_a_alpha,
             -sign * 2.0 * (am1 + sign * ap1 * cos_w0),
             ap1 + sign * am1 * cos_w0 - two_sqrt_a_alpha)
    else:
        raise ValueError(f"unknown biquad kind {kind!r}")
    return b[0] / a[0], b[1] / a[0], b[2] / a[0], a[1] / a[0], a[2] / a[0]


def _unit_delays(n_fft: int):
    """cos and sin of w and 2w on the ``n_fft // 2 + 1`` rfft bins (z^-1 = cos w - j sin w)."""
    w = 2.0 * np.pi * np.arange(n_fft // 2 + 1) / n_fft
    return [tf.constant(f(k * w), tf.float64) for k in (1.0, 2.0) for f in (np.cos, np.sin)]


def _biquad_response(coefficients, delays):
    """Complex response of one biquad per batch item on the rfft bins: ``(batch, bins)`` complex128."""
    b0, b1, b2, a1, a2 = (c[:, None] for c in coefficients)
    c1, s1, c2, s2 = delays
    num = tf.complex(b0 + b1 * c1 + b2 * c2, -(b1 * s1 + b2 * s2))
    den = tf.complex(1.0 + a1 * c1 + a2 * c2, -(a1 * s1 + a2 * s2))
    return num / den


def _fft_filter(x, response, n_fft: int):
    """Linear convolution of ``x`` (batch, samples) float64 with a filter given by its rfft ``response``."""
    n = x.shape[-1]
    return tf.signal.irfft(tf.signal.rfft(x, [n_fft]) * response, [n_fft])[:, :n]


def parametric_eq(x, sample_rate: float, params):
    """The 6-band EQ of ``ddsp_kernels.parametric_eq`` by frequency sampling; ``x`` (batch, samples) float32."""
    n = _static_length(x)
    n_fft = fft_length(n, sample_rate)
    delays = _unit_delays(n_fft)
    response = None
    for band in BANDS:
        h = _biquad_response(rbj_coefficients(band.kind, params[f"{band.name}_freq_hz"],
                                              params[f"{band.name}_gain_db"], params[f"{band.name}_q"], sample_rate),
                             delays)
        response = h if response is None else response * h
    return tf.cast(_fft_filter(tf.cast(x, tf.float64), response, n_fft), tf.float32)


def eq_magnitude_db(p01, freqs_hz, sample_rate):
    """Magnitude response in dB of the 6-band EQ of normalized parameters ``p01`` (batch, 24) at ``freqs_hz``
    (bins,) for per-item sample rates ``sample_rate`` (batch,): (batch, bins) float64; the TF twin of
    ``ddsp_kernels.match.eq_response_db``."""
    params = to_physical(p01)
    rate = tf.cast(sample_rate, tf.float64)[:, None]
    w = 2.0 * math.pi * tf.constant(np.asarray(freqs_hz, np.float64))[None, :] / rate
    delays = [tf.cos(w), tf.sin(w), tf.cos(2.0 * w), tf.sin(2.0 * w)]
    total = 0.0
    for band in BANDS:
        coefficients = rbj_coefficients(band.kind, params[f"{band.name}_freq_hz"][:, None],
                                        params[f"{band.name}_gain_db"][:, None], params[f"{band.name}_q"][:, None],
                                        rate)
        h = _biquad_response([c[:, 0] for c in coefficients], delays)
        total = total + 10.0 / _LN10 * tf.math.log(tf.maximum(tf.math.real(h * tf.math.conj(h)), 1e-24))
    return total


def ballistics_coefficient(time_ms, sample_rate: float):
    """``ddsp_kernels.ballistics_coefficient`` in TF: 90 %-time one-pole coefficient ``10 ** (-1 / (t fs))``."""
    return tf.exp(-_LN10 / (tf.maximum(time_ms, 1e-6) * 1e-3 * sample_rate))


def static_gain_db(level_db, threshold_db, ratio, knee_db):
    """Giannoulis et al. eq. 4 as a gain (<= 0 dB), branch-free as ``ddsp_kernels.static_gain_db``; per-item
    parameters ``(batch,)`` broadcast over ``level_db`` ``(batch, samples)``."""
    knee = tf.maximum(knee_db, 1e-9)[:, None]
    slope = (1.0 / ratio - 1.0)[:, None]
    u = level_db - (threshold_db[:, None] - knee / 2.0)
    above = tf.maximum(u - knee, 0.0)
    u = tf.clip_by_value(u, 0.0, knee)
    return slope * (u * u / (2.0 * knee) + above)


def _prefix_min(s):
    """Inclusive cumulative minimum along axis 1 by a log-depth (Hillis-Steele) scan of shifted minima."""
    n = s.shape[1]
    shift = 1
    while shift < n:
        s = tf.minimum(s, tf.pad(s[:, :-shift], [[0, 0], [shift, 0]], constant_values=np.inf))
        shift *= 2
    return s


def _release_stage(x_l, log_alpha, chunk: int):
    """Exact ``y1[n] = max(xL[n], aR y1[n-1] + (1 - aR) xL[n])`` from rest, ``aR = exp(-log_alpha)``.

    As ``ddsp_kernels``: ``d = y1 - xL`` follows the Lindley recursion ``d[n] = max(0, aR (d[n-1] + xL[n-1] -
    xL[n]))``; scaled by ``aR**-(n+1)`` it is ``S[n] - min(0, min_k<=n S[k])`` with ``S`` the cumulative sum of the
    scaled increments. Chunks of ``chunk`` samples keep the scale below ``exp(600)``.
    """
    n = x_l.shape[1]
    log_alpha = log_alpha[:, None]
    y1_prev = tf.zeros_like(x_l[:, 0])
    out = []
    for start in range(0, n, chunk):
        x = x_l[:, start:start + chunk]
        k = tf.range(x.shape[1], dtype=tf.float64)[None, :]
        increments = tf.concat([(y1_prev - x[:, 0])[:, None], x[:, :-1] - x[:, 1:]], axis=1)
        s = tf.cumsum(increments * tf.exp(log_alpha * k), axis=1)
        floor = _prefix_min(tf.concat([tf.zeros_like(s[:, :1]), s], axis=1))[:, 1:]
        y = (s - floor) * tf.exp(-log_alpha * (k + 1.0)) + x
        out.append(y)
        y1_prev = y[:, -1]
    return tf.concat(out, axis=1)


def release_chunk(sample_rate: float) -> int:
    """Chunk length of the release stage: the fastest release in ``PARAM_SPEC`` stays below ``exp(600)``."""
    fastest = _LN10 / (PARAM_SPEC["comp_release_ms"].minimum * 1e-3 * sample_rate)
    return max(1, int(_MAX_LOG_SCALE / fastest))


def compressor(x, sample_rate: float, params):
    """``ddsp_kernels.compressor`` in TF for mono ``x`` (batch, samples) float32 and ``comp_*`` params (batch,)."""
    n = _static_length(x)
    floor = 10.0 ** (LEVEL_FLOOR_DB / 20.0)
    level = tf.cast(20.0 * tf.math.log(tf.maximum(tf.abs(x), floor)) / _LN10, tf.float64)
    reduction = -static_gain_db(level, params["comp_threshold_db"], params["comp_ratio"], params["comp_knee_db"])
    log_alpha_r = _LN10 / (tf.maximum(params["comp_release_ms"], 1e-6) * 1e-3 * sample_rate)
    y1 = _release_stage(reduction, log_alpha_r, release_chunk(sample_rate))
    alpha_a = ballistics_coefficient(params["comp_attack_ms"], sample_rate)[:, None]
    n_fft = fft_length(n, sample_rate)
    c1, s1, _, _ = _unit_delays(n_fft)
    one_pole = tf.complex(1.0 - alpha_a, tf.zeros_like(alpha_a)) / tf.complex(1.0 - alpha_a * c1, alpha_a * s1)
    y_l = _fft_filter(y1, one_pole, n_fft)
    gain_db = params["comp_makeup_db"][:, None] - y_l
    return x * tf.cast(tf.exp(gain_db * (_LN10 / 20.0)), tf.float32)


def apply_chain(x, sample_rate: float, p01):
    """EQ -> compressor of ``ddsp_kernels.apply_chain`` on ``x`` (batch, samples) with normalized ``p01``
    (batch, 24); differentiable with respect to ``p01`` (and ``x``)."""
    params = to_physical(p01)
    return compressor(parametric_eq(x, sample_rate, params), sample_rate, params)


def _static_length(x) -> int:
    n = x.shape[-1]
    if n is None or len(x.shape) != 2:
        raise ValueError(f"expected audio shaped (batch, samples) with a static length, got {x.shape}")
    return int(n)
