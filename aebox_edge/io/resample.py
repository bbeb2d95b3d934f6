"""Streaming polyphase resampling with a filter built once per rate pair (numpy only: no ``scipy.signal``).

The rate ratio ``target / orig`` is used as ``up / down`` in lowest terms when both are at most ``MAX_FACTOR``, else
as the closest fraction with ``down <= MAX_FACTOR`` (``fractions.Fraction.limit_denominator``; 1,000,003 Hz ->
24 kHz becomes 3/125, a rate error of 3 ppm; at most 0.05 %, under a cent, for any rate from 1 kHz to 768 kHz to
24 kHz), so the filter's size never depends on the rates' prime factors.

The filter is ``scipy.signal.resample_poly``'s default: a Kaiser-windowed sinc (beta 5) of ``2 * 10 * max(up, down)
+ 1`` taps at ``up`` x the input rate, cut off at the lower Nyquist frequency, gain ``up`` (P. P. Vaidyanathan,
"Multirate Systems and Filter Banks", 1993, ch. 4: polyphase decimation and interpolation). Output sample ``n`` is
the filter centred on input time ``n * down / up``, with zeros before and after the signal, so a whole signal comes
out as ``resample_poly`` would give it. In polyphase form every ``up`` outputs read one window of input that
advances by ``down`` samples, so a block of output is one matrix product: (blocks, window) x (window, up).
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np

from ..errors import check_positive_int

MAX_FACTOR = 1024   # largest up or down factor; rates needing more are approximated (see the module docstring)
HALF_ZEROS = 10     # zero crossings of the sinc on each side (resample_poly's half_len = 10 * max(up, down))
KAISER_BETA = 5.0


def ratio(orig_sr: int, target_sr: int) -> tuple[int, int]:
    """``(up, down)`` for resampling ``orig_sr`` to ``target_sr`` Hz, both at most ``MAX_FACTOR``. Raises
    ``InputError`` for rates that are not positive integers."""
    orig_sr, target_sr = check_positive_int("orig_sr", orig_sr), check_positive_int("target_sr", target_sr)
    g = math.gcd(orig_sr, target_sr)
    up, down = target_sr // g, orig_sr // g
    if max(up, down) > MAX_FACTOR:
        f = Fraction(target_sr, orig_sr).limit_denominator(MAX_FACTOR)
        if f.numerator > MAX_FACTOR or f.numerator == 0:  # upsampling by more than MAX_FACTOR
            f = 1 / (1 / Fraction(target_sr, orig_sr)).limit_denominator(MAX_FACTOR)
        up, down = max(1, f.numerator), f.denominator
    return up, down


@functools.lru_cache(maxsize=8)
def polyphase_matrix(up: int, down: int) -> tuple[np.ndarray, int]:
    """The polyphase matrix ``H`` (window, up), float32 and read-only, and the offset ``r0`` (<= 0) of the
    window: output ``up * j + p`` is ``x[down * j + r0 : down * j + r0 + window] @ H[:, p]``."""
    max_rate = max(up, down)
    half = HALF_ZEROS * max_rate
    taps = 2 * half + 1
    n = np.arange(taps) - half
    h = np.sinc(n / max_rate) * np.kaiser(taps, KAISER_BETA)
    h *= up / h.sum()
    r0 = -(half // up)
    r1 = (half + (up - 1) * down) // up
    r = np.arange(r0, r1 + 1)[:, None]
    index = half + np.arange(up)[None, :] * down - r * up  # tap of input down*j + r for output up*j + p
    matrix = np.where((index >= 0) & (index < taps), h[np.clip(index, 0, taps - 1)], 0.0).astype(np.float32)
    matrix.flags.writeable = False
    return matrix, int(r0)


class Resampler:
    """Resamples a mono stream block by block: ``process(block)`` returns the output samples that are complete,
    ``flush()`` the rest (the signal followed by zeros). The concatenated output is ``resample(whole signal)``:
    ``ceil(n * up / down)`` samples. Memory: the polyphase matrix (at most ~4 MB) and one window of input."""

    def __init__(self, orig_sr: int, target_sr: int):
        self.up, self.down = ratio(orig_sr, target_sr)
        self._matrix, r0 = polyphase_matrix(self.up, self.down)
        self._buffer = np.zeros(-r0, np.float32)  # input from down * (next block) + r0 on
        self._inputs = 0
        self._outputs = 0

    def process(self, block) -> np.ndarray:
        """Append input samples (1-D); returns the float32 output samples they complete."""
        block = np.asarray(block, dtype=np.float32)
        self._inputs += len(block)
        self._buffer = np.concatenate([self._buffer, block]) if len(block) else self._buffer
        return self._emit(self._ready_blocks())

    def flush(self) -> np.ndarray:
        """The remaining output (the signal followed by zeros); the resampler is spent afterwards."""
        remaining = -(-self._inputs * self.up // self.down) - self._outputs
        blocks = -(-remaining // self.up)
        if blocks <= 0:
            return np.zeros(0, np.float32)
        need = (blocks - 1) * self.down + self._matrix.shape[0] - len(self._buffer)
        self._buffer = np.concatenate([self._buffer, np.zeros(max(0, need), np.float32)])
        return self._emit(blocks)[:remaining]

    def _ready_blocks(self) -> int:
        window = self._matrix.shape[0]
        return 0 if len(self._buffer) < window else (len(self._buffer) - window) // self.down + 1

    def _emit(self, blocks: int) -> np.ndarray:
        if blocks <= 0:
            return np.zeros(0, np.float32)
        window = self._matrix.shape[0]
        frames = np.lib.stride_tricks.sliding_window_view(self._buffer[:(blocks - 1) * self.down + window],
                                                          window)[::self.down]
        out = (frames @ self._matrix).ravel()
        self._buffer = self._buffer[blocks * self.down:]
        self._outputs += len(out)
        return out


def resample(x: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample ``x`` along axis 0 with :class:`Resampler` (each channel of a 2-D array on its own); returns ``x``
    itself when the rates are equal. Floating input keeps its dtype (computed in float32); the output has
    ``ceil(len(x) * up / down)`` frames. Raises ``InputError`` for rates that are not positive integers."""
    up, down = ratio(orig_sr, target_sr)
    if up == down:
        return x
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)

    def one(channel):
        r = Resampler(orig_sr, target_sr)
        return np.concatenate([r.process(channel), r.flush()])

    y = one(x) if x.ndim == 1 else np.stack([one(x[:, c]) for c in range(x.shape[1])], axis=1)
    return y.astype(dtype, copy=False)
