"""Loudness per ITU-R BS.1770-4: K-weighting at any sample rate, gated integrated loudness, a streaming meter
and the level stage that ends the chain (the output's loudness matched to the reference's, with a capped gain).

K-weighting is the standard's two biquads (a high shelf of about +4 dB above 1.5 kHz, then a 38 Hz high-pass),
re-derived for any rate from their analog prototypes by the bilinear transform with pre-warping (the 48 kHz
coefficients of BS.1770-4 Table 1 are reproduced to 1e-8). Loudness is ``-0.691 + 10 log10(sum_c G_c z_c)`` of the
mean squares ``z_c`` of 400 ms blocks overlapping by 75 %; the integrated loudness keeps the blocks above the
absolute gate (-70 LUFS) and then those within 10 LU of their mean (the relative gate). Channel weights are 1
(mono, stereo; surround weights are not used: more than two channels are weighted alike). The absolute gate is a
level as delivered: a reading can be taken as after a gain (``gain_db``), and the level stage's gain is the one
that brings the signal's reading *at its delivered level* to the target (:func:`delivered_loudness`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .iir import BlockFilter

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
BLOCK_S = 0.4
STEP_S = 0.1
SHORT_TERM_S = 3.0
# level stage: the largest boost and cut the final gain may apply. A phone recording can be 30 dB too quiet
# (the recording gain of our degradations spans -30..0 dB), so the cap admits that, with 10 dB to spare; beyond it
# a quiet input is more likely noise than music, and raising it further would raise its noise floor with it. Given
# the input's loudness, the boost cap applies to the total: output over input, EQ + compressor + level gain.
MAX_BOOST_DB = 40.0
MAX_CUT_DB = 30.0
# a floored downmix reading is at least this far below what uncorrelated channels of the same power read: only
# channels that cancel by more than 90 % in the downmix (one of them inverted) hit it
DOWNMIX_FLOOR_DB = -10.0
MAX_GATE_STEPS = 16  # delivered_loudness: at most this many re-readings (two or three in practice)
ALL_BLOCKS_DB = 300.0  # delivered_loudness: a gain that brings every block that is not digital silence over the gate

# BS.1770-4 pre-filter (shelf) and RLB high-pass as analog prototypes (f0, gain, Q), fitted to Table 1 at 48 kHz
_SHELF_F0, _SHELF_GAIN_DB, _SHELF_Q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
_HP_F0, _HP_Q = 38.13547087602444, 0.5003270373238773


def k_weighting_sos(sample_rate: float) -> np.ndarray:
    """The K-weighting filter as two second-order sections ``[b0, b1, b2, 1, a1, a2]`` at ``sample_rate`` Hz."""
    k = np.tan(np.pi * _SHELF_F0 / sample_rate)
    vh = 10.0 ** (_SHELF_GAIN_DB / 20.0)
    vb = vh ** 0.4996667741545416
    a0 = 1.0 + k / _SHELF_Q + k * k
    shelf = [(vh + vb * k / _SHELF_Q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / _SHELF_Q + k * k) / a0,
             1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / _SHELF_Q + k * k) / a0]
    k = np.tan(np.pi * _HP_F0 / sample_rate)
    a0 = 1.0 + k / _HP_Q + k * k
    high_pass = [1.0, -2.0, 1.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / _HP_Q + k * k) / a0]
    return np.array([shelf, high_pass])


def mean_square_lufs(mean_square):
    """``-0.691 + 10 log10(mean_square)``: BS.1770's loudness of a (K-weighted, channel-summed) mean square."""
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(mean_square)


def gated_loudness(block_power: np.ndarray, gain_db: float = 0.0) -> float:
    """Integrated loudness (LUFS) from the channel-summed mean squares of 400 ms blocks, as the signal reads after a
    gain of ``gain_db`` dB (the absolute gate applies at that level); ``-inf`` when no block passes the absolute
    gate (silence)."""
    power = np.asarray(block_power, dtype=np.float64)
    power = power[mean_square_lufs(power) + gain_db > ABSOLUTE_GATE_LUFS]
    if power.size == 0:
        return float("-inf")
    relative_gate = mean_square_lufs(power.mean()) + RELATIVE_GATE_LU
    power = power[mean_square_lufs(power) > relative_gate]
    return float(mean_square_lufs(power.mean())) + gain_db


def delivered_loudness(read: Callable[[float], float], target_lufs: float, max_steps: int = MAX_GATE_STEPS
                       ) -> float:
    """The loudness (LUFS) that a signal brought to ``target_lufs`` by one gain is measured at, less that gain:
    ``target - g`` for the gain ``g`` with ``read(g) == target``, ``read(gain_db)`` being the signal's gated
    loudness after a gain (:meth:`LoudnessMeter.integrated` with ``gain_db``), so that the absolute gate applies
    at the level the signal is delivered at, as BS.1770 meters it there. A quiet signal (a chain's output that its
    EQ left near -70 LUFS) reads too loud at its own level, where the gate drops its quieter blocks, and one gain
    from that reading would leave it below the target once raised. Iterated from the reading at 0 dB (so where the
    gate keeps the same blocks at both levels, that reading itself), or, for a signal wholly below the gate at its
    own level, from the reading of all its blocks (after ``ALL_BLOCKS_DB``); the gain moves one way only, as the
    gate keeps more blocks the higher it is (fewer the lower), so it settles within a few steps, at most
    ``max_steps``. Digital silence reads ``-inf``; a ``-inf`` target returns the reading at 0 dB."""
    loudness = read(0.0)
    if not np.isfinite(target_lufs):
        return loudness
    if not np.isfinite(loudness):
        loudness = read(ALL_BLOCKS_DB) - ALL_BLOCKS_DB
        if not np.isfinite(loudness):
            return loudness
    for _ in range(max_steps):
        gain = target_lufs - loudness
        moved = read(gain) - gain
        if not np.isfinite(moved) or abs(moved - loudness) < 1e-9:
            break
        loudness = moved
    return loudness


class LoudnessMeter:
    """Streaming BS.1770 meter: ``process`` blocks of any size (samples,) or (samples, channels), then read
    :meth:`integrated` (gated, the whole stream so far), :meth:`recent` (gated, the last seconds),
    :meth:`short_term` (ungated, the last 3 s) or :meth:`momentary` (ungated, the last 400 ms).

    Memory grows by one float per 100 ms (27 kB an hour; two floats floored). A trailing part shorter than 100 ms is
    not counted.

    With ``downmix`` the readings are the loudness of the mono downmix (the mean of the channels, as the paper's
    metrics and Matchering measure a stereo signal; a mono file and the same audio as dual mono read alike); with
    ``floored`` as well, a reading is at least ``DOWNMIX_FLOOR_DB`` below what uncorrelated channels of the same
    power read (the channels' mean squares summed, over ``channels**2``: the channel sum minus 20 log10(channels)
    dB), so that channels in opposite phase read as quiet stereo, not as the near-silence of their downmix.
    Without ``downmix``, BS.1770's channel sum.

    Raises
    ------
    ValueError
        If ``sample_rate`` is not positive or a block's channel count changes.
    """

    def __init__(self, sample_rate: float, channels: int = 1, downmix: bool = False, floored: bool = False):
        if not sample_rate > 0:
            raise ValueError(f"sample rate must be positive, got {sample_rate}")
        self.sample_rate = float(sample_rate)
        self.channels = int(channels)
        self.downmix = bool(downmix)
        self.floored = bool(floored)
        self._filter = BlockFilter(k_weighting_sos(sample_rate))
        self._step = max(1, int(round(STEP_S * sample_rate)))
        self.reset()

    def reset(self) -> None:
        """Forget everything measured (filter state and blocks)."""
        self._zi = np.zeros((2, 2, self.channels))
        self._partial = 0.0
        self._partial_n = 0
        self._steps: list = []  # each 100 ms step's mean square: channel-summed, or downmix (and its floor)

    def process(self, block) -> None:
        """Meter ``block``. K-weighted by ``iir.BlockFilter`` (the pipelined cascade for float32 audio where it is
        built, else scipy's in float64, else the numpy path: float32 audio as float32, its state moving in float64,
        each 100 ms mean square within 1e-7 of float64's, the loudness within 1e-6 LU); the squares are summed per
        100 ms step in float64, as dot products of the downmix and of all the channels' samples."""
        x = np.asarray(block)
        x = x if x.dtype == np.float32 else x.astype(np.float64)
        x = x[:, None] if x.ndim == 1 else x
        if x.ndim != 2 or x.shape[1] != self.channels:
            raise ValueError(f"expected audio shaped (samples, {self.channels}), got {np.shape(block)}")
        if x.shape[0] == 0:
            return
        y, self._zi = self._filter.filter(x, self._zi)
        y = y.astype(np.float64, copy=False)  # (samples, channels)
        mix = None
        if self.downmix and self.channels > 1:
            mix = y[:, 0] + y[:, 1]
            for c in range(2, self.channels):
                mix += y[:, c]
        n = len(y)
        i = min(self._step - self._partial_n, n)  # the rest of the step begun in an earlier block
        self._add_partial(self._sums(y, mix, 0, i, 1)[0], i)
        full = (n - i) // self._step
        if full:
            sums = self._sums(y, mix, i, self._step, full) / self._step
            self._steps.extend(sums[:, 0] if sums.shape[1] == 1 else sums)
            i += full * self._step
        if i < n:
            self._add_partial(self._sums(y, mix, i, n - i, 1)[0], n - i)

    def _sums(self, y: np.ndarray, mix: np.ndarray | None, start: int, length: int, count: int) -> np.ndarray:
        """The per-sample readings summed over ``count`` consecutive runs of ``length`` samples from ``start``,
        (count, readings): the channel sum of the squares; or with a downmix, its square over ``channels**2`` and,
        floored, that channel sum over ``channels**2`` less ``DOWNMIX_FLOOR_DB``."""
        rows = y[start:start + count * length].reshape(count, length * self.channels)
        power = np.einsum("ij,ij->i", rows, rows)
        if mix is None:
            return power[:, None]
        scale = 1.0 / self.channels ** 2
        runs = mix[start:start + count * length].reshape(count, length)
        readings = [np.einsum("ij,ij->i", runs, runs) * scale]
        if self.floored:
            readings.append(power * (scale * 10.0 ** (DOWNMIX_FLOOR_DB / 10.0)))
        return np.stack(readings, axis=1)

    def _add_partial(self, part: np.ndarray, samples: int) -> None:
        """Add ``samples`` samples whose summed readings are ``part`` to the current step; close it when full."""
        if samples <= 0:
            return
        self._partial = self._partial + (part[0] if len(part) == 1 else part)
        self._partial_n += samples
        if self._partial_n == self._step:
            self._steps.append(self._partial / self._step)
            self._partial, self._partial_n = 0.0, 0

    def _reading(self, last: int | None, read) -> float:
        """``read`` of the last ``last`` steps (all with None); floored, the larger of the downmix's reading and
        its floor's."""
        steps = np.asarray(self._steps[-last:] if last else self._steps, dtype=np.float64)
        return read(steps) if steps.ndim == 1 else max(read(steps[:, 0]), read(steps[:, 1]))

    def _blocks(self, steps: np.ndarray, per_block: int) -> np.ndarray:
        if steps.size < per_block:
            return np.empty(0)
        csum = np.concatenate([[0.0], np.cumsum(steps)])
        return (csum[per_block:] - csum[:-per_block]) / per_block

    @property
    def steps(self) -> int:
        """100 ms steps measured so far (the readings change only when this does)."""
        return len(self._steps)

    def integrated(self, gain_db: float = 0.0) -> float:
        """Gated integrated loudness in LUFS of everything processed, as it reads after a gain of ``gain_db``
        (:func:`gated_loudness`); ``-inf`` for silence or under 400 ms."""
        per_block = int(round(BLOCK_S / STEP_S))
        return self._reading(None, lambda steps: gated_loudness(self._blocks(steps, per_block), gain_db))

    def recent(self, seconds: float, gain_db: float = 0.0) -> float:
        """Gated loudness (LUFS) of the last ``seconds`` (BS.1770 gating over that span; ``-inf`` if silent), as it
        reads after a gain of ``gain_db``."""
        per_block = int(round(BLOCK_S / STEP_S))
        return self._reading(max(1, int(round(seconds / STEP_S))),
                             lambda steps: gated_loudness(self._blocks(steps, per_block), gain_db))

    def momentary(self, seconds: float = BLOCK_S) -> float:
        """Ungated loudness (LUFS) of the last ``seconds`` (400 ms: BS.1770's momentary loudness; at least one
        100 ms step); ``-inf`` before that much was processed."""
        n = max(1, int(round(seconds / STEP_S)))
        return self._reading(n, lambda steps: float(mean_square_lufs(steps.mean())) if steps.size == n
                             else float("-inf"))

    def short_term(self) -> float:
        """Ungated loudness (LUFS) of the last 3 s (of all there is when shorter); ``-inf`` before 100 ms."""
        return self._reading(int(round(SHORT_TERM_S / STEP_S)), lambda steps: float(mean_square_lufs(steps.mean()))
                             if steps.size else float("-inf"))


def integrated_loudness(audio, sample_rate: float, downmix: bool = False, floored: bool = False) -> float:
    """BS.1770 integrated loudness (LUFS) of audio shaped (samples,) or (samples, channels) (of its downmix with
    ``downmix``, see :class:`LoudnessMeter`); ``-inf`` if silent."""
    x = np.asarray(audio, dtype=np.float64)
    meter = LoudnessMeter(sample_rate, 1 if x.ndim == 1 else x.shape[1], downmix, floored)
    meter.process(x)
    return meter.integrated()


def match_gain_db(loudness_lufs: float, target_lufs: float, max_boost_db: float = MAX_BOOST_DB,
                  max_cut_db: float = MAX_CUT_DB, input_lufs: float | None = None) -> float:
    """The level stage's gain: ``target - loudness`` in dB, limited to ``[-max_cut_db, +max_boost_db]``; 0 dB
    when either side is silent (``-inf``: below the absolute gate), so silence and near-silence are never raised.

    With ``input_lufs`` (the loudness of the chain's input; ``loudness_lufs`` is its output's) the boost is
    limited so that the *total* gain, ``loudness_lufs + gain - input_lufs`` (what the EQ and compressor added
    plus this gain), is at most ``max_boost_db`` (the cap then wins over ``max_cut_db``); 0 dB when the input is
    silent."""
    if not (np.isfinite(loudness_lufs) and np.isfinite(target_lufs)):
        return 0.0
    if input_lufs is not None:
        if not np.isfinite(input_lufs):
            return 0.0
        max_boost_db = max_boost_db - (loudness_lufs - input_lufs)
    return float(min(max(target_lufs - loudness_lufs, -max_cut_db), max_boost_db))
