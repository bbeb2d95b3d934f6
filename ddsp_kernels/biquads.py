"""RBJ Audio-EQ-Cookbook biquads (R. Bristow-Johnson, "Cookbook formulae for audio EQ biquad filter
coefficients"), designed vectorized at any sample rate and returned as normalized second-order sections
``[b0, b1, b2, 1, a1, a2]`` for ``scipy.signal.sosfilt`` and ``iir.BlockFilter``.

Every design is the bilinear transform of a stable analog prototype, so for any gain, any Q > 0 and any
0 < f < fs/2 the poles lie inside the unit circle. Frequencies are clamped to ``MAX_FREQ_RATIO`` x fs.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

MAX_FREQ_RATIO = 0.45
KINDS = ("low_shelf", "peak", "high_shelf")


def clamp_frequency(freq_hz, sample_rate: float):
    """Bands above 0.45 x fs are clamped there, so one parameter set applies at any sample rate."""
    return np.minimum(np.asarray(freq_hz, dtype=np.float64), MAX_FREQ_RATIO * sample_rate)


def rbj_sos(kind: str, freq_hz, gain_db, q, sample_rate: float) -> np.ndarray:
    """One cookbook biquad per element of the broadcast inputs, shaped (..., 6), a0 normalized to 1 (a bank of
    one band, :func:`rbj_bank`). Raises ``ValueError`` for an unknown kind."""
    freq_hz, gain_db, q = (np.expand_dims(np.asarray(v, dtype=np.float64), -1) for v in (freq_hz, gain_db, q))
    return rbj_bank((kind,), freq_hz, gain_db, q, sample_rate)[..., 0, :]


@lru_cache(maxsize=16)
def _kind_groups(kinds: tuple) -> tuple:
    """The indices of a bank's peaking bands and of its shelves (:func:`_as_slice`), and each shelf's sign (+1 low,
    -1 high: the high shelf is the low shelf with cos(w0) negated). Raises ``ValueError`` for an unknown kind."""
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise ValueError(f"unknown biquad kind {unknown[0]!r}; expected one of {KINDS}")
    peak = [i for i, kind in enumerate(kinds) if kind == "peak"]
    shelf = [i for i, kind in enumerate(kinds) if kind != "peak"]
    sign = np.array([1.0 if kinds[i] == "low_shelf" else -1.0 for i in shelf])
    return _as_slice(peak), _as_slice(shelf), sign


def _as_slice(index: list) -> slice | np.ndarray:
    """Evenly spaced indices as a slice (a view, not a copy, of what it indexes), else an index array."""
    if len(index) == 1:
        return slice(index[0], index[0] + 1)
    if len(index) > 1 and len(set(np.diff(index))) == 1 and index[1] > index[0]:
        return slice(index[0], index[-1] + 1, index[1] - index[0])
    return np.array(index, dtype=np.intp)


def rbj_bank(kinds, freq_hz, gain_db, q, sample_rate: float) -> np.ndarray:
    """Cookbook biquads of a bank of bands, band ``i`` of kind ``kinds[i]``: the inputs broadcast to (..., bands),
    the sections (..., bands, 6), a0 normalized to 1, designed for all bands in one pass (the EQ fit designs its six
    bands some sixty times per window). Raises ``ValueError`` for an unknown kind or a last axis that is not
    ``len(kinds)`` long."""
    kinds = tuple(kinds)
    peak, shelf, sign = _kind_groups(kinds)
    freq_hz, gain_db, q = np.broadcast_arrays(np.asarray(freq_hz, dtype=np.float64),
                                              np.asarray(gain_db, dtype=np.float64), np.asarray(q, dtype=np.float64))
    if freq_hz.shape[-1:] != (len(kinds),):
        raise ValueError(f"expected values shaped (..., {len(kinds)}) for {len(kinds)} bands, got {freq_hz.shape}")
    w0 = 2.0 * np.pi * clamp_frequency(freq_hz, sample_rate) / sample_rate
    amp = 10.0 ** (gain_db / 40.0)
    cos_w0 = np.cos(w0)
    alpha = np.sin(w0) / (2.0 * q)
    sos = np.empty(freq_hz.shape + (6,))
    sos[..., 3] = 1.0
    if sign.size < len(kinds):  # peaking bands
        amp_p, alpha_p, cos_p = amp[..., peak], alpha[..., peak], cos_w0[..., peak]
        b = (1.0 + alpha_p * amp_p, -2.0 * cos_p, 1.0 - alpha_p * amp_p)
        a = (1.0 + alpha_p / amp_p, -2.0 * cos_p, 1.0 - alpha_p / amp_p)
        _normalize_into(sos, peak, b, a)
    if sign.size:  # shelves
        amp_s, alpha_s, cos_s = amp[..., shelf], alpha[..., shelf], cos_w0[..., shelf]
        two_sqrt_a_alpha = 2.0 * np.sqrt(amp_s) * alpha_s
        ap1, am1 = amp_s + 1.0, amp_s - 1.0
        b = (
            amp_s * (ap1 - sign * am1 * cos_s + two_sqrt_a_alpha),
            sign * 2.0 * amp_s * (am1 - sign * ap1 * cos_s),
            amp_s * (ap1 - sign * am1 * cos_s - two_sqrt_a_alpha),
        )
        a = (
            ap1 + sign * am1 * cos_s + two_sqrt_a_alpha,
            -sign * 2.0 * (am1 + sign * ap1 * cos_s),
            ap1 + sign * am1 * cos_s - two_sqrt_a_alpha,
        )
        _normalize_into(sos, shelf, b, a)
    return sos


def _normalize_into(sos: np.ndarray, bands, b: tuple, a: tuple) -> None:
    """``sos[..., bands, :]`` = ``[b0, b1, b2, 1, a1, a2] / a0`` (column 3 already 1)."""
    normalized = np.stack([b[0], b[1], b[2], a[1], a[2]], axis=-1) / a[0][..., None]
    if isinstance(bands, slice):
        sos[..., bands, _COEFFICIENTS] = normalized
    else:  # (two index arrays would broadcast against each other)
        for k, column in enumerate(_COEFFICIENTS):
            sos[..., bands, column] = normalized[..., k]


_COEFFICIENTS = np.array([0, 1, 2, 4, 5])


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
