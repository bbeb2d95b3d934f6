"""Feed-forward dynamic range compressor after Giannoulis, Massberg & Reiss, "Digital Dynamic Range Compressor
Design - A Tutorial and Analysis", JAES 60(6), 2012:

- level detection in dB of the sample peak, linked across channels (the loudest channel drives all);
- gain computer with a soft knee (their eq. 4, with the correct quadratic ``(1/R - 1)(x - T + W/2)^2 / (2W)``);
- gain-reduction ballistics by their smooth decoupled peak detector (eq. 17 followed by an attack one-pole):
  ``y1[n] = max(xL[n], aR y1[n-1] + (1 - aR) xL[n])``, ``yL[n] = aA yL[n-1] + (1 - aA) y1[n]``;
- makeup gain.

Attack and release *times* are the time to cover 90 % of a gain-reduction step, so a one-pole coefficient is
``a = 10 ** (-1 / (t * fs))``. Both recursions are evaluated exactly without a per-sample Python loop: with
``d = y1 - xL`` the release is the Lindley recursion ``d[n] = max(0, aR (d[n-1] + xL[n-1] - xL[n]))``, which after
scaling by ``aR**-n`` becomes a cumulative sum and a cumulative minimum; the attack one-pole scaled by ``aA**-n``
is a cumulative sum (both chunked so the scale stays finite).

Where pip could build it (a C compiler and Python's headers; ``setup.py``), ``COMPILED`` is the same detector
compiled (``_compiled.c``'s ``detect``: from the linked peak to the gain, level, gain computer, both recursions and
the gain's exponential per sample; about 3 times faster than the numpy path). Both paths are tested against each
other and against a per-sample reference (``tests/kernels/test_compressor.py``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .signal import as_frames, restore

try:
    from . import _compiled as COMPILED
except ImportError:  # not built (no C compiler at install): the numpy path
    COMPILED = None

LEVEL_FLOOR_DB = -120.0
_MAX_LOG_SCALE = 600.0  # largest exponent of the release scaling inside one chunk (exp(600) ~ 1e260)
_MAX_CHUNK = 65536
_LN10 = float(np.log(10.0))


def ballistics_coefficient(time_ms, sample_rate: float):
    """One-pole coefficient whose step response covers 90 % of a step in ``time_ms`` milliseconds."""
    return np.exp(-_LN10 / (np.maximum(np.asarray(time_ms, dtype=np.float64), 1e-6) * 1e-3 * sample_rate))


def static_gain_db(level_db, threshold_db, ratio, knee_db):
    """Gain computer of Giannoulis et al. eq. 4 as a gain (output level minus input level, <= 0 dB).

    Written branch-free: with ``k`` the knee width and ``u = clip(x - T + k/2, 0, k)``, the curve is
    ``(1/R - 1) (u^2 / (2k) + max(x - T - k/2, 0))``, which is eq. 4 in each of its three regions.
    """
    level_db = np.asarray(level_db)
    dtype = level_db.dtype if level_db.dtype.kind == "f" else np.dtype(np.float64)
    knee = max(float(knee_db), 1e-9)
    slope = dtype.type(1.0 / float(ratio) - 1.0)
    u = np.array(level_db - dtype.type(float(threshold_db) - knee / 2), dtype=dtype)  # writable, also when 0-d
    above = np.maximum(u - dtype.type(knee), 0, dtype=dtype)
    np.clip(u, 0, knee, out=u)
    np.square(u, out=u)
    u *= dtype.type(1.0 / (2.0 * knee))
    u += above
    u *= slope
    return u


@lru_cache(maxsize=16)
def _scales(log_alpha: float, length: int) -> tuple[np.ndarray, np.ndarray]:
    """``a**-k`` and ``a**(k+1)`` for k < length of a one-pole coefficient ``a = exp(-log_alpha)`` (the
    release and the attack stage; cached: streaming reuses them every block)."""
    k = np.arange(length, dtype=np.float64)
    return np.exp(log_alpha * k), np.exp(-log_alpha * (k + 1.0))


def _release_stage(x_l: np.ndarray, alpha_r: float, y1_prev: float, out: np.ndarray) -> float:
    """Exact ``y1[n] = max(xL[n], aR y1[n-1] + (1 - aR) xL[n])`` into ``out``; returns the last y1."""
    log_alpha = -np.log(alpha_r)
    chunk = int(min(_MAX_CHUNK, max(1, _MAX_LOG_SCALE // max(log_alpha, 1e-12))))
    grow, decay = _scales(log_alpha, chunk)
    scan = np.empty(min(chunk, len(x_l)) + 1)
    for start in range(0, len(x_l), chunk):
        x = x_l[start:start + chunk]
        m = len(x)
        # scan = [0, running sum of the scaled increments (xL[n-1] - xL[n]) aR^-n], y1_prev - xL[0] first
        s = scan[1:m + 1]
        scan[0] = 0.0
        s[0] = y1_prev - x[0]
        np.subtract(x[:-1], x[1:], out=s[1:])
        np.multiply(s, grow[:m], out=s)
        np.cumsum(s, out=s)
        y = out[start:start + m]
        np.subtract(s, np.fmin.accumulate(scan[:m + 1])[1:], out=y)  # Lindley: S - min(0, min S)
        np.multiply(y, decay[:m], out=y)
        np.add(y, x, out=y)
        y1_prev = float(y[-1])
    return y1_prev


def _attack_stage(x: np.ndarray, alpha_a: float, y_prev: float, out: np.ndarray) -> float:
    """Exact one-pole ``yL[n] = aA yL[n-1] + (1 - aA) x[n]`` into ``out``; returns the last yL. Scaled by
    ``aA**-(n+1)`` the recursion is a cumulative sum: ``yL[n] = aA**(n+1) (yL[-1] + (1 - aA) sum_k aA**-(k+1) x[k])``
    (chunked like the release stage so that the scale stays finite)."""
    log_alpha = -np.log(alpha_a)
    chunk = int(min(_MAX_CHUNK, max(1, _MAX_LOG_SCALE // max(log_alpha, 1e-12))))
    grow, decay = _scales(log_alpha, chunk)
    gain = (1.0 - alpha_a) / alpha_a  # grow[k] (1 - aA) / aA = (1 - aA) aA**-(k+1)
    for start in range(0, len(x), chunk):
        y = out[start:start + chunk]
        m = len(y)
        np.multiply(x[start:start + m], grow[:m], out=y)
        np.cumsum(y, out=y)
        y *= gain
        y += y_prev
        y *= decay[:m]
        y_prev = float(y[-1])
    return y_prev


def _level_db(level):
    """``20 log10(level)`` in the dtype of ``level`` (float32 detector levels), as ``(20 / ln 10) ln(level)``:
    numpy's float32 ``log`` is vectorized, its ``log10`` is not (0.23 against 0.51 ms for 60,000 samples here)."""
    level = np.log(level)
    level *= np.float32(20.0 / _LN10)
    return level


class CompressorState:
    """Detector state carried between blocks: the release stage ``y1`` and the smoothed reduction ``yL`` (dB)."""

    __slots__ = ("y1", "y_l")

    def __init__(self, y1: float = 0.0, y_l: float = 0.0):
        self.y1 = y1
        self.y_l = y_l

    def copy(self) -> "CompressorState":
        return CompressorState(self.y1, self.y_l)


def compress_frames(frames: np.ndarray, sample_rate: float, state: CompressorState, *, threshold_db: float,
                    ratio: float, attack_ms: float, release_ms: float, knee_db: float = 0.0,
                    makeup_db: float = 0.0) -> np.ndarray:
    """Compress (samples, channels) audio with carried ``state`` (updated in place); returns new audio. A block
    whose peak stays below the knee while the detector is at rest (both stages 0) skips the detector: its scans
    would stay 0, so the block is scaled by the makeup gain alone (one scalar: what the general path computes for
    every sample of such a block, bit for bit)."""
    n = frames.shape[0]
    if n == 0:
        return frames.copy()
    floor = np.float32(10.0 ** (LEVEL_FLOOR_DB / 20.0))
    alpha_r, alpha_a = (float(ballistics_coefficient(t, sample_rate)) for t in (release_ms, attack_ms))
    args = (float(floor), float(threshold_db), float(ratio), float(knee_db), float(makeup_db), alpha_r, alpha_a)
    if state.y1 == 0.0 and state.y_l == 0.0:
        loudest = np.maximum(np.float32(max(frames.max(), -frames.min())), floor)  # = the peak array's maximum
        if not static_gain_db(_level_db(loudest), threshold_db, ratio, knee_db) < 0.0:
            # the gain the general path computes where the reduction is 0
            if COMPILED is not None:
                gain = np.empty(1, dtype=np.float32)
                COMPILED.detect(np.full(1, loudest, dtype=np.float32), gain, *args, 0.0, 0.0)
            else:  # its float32 exp of one value
                gain = np.exp(np.full(1, np.float32(makeup_db) * np.float32(_LN10 / 20.0), dtype=np.float32))
            return frames * gain.astype(frames.dtype)[0]
    peak = np.abs(frames[:, 0])  # linked: the loudest channel (a loop over channels: max(axis=1) is slow)
    for c in range(1, frames.shape[1]):
        np.maximum(peak, np.abs(frames[:, c]), out=peak)
    if COMPILED is not None:
        gain = np.empty(n, dtype=np.float32)
        state.y1, state.y_l = COMPILED.detect(peak.astype(np.float32, copy=False), gain, *args, state.y1, state.y_l)
        return frames * gain.astype(frames.dtype, copy=False)[:, None]
    level = _level_db(np.maximum(peak.astype(np.float32, copy=False), floor))
    reduction = static_gain_db(level, threshold_db, ratio, knee_db)
    reduction = np.negative(reduction, out=np.empty(n, dtype=np.float64))
    y1 = np.empty(n, dtype=np.float64)
    state.y1 = _release_stage(reduction, alpha_r, state.y1, y1)
    y_l = np.empty(n, dtype=np.float64)
    state.y_l = _attack_stage(y1, alpha_a, state.y_l, y_l)
    gain = np.float32(makeup_db) - y_l.astype(np.float32)
    gain *= np.float32(_LN10 / 20.0)
    np.exp(gain, out=gain)
    return frames * gain.astype(frames.dtype, copy=False)[:, None]


def compressor(x, sample_rate: float, *, threshold_db: float, ratio: float, attack_ms: float, release_ms: float,
               knee_db: float = 0.0, makeup_db: float = 0.0) -> np.ndarray:
    """Compress audio shaped (samples,) or (samples, channels) at ``sample_rate`` Hz: ``threshold_db`` (dBFS),
    ``ratio`` (>= 1), ``attack_ms`` / ``release_ms`` (90 % times), ``knee_db`` (soft-knee width) and ``makeup_db``.
    Raises ``ValueError`` for other shapes."""
    frames, was_1d = as_frames(x)
    return restore(compress_frames(frames, sample_rate, CompressorState(), threshold_db=threshold_db, ratio=ratio,
                                   attack_ms=attack_ms, release_ms=release_ms, knee_db=knee_db,
                                   makeup_db=makeup_db), was_1d)
