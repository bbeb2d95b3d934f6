"""RBJ Audio-EQ-Cookbook biquads (R. Bristow-Johnson, "Cookbook formulae for audio EQ biquad filter
coefficients"), designed vectorized at any sample rate and returned as normalized second-order sections
``[b0, b1, b2, 1, a1, a2]`` for ``scipy.signal.sosfilt`` and ``iir.sosfilt``.

Every design is the bilinear transform of a stable analog prototype, so for any gain, any Q > 0 and any
0 < f < fs/2 the poles lie inside the unit circle. Frequencies are clamped to ``MAX_FREQ_RATIO`` x fs.
"""

from __future__ import annotations

import numpy as np

MAX_FREQ_RATIO = 0.45
KINDS = ("low_shelf", "peak", "high_shelf")


def clamp_frequency(freq_hz, sample_rate: float):
    """Bands above 0.45 x fs are clamped there, so one parameter set applies at any sample rate."""
    return np.minimum(np.asarray(freq_hz, dtype=np.float64), MAX_FREQ_RATIO * sample_rate)


def rbj_sos(kind: str, freq_hz, gain_db, q, sample_rate: float) -> np.ndarray:
    """One cookbook biquad per element of the broadcast inputs, shaped (..., 6), a0 normalized to 1."""
    w0 = 2.0 * np.pi * clamp_frequency(freq_hz, sample_rate) / sample_rate
    amp = 10.0 ** (np.asarray(gain_db, dtype=np.float64) / 40.0)
    cos_w0 = np.cos(w0)
    alpha = np.sin(w0) / (2.0 * np.asarray(q, dtype=np.float64))
    if kind == "peak":
        b = (1.0 + alpha * amp, -2.0 * cos_w0, 1.0 - alpha * amp)
        a = (1.0 + alpha / amp, -2.0 * cos_w0, 1.0 - alpha / amp)
    elif kind in ("low_shelf", "high_shelf"):
        sign = 1.0 if kind == "low_shelf" else -1.0  # the high shelf is the low shelf with cos(w0) negated
        two_sqrt_a_alpha = 2.0 * np.sqrt(amp) * alpha
        ap1, am1 = amp + 1.0, amp - 1.0
        b = (
            amp * (ap1 - sign * am1 * cos_w0 + two_sqrt_a_alpha),
            sign * 2.0 * amp * (am1 - sign * ap1 * cos_w0),
            amp * (ap1 - sign * am1 * cos_w0 - two_sqrt_a_alpha),
        )
        a = (
            ap1 + sign * am1 * cos_w0 + two_sqrt_a_alpha,
            -sign * 2.0 * (am1 + sign * ap1 * cos_w0),
            ap1 + sign * am1 * cos_w0 - two_sqrt_a_alpha,
        )
    else:
        raise ValueError(f"unknown biquad kind {kind!r}; expected one of {KINDS}")
    a0 = a[0]
    sos = np.empty(np.broadcast_shapes(*(np.shape(c) for c in b + a)) + (6,))
    sos[..., 3] = 1.0
    for k, c in ((0, b[0]), (1, b[1]), (2, b[2]), (4, a[1]), (5, a[2])):
        sos[..., k] = c / a0
    return sos


def sos_response(sos, freqs_hz, sample_rate: float) -> np.ndarray:
    """Complex frequency response of second-order sections ``sos`` (..., 6) at ``freqs_hz`` (the transfer function
    ``(b0 + b1 z^-1 + b2 z^-2) / (a0 + a1 z^-1 + a2 z^-2)`` on the unit circle): (..., len(freqs))."""
    sos = np.asarray(sos)
    z = np.exp(-1j * 2.0 * np.pi * np.asarray(freqs_hz) / sample_rate)
    b, a = sos[..., None, :3], sos[..., None, 3:]
    return (b[..., 0] + b[..., 1] * z + b[..., 2] * z * z) / (a[..., 0] + a[..., 1] * z + a[..., 2] * z * z)


def power_basis(freqs_hz, sample_rate: float) -> np.ndarray:
    """``[1, s, s^2]`` with ``s = sin^2(w / 2)`` (3, len(freqs)) at ``freqs_hz``: what :func:`sos_power_response`
    evaluates on."""
    s = np.sin(np.pi * np.asarray(freqs_hz, dtype=np.float64) / sample_rate) ** 2
    return np.stack([np.ones_like(s), s, s * s])


def sos_power_response(sos, basis: np.ndarray) -> np.ndarray:
    """``|H|^2`` of second-order sections ``sos`` (..., 6) at the frequencies of ``basis`` (:func:`power_basis`),
    (..., freqs): the squared magnitude of :func:`sos_response` in real arithmetic, ``|b0 + b1 z^-1 + b2 z^-2|^2 =
    (b0 + b1 + b2)^2 - 4 (b0 b1 + 4 b0 b2 + b1 b2) s + 16 b0 b2 s^2``, ``s = sin^2(w / 2)``, over the same of ``a``
    (the form that keeps its precision near 0 Hz, where the poles of a low band come close to z = 1)."""
    sos = np.asarray(sos, dtype=np.float64)

    def terms(c):
        c0, c1, c2 = c[..., 0], c[..., 1], c[..., 2]
        return np.stack([(c0 + c1 + c2) ** 2, -4.0 * (c0 * c1 + 4.0 * c0 * c2 + c1 * c2), 16.0 * c0 * c2], axis=-1)

    return (terms(sos[..., :3]) @ basis) / (terms(sos[..., 3:]) @ basis)
