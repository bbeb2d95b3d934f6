"""True-peak look-ahead limiter: the last stage of the chain, so that no output exceeds ``CEILING_DBTP``.

- True peak per ITU-R BS.1770-4 Annex 2: the signal 4x oversampled (here a Kaiser-windowed sinc interpolator,
  ``HALF_TAPS`` taps each side per phase, ``KAISER_BETA``; the sample itself is phase 0), absolute values, the
  largest over the channels (linked: the loudest channel drives all). The peak of a sample is the largest value in
  the two sample intervals around it.
- Gain computer and ballistics after Giannoulis, Massberg & Reiss, "Digital Dynamic Range Compressor Design -- A
  Tutorial and Analysis", JAES 60(6), 2012, with the look-ahead of Zoelzer (ed.), DAFX, 2nd ed., 2011, ch. 4
  (dynamic range control): an infinite-ratio hard knee on the true peak, ``u = max(0, 20 log10(peak) - ceiling)``
  dB of reduction; a peak hold over ``hold_ms`` (>= the look-ahead; sustained low notes then see a constant gain:
  no ripple, no pumping); a decoupled release to 0 dB, ``v[n] = max(u[n], aR v[n-1])`` (their eq. 17 with instant
  attack, ``aR`` as ``compressor.ballistics_coefficient``: ``release_ms`` covers 90 % of the way back); and the
  attack as a moving average of ``v`` over the look-ahead (``lookahead_ms`` + 1 sample), so the gain ramps down
  linearly in dB and reaches each peak's reduction exactly when the delayed peak plays. Every sample's gain is
  therefore at most the gain its own true peak allows: the 4x true peak of the output is at most the ceiling (up to
  the oversampling's own under-read: 0.01-0.06 dB on music, a +12 dBFS input and a square wave, measured against
  8x; BS.1770-4 gives 0.69 dB as the worst case of 4x, for full-scale tones near Nyquist: the -1 dB ceiling keeps
  even that below 0 dBFS, and leaves the headroom codecs need, as EBU R128 / AES TD1004 advise).
- Delay: the interpolator's ``HALF_TAPS`` samples plus the look-ahead (``latency`` frames). ``TruePeakLimiter``
  streams (its output is the input delayed by ``latency``); :func:`true_peak_limit` is the offline form,
  sample-aligned with its input. Blocks of any size give exactly the offline result: each interpolated value is one
  dot product of its own 24 samples (kept across blocks), the peak hold a maximum over carried history, the release
  recursion is evaluated on a fixed grid of absolute positions (``maximum.accumulate`` of ``log u[k] - k log aR``
  per chunk of ``_CHUNK`` samples, exact without a per-sample loop) and the moving average sums reductions in fixed
  point (int64, exact).
- Below the ceiling the limiter is transparent: the output is the delayed input, bit for bit (a release tail
  below ``MIN_REDUCTION_DB`` counts as no reduction).
- Where pip built the optional extension (:data:`COMPILED`, ``_compiled.c``), two steps run compiled: the
  interpolation of blocks mostly near the ceiling (``true_peak``: every output brought to a mastered reference's
  loudness is; numpy multiplies the sliding windows, a copy of 24 floats per sample and channel, some 17 times
  slower), and the gain computer with its ballistics (``limiter_gain``: one sample at a time instead of numpy's
  passes). A 4-minute stereo song limited by up to 3 dB went through the limiter in 0.69-0.71 s against 2.58-2.65 s
  for the numpy path (two rounds in one process, a busy box). The gains agree with the numpy path's to 2e-6 dB (the
  phases' float32 sums in another order; given the same peaks, to 1e-12 dB).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .compressor import ballistics_coefficient
from .signal import as_frames, restore, sliding_max

try:
    from . import _compiled as COMPILED
except ImportError:  # not built (no C compiler at install): the numpy path
    COMPILED = None

CEILING_DBTP = -1.0
LOOKAHEAD_MS = 5.0
HOLD_MS = 20.0
RELEASE_MS = 100.0
OVERSAMPLING = 4
HALF_TAPS = 12
KAISER_BETA = 6.0
MIN_REDUCTION_DB = 1e-6
_CHUNK = 8192
_DENSE = 0.25  # above this share of samples near the ceiling the phases are computed for all of a block
_FIXED_POINT = 2.0 ** 40  # reduction in dB -> int64 for the exact moving average (up to ~8000 dB over 1000 taps)
_LOG_MIN_REDUCTION = float(np.log(MIN_REDUCTION_DB))
_DB_TO_LOG = float(np.log(10.0) / 20.0)


@lru_cache(maxsize=4)
def interpolation_taps(half_taps: int = HALF_TAPS, beta: float = KAISER_BETA) -> np.ndarray:
    """FIR taps (OVERSAMPLING - 1, 2 * half_taps) of the fractional phases 1/4, 2/4, 3/4: filtering ``x`` with row
    ``p - 1`` gives, at sample ``n``, the band-limited value at time ``n - half_taps + p / 4`` (a Kaiser-windowed
    sinc, ``beta``)."""
    offsets = np.arange(1, OVERSAMPLING)[:, None] / OVERSAMPLING
    t = offsets - (half_taps - np.arange(2 * half_taps))[None, :]
    window = np.i0(beta * np.sqrt(np.clip(1.0 - (t / half_taps) ** 2, 0.0, None))) / np.i0(beta)
    taps = np.sinc(t) * window
    taps.setflags(write=False)
    return taps


class TruePeakLimiter:
    """Streaming true-peak limiter (see the module's docstring): ``process(block)`` returns the limited block
    delayed by ``latency`` frames; blocks are (samples,) or (samples, channels), any size, float32 or float64.
    ``max_reduction_db`` is the largest gain reduction applied so far.

    Raises
    ------
    ValueError
        If ``sample_rate``, ``channels``, ``lookahead_ms`` or ``release_ms`` is not positive, ``hold_ms`` is
        shorter than ``lookahead_ms``, ``ceiling_db`` is not finite, or a block's channel count changes.
    """

    def __init__(self, sample_rate: float, channels: int = 1, *, ceiling_db: float = CEILING_DBTP,
                 lookahead_ms: float = LOOKAHEAD_MS, hold_ms: float = HOLD_MS, release_ms: float = RELEASE_MS):
        if not (sample_rate > 0 and channels >= 1 and lookahead_ms > 0 and release_ms > 0):
            raise ValueError("sample rate, channels, look-ahead and release must be positive, got "
                             f"{sample_rate}, {channels}, {lookahead_ms}, {release_ms}")
        if not hold_ms >= lookahead_ms:
            raise ValueError(f"hold ({hold_ms} ms) must be at least the look-ahead ({lookahead_ms} ms)")
        if not np.isfinite(ceiling_db):
            raise ValueError(f"ceiling must be finite, got {ceiling_db}")
        self.sample_rate = float(sample_rate)
        self.channels = int(channels)
        self.ceiling_db = float(ceiling_db)
        self.lookahead = max(1, int(round(lookahead_ms * 1e-3 * sample_rate)))
        self.hold = max(self.lookahead, int(round(hold_ms * 1e-3 * sample_rate)))
        self.latency = HALF_TAPS + self.lookahead
        self._release_coefficient = ballistics_coefficient(release_ms, sample_rate)
        self._log_release = float(np.log(self._release_coefficient))
        self._ceiling = 10.0 ** (self.ceiling_db / 20.0)
        self._taps = interpolation_taps()
        self._taps_l1 = float(np.abs(self._taps).sum(axis=1).max())
        self._phase_matrix = np.ascontiguousarray(self._taps[:, ::-1], dtype=np.float32)  # @ windows -> phases
        self._compiled = COMPILED is not None  # the path this limiter runs throughout
        self.reset()

    def reset(self) -> None:
        """Forget all state (silence before the next block)."""
        self._history = max(self.latency, len(self._taps[0]) - 1)
        # the last input frames; float32 zeros, so that float32 audio stays float32 (its samples delayed exactly, no
        # float64 copy of every block) and float64 audio makes the line float64
        self._delay = np.zeros((self._history, self.channels), np.float32)
        self._last_group = 0.0  # the true peak of the previous sample interval
        self._held = np.zeros(self.hold)  # the last `hold` true peaks
        self._position = 0  # samples processed (the release grid)
        self._log_v = -np.inf  # log of the release state at the end of the last whole chunk
        self._running = -np.inf  # running maximum of log u[k] - k log aR within the current chunk
        self._averaged = np.zeros(self.lookahead, np.int64)  # the last reductions in fixed point
        self._v = 0.0  # the compiled path's release state (dB; 0 once below MIN_REDUCTION_DB)
        self.max_reduction_db = 0.0

    def process(self, block) -> np.ndarray:
        """The limited ``block``, delayed by ``latency`` frames (same shape and dtype)."""
        frames, was_1d = as_frames(block)
        if frames.shape[1] != self.channels:
            raise ValueError(f"expected audio shaped (samples, {self.channels}), got {np.shape(block)}")
        n, history = len(frames), self._history
        if n == 0:
            return restore(frames.copy(), was_1d)
        buffer = np.concatenate([self._delay, frames])
        self._delay = buffer[n:]
        group = self._true_peaks(buffer, n)
        peak = np.maximum(group, np.concatenate([[self._last_group], group[:-1]]))  # the two intervals around
        self._last_group = float(group[-1])
        gain_db = self._gain_db(peak)
        out = buffer[history - self.latency:history - self.latency + n]
        if gain_db is not None:
            self.max_reduction_db = max(self.max_reduction_db, float(-gain_db.min()))
            # in the audio's own precision (float32 audio: a float32 product); exp(0) == 1: unlimited samples stay exact
            out = out * np.exp(gain_db * _DB_TO_LOG).astype(out.dtype, copy=False)[:, None]
        return restore(out.astype(frames.dtype), was_1d)  # a copy: never a view of the delay line

    def flush(self) -> np.ndarray:
        """The last ``latency`` frames still in the delay line (the stream continued by silence), float64 (samples,
        channels)."""
        return self.process(np.zeros((self.latency, self.channels)))

    def _true_peaks(self, buffer: np.ndarray, n: int) -> np.ndarray:
        """True peak (linked) of the sample interval ``[t, t + 1)`` of each arrival, ``t = arrival - HALF_TAPS``:
        the sample and the three fractional phases (float32; each output is one dot product of its own 24
        samples, so it does not depend on the block). The phases are computed only where they can exceed the
        ceiling: a phase is at most the L1 norm of its taps times the largest of its 24 samples (a sliding
        maximum); below that bound only the sample counts (both are below the ceiling, so the gain is the same),
        so an output below the ceiling costs a sliding maximum, not the interpolation (gathered where the bound
        is exceeded; for the whole block where that is more than ``_DENSE`` of it, as gathering would cost
        more; there the compiled kernel, where built, instead of numpy's product)."""
        history, span = self._history, self._taps.shape[1] - 1
        sample_peak = np.abs(buffer[:, 0])
        for c in range(1, self.channels):  # (a maximum over a short axis is slow in numpy)
            np.maximum(sample_peak, np.abs(buffer[:, c]), out=sample_peak)
        group = sample_peak[history - HALF_TAPS:history - HALF_TAPS + n]
        recent = sample_peak[history - span:]  # output j interpolates recent[j:j + span + 1]
        if recent.max() * self._taps_l1 > self._ceiling:
            near = sliding_max(recent, span + 1) * self._taps_l1 > self._ceiling
            where = None if near.mean() > _DENSE else np.flatnonzero(near)  # dense: every sample, no gather
            x = buffer[history - span:].astype(np.float32)
            if where is None and self._compiled:
                phases = np.zeros(n, np.float32)
                COMPILED.true_peak(x, self._phase_matrix, phases)
                return np.maximum(group, phases)
            group = group.copy()
            for c in range(self.channels):
                windows = np.lib.stride_tricks.sliding_window_view(x[:, c], span + 1)  # (n, 24)
                if where is None:
                    np.maximum(group, np.abs(self._phase_matrix @ windows.T).max(axis=0), out=group)
                else:
                    phases = np.abs(self._phase_matrix @ windows[where].T)  # (3, near)
                    group[where] = np.maximum(group[where], phases.max(axis=0))
        return group

    def _gain_db(self, peak: np.ndarray) -> np.ndarray | None:
        """Gain (dB, <= 0) for the samples leaving now, from the true peaks of the samples arriving; None when it
        is 0 dB throughout. The compiled path runs the same steps one sample at a time (``_compiled.c``'s
        ``limiter_gain``), where the numpy path evaluates the release on its grid of absolute positions."""
        if self._compiled:
            if self._v == 0.0 and max(peak.max(), self._held.max()) <= self._ceiling and not self._averaged.any():
                self._held = np.concatenate([self._held, peak])[len(peak):]
                return None
            gain = np.empty(len(peak))
            self._v, reduced = COMPILED.limiter_gain(np.ascontiguousarray(peak, dtype=np.float64), self._held,
                                                     self._averaged, gain, self._ceiling,
                                                     float(self._release_coefficient), MIN_REDUCTION_DB,
                                                     _FIXED_POINT, self._v)
            return gain if reduced else None
        n, size = len(peak), self.hold + 1
        held = np.concatenate([self._held, peak])
        self._held = held[n:]
        log_u = None
        if held.max() > self._ceiling:
            held = sliding_max(held, size)  # max over [i - hold, i]
            over = held > self._ceiling
            log_u = np.full(n, -np.inf)
            log_u[over] = np.log(20.0 * np.log10(held[over] / self._ceiling))
        if log_u is None and self._log_v == self._running == -np.inf:
            self._position += n  # nothing to release
            v = None
        else:
            v = np.exp(self._release(np.full(n, -np.inf) if log_u is None else log_u))
            v[v < MIN_REDUCTION_DB] = 0.0
        if v is None or not v.any():
            if not self._averaged.any():
                return None
            v = np.zeros(n)
        reduction = np.concatenate([self._averaged, np.ceil(v * _FIXED_POINT).astype(np.int64)])
        self._averaged = reduction[n:]
        total = np.cumsum(reduction)
        window = self.lookahead + 1
        total[window:] -= total[:-window]  # int64 wraps around on long streams; window sums stay exact
        return total[window - 1:] * (-1.0 / (window * _FIXED_POINT))

    def _release(self, log_u: np.ndarray) -> np.ndarray:
        """``log v`` of ``v[n] = max(u[n], aR v[n-1])`` from ``log u``: per chunk of the absolute grid,
        ``log v[i] = max(log v[-1] + (i + 1) log aR, i log aR + max_{k <= i} (log u[k] - k log aR))``. A state
        that has decayed below ``MIN_REDUCTION_DB`` is dropped (it can never rise above it again, so the
        thresholded result is the same)."""
        out = np.empty_like(log_u)
        lam, done = self._log_release, 0
        while done < len(log_u):
            start = self._position % _CHUNK
            take = min(_CHUNK - start, len(log_u) - done)
            i = np.arange(start, start + take, dtype=np.float64)
            running = np.maximum(np.maximum.accumulate(log_u[done:done + take] - i * lam), self._running)
            out[done:done + take] = np.maximum(self._log_v + (i + 1.0) * lam, i * lam + running)
            self._running = float(running[-1])
            self._position += take
            done += take
            if self._position % _CHUNK == 0:
                self._log_v, self._running = float(out[done - 1]), -np.inf
        at = self._position % _CHUNK  # the state now, with a margin far above rounding
        now = self._log_v if at == 0 else max(self._log_v + at * lam, (at - 1.0) * lam + self._running)
        if now < _LOG_MIN_REDUCTION - 1e-6:
            self._log_v = self._running = -np.inf
        return out


def true_peak_limit(audio, sample_rate: float, **options) -> np.ndarray:
    """Offline :class:`TruePeakLimiter` (``options``: its keyword arguments): the limited audio, sample-aligned
    with ``audio`` (the look-ahead delay removed), same shape and dtype. Raises as the class does."""
    frames, was_1d = as_frames(audio)
    limiter = TruePeakLimiter(sample_rate, frames.shape[1], **options)
    out = np.concatenate([limiter.process(frames), limiter.flush().astype(frames.dtype)])
    return restore(out[limiter.latency:], was_1d)
