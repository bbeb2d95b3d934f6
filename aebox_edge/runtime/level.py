"""The level stage that ends the chain: the output's loudness matched to the reference's (ITU-R BS.1770,
``ddsp_kernels.loudness``), after the network's EQ + compressor, with the gain capped (``MAX_BOOST_DB`` /
``MAX_CUT_DB``) and silence never raised.

- Files: the chain's output is metered while it is rendered into an unnamed temporary file (float32, W64, deleted
  by the OS whatever happens), its integrated loudness gives one gain, and the second pass scales it into the
  output. Memory stays flat; the extra cost is one write and read of float32 audio. For integer outputs the gain is
  also limited so that the sample peak stays at ``PEAK_CEILING_DB`` (no hard clipping; not a true-peak limiter).
- Live: :class:`RunningLevel` meters the chain's output, and its gain follows the gated loudness of the last
  ``window_s`` seconds (BS.1770 gating) at no more than ``slew_db_per_s``, ramped per sample within each block (no
  zipper noise); while the last 100 ms are below the absolute gate (a pause, silence) the gain holds.
"""

from __future__ import annotations

import tempfile
from typing import Iterable, Iterator

import numpy as np

from ddsp_kernels.loudness import ABSOLUTE_GATE_LUFS, LoudnessMeter, integrated_loudness, match_gain_db

# integer outputs (PCM) would hard-clip: for them the file gain is also limited so that the sample peak stays at
# -1 dBFS (a gain cut, never a distortion; the loudness then ends below the reference's, reported in the summary)
PEAK_CEILING_DB = -1.0
LIVE_WINDOW_S = 10.0
LIVE_SLEW_DB_PER_S = 3.0


def gain_for(audio, sample_rate: float, reference_lufs: float) -> float:
    """The level stage's gain in dB for a whole in-memory output ``audio``."""
    return match_gain_db(integrated_loudness(audio, sample_rate), reference_lufs)


def level_matched(blocks: Iterable[np.ndarray], sample_rate: float, channels: int, reference_lufs: float,
                  block_frames: int, summary: dict | None = None, peak_ceiling_db: float | None = None
                  ) -> Iterator[np.ndarray]:
    """The blocks of a rendered file scaled by the level stage's gain (two passes through a temporary file), the
    gain lowered where needed so that the sample peak stays at ``peak_ceiling_db`` (None: no ceiling, for float
    outputs); ``summary`` (if given) receives ``output_lufs_before``, ``level_gain_db`` and ``level_peak_limited``."""
    import soundfile as sf

    meter, peak = LoudnessMeter(sample_rate, channels), 0.0
    with tempfile.TemporaryFile() as fh:
        with sf.SoundFile(fh, "w", int(sample_rate), channels, "FLOAT", format="W64", closefd=False) as tmp:
            for block in blocks:
                meter.process(block)
                peak = max(peak, float(np.max(np.abs(block), initial=0.0)))
                tmp.write(block)
        loudness = meter.integrated()
        gain_db = match_gain_db(loudness, reference_lufs)
        limited = peak_ceiling_db is not None and peak > 0 and gain_db > peak_ceiling_db - 20.0 * np.log10(peak)
        if limited:
            gain_db = peak_ceiling_db - 20.0 * np.log10(peak)
        if summary is not None:
            summary.update(output_lufs_before=round(loudness, 2), level_gain_db=round(gain_db, 2),
                           level_peak_limited=bool(limited))
        gain = np.float32(10.0 ** (gain_db / 20.0))
        fh.seek(0)
        with sf.SoundFile(fh, "r", closefd=False) as tmp:
            for block in tmp.blocks(block_frames, dtype="float32", always_2d=True):
                yield block * gain


class RunningLevel:
    """Live level stage: ``process(block)`` meters the (chain-output) block and returns it scaled by a gain that
    slews toward ``match_gain_db(gated loudness of the last window_s, reference_lufs)``."""

    def __init__(self, sample_rate: float, channels: int, reference_lufs: float, *,
                 window_s: float = LIVE_WINDOW_S, slew_db_per_s: float = LIVE_SLEW_DB_PER_S):
        self.sample_rate = float(sample_rate)
        self.reference_lufs = float(reference_lufs)
        self._meter = LoudnessMeter(sample_rate, channels)
        self.window_s = float(window_s)
        self._slew_db_per_frame = slew_db_per_s / self.sample_rate
        self.gain_db = 0.0
        self._target_db, self._target_steps = 0.0, -1

    def target_db(self) -> float:
        """The gain the stage moves toward now: the current gain while the last 100 ms are below the absolute gate
        (a pause or silence holds it; 0 dB until 400 ms of sound were metered)."""
        if not self._meter.momentary(0.1) > ABSOLUTE_GATE_LUFS:
            return self.gain_db
        loudness = self._meter.recent(self.window_s)
        return self.gain_db if not np.isfinite(loudness) else match_gain_db(loudness, self.reference_lufs)

    def process(self, block: np.ndarray) -> np.ndarray:
        self._meter.process(block)
        if self._meter.steps != self._target_steps:  # the readings move once per 100 ms, not per block
            self._target_db, self._target_steps = self.target_db(), self._meter.steps
        n = len(block)
        step = float(np.clip(self._target_db - self.gain_db, -self._slew_db_per_frame * n,
                             self._slew_db_per_frame * n))
        if step == 0.0:
            return (block * np.float32(10.0 ** (self.gain_db / 20.0))).astype(block.dtype, copy=False)
        ramp_db = self.gain_db + step * np.arange(1, n + 1, dtype=np.float64) / max(n, 1)
        self.gain_db += step
        return (block * (10.0 ** (ramp_db / 20.0))[:, None]).astype(block.dtype, copy=False)
