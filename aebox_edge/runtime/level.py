"""The level stage that ends the chain: the output's loudness matched to the reference's (ITU-R BS.1770,
``ddsp_kernels.loudness``), after the network's EQ + compressor, with the total gain capped and silence never
raised, then the true-peak limiter (``ddsp_kernels.limiter``, ceiling ``CEILING_DBTP`` = -1 dBTP), so that no output
clips, whatever its format or subtype.

- Loudness is that of the *downmix* (:func:`level_meter`: BS.1770 of the mean of the channels, floored), as the
  paper's metrics and Matchering measure a stereo signal. A phone
  records mono: its file is mono or dual mono, the reference is a wide stereo mix. BS.1770's channel sum reads
  dual mono 3 dB louder than the same audio as a mono file and decorrelated stereo 6 dB above its downmix, so
  matched by it a dual-mono output played (or mixed) to one channel is up to 3 dB louder than the reference; by
  the downmix both read alike. On the 119 excerpts of training songs (``eval --excerpts``' tuning set, 40 % of
  them mono recordings) the channel sum gave MSD / SCE / RMS / LUFS 12.39 / 746 / 5.18 / 1.81, the downmix
  11.90 / 746 / 4.60 / 1.57. A reading is at least ``DOWNMIX_FLOOR_DB`` (10 dB) below what uncorrelated channels
  of the same power read, so that a recording with one channel inverted, whose downmix is near-silent, is not
  raised to the peak limit; nothing less than a 90 % cancellation hits it (a floor at the uncorrelated reading
  itself gave 12.07 / 746 / 4.83 / 1.66 there: game and MIDI mixes with out-of-phase effects read louder than
  their downmix sounds).
- Gain: ``match_gain_db`` of the output's loudness to the reference's, limited to ``MAX_BOOST_DB`` over the
  *input's* loudness in all (EQ and compressor included: a -65 dBFS input is raised by 40 dB at most) and to
  ``MAX_CUT_DB``; 0 dB for an input below the absolute gate (-70 LUFS: near-silence is left as it is). The
  output's loudness is read as the output will be delivered (``loudness.delivered_loudness``): the absolute gate
  applies after the gain, not at the level the EQ left the chain's output at (an EQ that cuts the mid bands by 20 dB
  can leave it near -70 LUFS, where the gate drops its quieter blocks; one gain from that reading left such an
  output 2.2 LU below the reference, and one wholly below the gate there read as silence and was not raised). A
  first stage keeps the limiter to transients: the gain is lowered so that the output's *peak* (:func:`level_peak`:
  the 99.9th percentile of its 10 ms frames' sample peaks, so that a single thump or click, which a phone records
  often and an EQ boost makes louder, cannot lower a whole song's level) is at most ``MAX_LIMITING_DB`` above the
  ceiling (12 dB: a mastered reference is itself limited by about that much, and a phone recording brought to its
  loudness needs as much; at 6 dB, on 80 excerpts of training songs, the outputs ended 0.6 LU further from the
  target than at 12 dB; beyond it a limiter audibly flattens the attacks; the output then ends below the
  reference's loudness, ``level_peak_limited`` in the summary). The loudest sample peak instead of the percentile
  lowered the gain on 30 of 240 excerpts of training songs (the 80 of the tuning set and 160 of the head's
  training set, through ``Enhancer.process``), the percentile on 3: on the other 27 fewer than 0.1 % of the frames
  had set the gain. The percentile gave MSD / RMS / LUFS 15.23 / 6.72 / 2.38 against 15.63 / 7.25 / 2.60 (SCE
  alike), better in LUFS on 22 of the 30 and worse on 8 (among them the two excerpts whose target is 8-17 LU
  quieter than the reference, where the loudness match itself misses by as much).
- Files: the chain's output is metered while it is rendered into a spool (``io.spool``: raw float32 frames in an
  unnamed temporary file), its integrated loudness and frame peaks (one value per 10 ms: 0.5 MB for 20 minutes) give
  one gain, and the second pass scales it through the limiter into the output, the limiter's delay removed
  (sample-aligned with the input). Memory stays flat; the extra cost is one write and read of float32 audio (0.07 s
  for a 4-minute stereo song, in the page cache) and the limiter. Holding the output in memory instead would save
  about that much, but a bound that keeps a 20-minute run under 150 MB (64 MB) does not hold a 4-minute stereo song
  (85 MB of float32), so the file stays.
- The input's meter serves only the total-gain cap, which binds only when the input is more than ``MAX_BOOST_DB``
  below the reference. ``run`` meters the input (0.3 s of a 4-minute stereo song) only when
  :func:`input_meter_needed` says that the cap may bind: an estimate of the input's loudness from the long-term
  spectrum that the analysis measured anyway (``BandLevels.k_weighted_mean_square``: ungated and unfloored, so
  at most as loud as the meter's gated, floored reading, give or take the edges of the 400 ms blocks and the
  Hann frames' weighting, a few dB), less ``CAP_MARGIN_DB``, is within the cap and above the absolute gate.
  Otherwise (a phone recording more than 30 dB below its reference, near-silence) the input is metered and
  capped exactly as before; where it is skipped the cap cannot bind, so the output is the same.
- Live: :class:`RunningLevel` meters the chain's input and output, and its gain follows the gated loudness of the
  last ``window_s`` seconds (BS.1770 gating) at no more than ``slew_db_per_s``, ramped per sample within each block
  (no zipper noise); while the chain's input was below the absolute gate for the last 100 ms (a pause, silence)
  the gain holds. The peak stage uses the peak (:func:`level_peak`) of the last ``window_s``; the limiter delays
  the output by its look-ahead (``latency`` frames, 5.25 ms at 48 kHz), reported as ``limiter_latency_ms``.
"""

from __future__ import annotations

from collections import deque
from typing import Iterable, Iterator

import numpy as np

from ddsp_kernels.limiter import CEILING_DBTP, TruePeakLimiter, true_peak_limit
from ddsp_kernels.loudness import (ABSOLUTE_GATE_LUFS, MAX_BOOST_DB, LoudnessMeter, delivered_loudness,
                                   integrated_loudness, match_gain_db, mean_square_lufs)
from ddsp_kernels.match import BandLevels

from ..io.spool import Spool

MAX_LIMITING_DB = 12.0
PEAK_FRAME_S = 0.01  # the peak stage's frames
PEAK_PERCENTILE = 99.9  # the percentile of the frames' sample peaks that the peak stage keeps within its limit
CAP_MARGIN_DB = 10.0  # how far the input's estimated loudness may read above its meter's (input_meter_needed)
LIVE_WINDOW_S = 10.0
LIVE_SLEW_DB_PER_S = 3.0


def frame_peaks(audio: np.ndarray, sample_rate: float) -> np.ndarray:
    """The sample peak (linear, all channels) of each ``PEAK_FRAME_S`` frame of ``audio`` (samples,) or (samples,
    channels), the last frame possibly shorter (frames do not straddle the blocks of a stream); float32."""
    a = np.asarray(audio, dtype=np.float32)
    a = a[:, None] if a.ndim == 1 else a
    n = max(1, round(PEAK_FRAME_S * sample_rate))
    whole = len(a) // n * n
    frames = a[:whole].reshape(-1, n * a.shape[1])  # a frame's samples of every channel in one row
    peaks = np.maximum(frames.max(axis=1), -frames.min(axis=1))
    return np.append(peaks, np.abs(a[whole:]).max()) if whole < len(a) else peaks


def robust_peak(peaks: np.ndarray) -> float:
    """The peak the peak stage keeps within its limit: ``PEAK_PERCENTILE`` of frame peaks (:func:`frame_peaks`);
    0 for none."""
    return float(np.percentile(peaks, PEAK_PERCENTILE, method="lower")) if len(peaks) else 0.0


def level_peak(audio: np.ndarray, sample_rate: float) -> float:
    """The peak (linear) of a whole signal that the peak stage keeps within its limit (:func:`robust_peak`)."""
    return robust_peak(frame_peaks(audio, sample_rate))


def peak_gain_limit_db(peak: float) -> float:
    """The most gain (dB) the peak stage allows a signal whose peak (:func:`level_peak`) is ``peak`` (linear): it
    then ends ``MAX_LIMITING_DB`` above the ceiling; ``inf`` for silence."""
    return CEILING_DBTP + MAX_LIMITING_DB - 20.0 * np.log10(peak) if peak > 0 else np.inf


def _peak_limited_gain_db(gain_db: float, peak: float) -> tuple[float, bool]:
    """``gain_db`` lowered to :func:`peak_gain_limit_db` of a peak ``peak`` (linear), and whether it was."""
    most = peak_gain_limit_db(peak)
    return (float(most), True) if gain_db > most else (gain_db, False)


def level_meter(sample_rate: float, channels: int) -> LoudnessMeter:
    """A meter of the loudness the level stage matches: the downmix's, floored (``LoudnessMeter(...,
    downmix=True, floored=True)``)."""
    return LoudnessMeter(sample_rate, channels, downmix=True, floored=True)


def input_meter_needed(levels: BandLevels, reference_lufs: float) -> bool:
    """Whether the total-gain cap may bind for an input whose long-term spectrum is ``levels`` (at its own rate,
    all of it), so that the level stage needs its metered loudness: False when the input lasts at least a second
    and its estimated K-weighted loudness less ``CAP_MARGIN_DB`` is at least ``reference_lufs - MAX_BOOST_DB`` and
    above the absolute gate."""
    if levels.samples < levels.sample_rate:
        return True
    estimate = float(mean_square_lufs(levels.k_weighted_mean_square())) - CAP_MARGIN_DB
    return not estimate >= max(reference_lufs - MAX_BOOST_DB, ABSOLUTE_GATE_LUFS)


def level_loudness(audio, sample_rate: float) -> float:
    """The loudness the level stage matches (LUFS, :func:`level_meter`) of a whole signal (samples,) or
    (samples, channels)."""
    return integrated_loudness(audio, sample_rate, downmix=True, floored=True)


def level_gains_db(audio, sample_rate: float, reference_lufs: float, input_lufs: float | None = None
                   ) -> tuple[float, float]:
    """The level stage's two gains (dB) for an in-memory chain output ``audio`` (samples,) or (samples,
    channels): the loudness-matching gain (capped over ``input_lufs``, the chain input's loudness, when given) and
    the most the peak stage allows (:func:`peak_gain_limit_db` of its :func:`level_peak`); the stage applies the
    lower."""
    x = np.asarray(audio)
    meter = level_meter(sample_rate, 1 if x.ndim == 1 else x.shape[1])
    meter.process(np.asarray(x, dtype=np.float64))  # as level_loudness meters it
    return (match_gain_db(delivered_loudness(meter.integrated, reference_lufs), reference_lufs, input_lufs=input_lufs),
            peak_gain_limit_db(level_peak(x, sample_rate)))


def level_stage(audio, sample_rate: float, reference_lufs: float, input_lufs: float | None = None) -> np.ndarray:
    """The whole level stage on an in-memory chain output ``audio`` (samples,) or (samples, channels): the lower of
    its gains (:func:`level_gains_db`) then the limiter, sample-aligned; same shape and dtype."""
    x = np.asarray(audio)
    gain_db = min(level_gains_db(x, sample_rate, reference_lufs, input_lufs))
    return true_peak_limit(x * x.dtype.type(10.0 ** (gain_db / 20.0)), sample_rate)


def metered(blocks: Iterable[np.ndarray], meter: LoudnessMeter) -> Iterator[np.ndarray]:
    """``blocks`` unchanged, each one processed by ``meter`` on the way (the chain's input for ``level_matched``)."""
    for block in blocks:
        meter.process(block)
        yield block


def level_matched(blocks: Iterable[np.ndarray], sample_rate: float, channels: int, reference_lufs: float,
                  block_frames: int, summary: dict | None = None, input_meter: LoudnessMeter | None = None,
                  uncapped: bool = False) -> Iterator[np.ndarray]:
    """The blocks of a rendered file through the level stage (two passes through a temporary file): scaled by one
    gain, then limited, with the limiter's delay removed (as many frames out as in). ``input_meter``, if given, is
    a meter that has seen the chain's whole input once the blocks are exhausted (the gain cap is then on the total
    gain); ``uncapped`` says instead that the caller found that cap unable to bind (:func:`input_meter_needed`
    False), so the gain has no boost limit; with neither, the boost over the chain's *output* is limited to
    ``MAX_BOOST_DB``. ``summary`` (if given) receives ``output_lufs_before`` (None for a reading below the
    absolute gate: JSON has no infinity), ``level_gain_db``, ``level_peak_limited`` and, once the output is
    consumed, ``limiter_max_reduction_db``. Raises ValueError for both ``input_meter`` and ``uncapped``."""
    if uncapped and input_meter is not None:
        raise ValueError("level_matched: uncapped and input_meter exclude each other")
    meter, peaks = level_meter(sample_rate, channels), []
    with Spool(channels) as spool:
        for block in blocks:
            meter.process(block)
            if len(block):
                peaks.append(frame_peaks(block, sample_rate))
            spool.write(block)
        loudness = meter.integrated()
        input_lufs = None if input_meter is None else input_meter.integrated()
        match = match_gain_db(delivered_loudness(meter.integrated, reference_lufs), reference_lufs,
                              max_boost_db=np.inf if uncapped else MAX_BOOST_DB, input_lufs=input_lufs)
        gain_db, limited = _peak_limited_gain_db(match, robust_peak(np.concatenate(peaks) if peaks else np.zeros(0)))
        if summary is not None:
            summary.update(output_lufs_before=round(loudness, 2) if np.isfinite(loudness) else None,
                           level_gain_db=round(gain_db, 2),
                           level_peak_limited=limited)
        gain = np.float32(10.0 ** (gain_db / 20.0))
        limiter = TruePeakLimiter(sample_rate, channels)
        skip = limiter.latency  # the limiter's delay: its first output frames precede the input
        for block in spool.blocks(block_frames):
            block *= gain
            out = limiter.process(block)
            if skip:
                out, skip = out[skip:], max(0, skip - len(out))
            if len(out):
                yield out
        tail = limiter.flush().astype(np.float32)[skip:]
        if len(tail):
            yield tail
        if summary is not None:
            summary.update(limiter_max_reduction_db=round(limiter.max_reduction_db, 2))


class RunningLevel:
    """Live level stage: ``process(block, input_block)`` meters the chain's output ``block`` and its input, and
    returns the block scaled by a gain that slews toward ``match_gain_db`` of the gated loudness of the last
    ``window_s`` (total gain capped over the input's), lowered by the sample-peak stage, then limited: the output is
    delayed by ``latency`` frames."""

    def __init__(self, sample_rate: float, channels: int, reference_lufs: float, *,
                 window_s: float = LIVE_WINDOW_S, slew_db_per_s: float = LIVE_SLEW_DB_PER_S):
        self.sample_rate = float(sample_rate)
        self.reference_lufs = float(reference_lufs)
        self._meter = level_meter(sample_rate, channels)
        self._input = level_meter(sample_rate, channels)
        self._limiter = TruePeakLimiter(sample_rate, channels)
        self.latency = self._limiter.latency
        self.window_s = float(window_s)
        self._peaks: deque[tuple[int, np.ndarray]] = deque()  # (frames, frame peaks) of the last window's blocks
        self._peak_frames = 0
        self._slew_db_per_frame = slew_db_per_s / self.sample_rate
        self.gain_db = 0.0
        self._target_db, self._target_steps = 0.0, -1

    def target_db(self) -> float:
        """The gain the stage moves toward now: the current gain while the chain's input was below the absolute
        gate for the last 100 ms (a pause or silence holds it; judged on the recording, not on the chain's output,
        which an EQ cut can leave below the gate at its own level; 0 dB until 400 ms of sound were metered)."""
        if not self._input.momentary(0.1) > ABSOLUTE_GATE_LUFS:
            return self.gain_db
        loudness = delivered_loudness(lambda gain_db: self._meter.recent(self.window_s, gain_db), self.reference_lufs)
        if not np.isfinite(loudness):
            return self.gain_db
        gain_db = match_gain_db(loudness, self.reference_lufs, input_lufs=self._input.recent(self.window_s))
        return _peak_limited_gain_db(gain_db, robust_peak(np.concatenate([p for _, p in self._peaks])))[0]

    def _track_peak(self, block: np.ndarray) -> None:
        self._peaks.append((len(block), frame_peaks(block, self.sample_rate)))
        self._peak_frames += len(block)
        while self._peak_frames - self._peaks[0][0] >= self.window_s * self.sample_rate:
            self._peak_frames -= self._peaks.popleft()[0]

    def process(self, block: np.ndarray, input_block: np.ndarray) -> np.ndarray:
        self._meter.process(block)
        self._input.process(input_block)
        self._track_peak(block)
        if self._meter.steps != self._target_steps:  # the readings move once per 100 ms, not per block
            self._target_db, self._target_steps = self.target_db(), self._meter.steps
        n = len(block)
        step = float(np.clip(self._target_db - self.gain_db, -self._slew_db_per_frame * n,
                             self._slew_db_per_frame * n))
        if step == 0.0:
            scaled = block * np.float32(10.0 ** (self.gain_db / 20.0))
        else:
            ramp_db = self.gain_db + step * np.arange(1, n + 1, dtype=np.float64) / max(n, 1)
            self.gain_db += step
            scaled = block * (10.0 ** (ramp_db / 20.0))[:, None]
        return self._limiter.process(scaled).astype(block.dtype, copy=False)
