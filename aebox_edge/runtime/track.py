"""Sliding analysis windows and the parameter track.

Windows of ``front_end.window_samples`` at the analysis rate (2.5 s) every ``hop_s`` seconds over the whole input;
the last window is aligned to the end of the input, and an input shorter than one window is analysed once. The
network's normalized outputs per window are smoothed over time with a Gaussian (zero-phase, sigma ``smoothing_s``)
and interpolated linearly between window centres.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterable, Iterator

import numpy as np

from ddsp_kernels import PARAM_SPEC
from ddsp_kernels.signal import mono

from ..errors import InputError
from ..io.resample import Resampler

@dataclasses.dataclass
class ParamTrack:
    """The analysis of a signal: window centre times (s), the network's normalized outputs and their smoothed
    track, both (windows, 24). ``reference`` describes the reference window that was used."""

    times_s: np.ndarray
    raw: np.ndarray
    smoothed: np.ndarray
    reference: dict

    def at(self, t_s: float) -> np.ndarray:
        """Normalized parameters at time ``t_s``: linear between window centres, held beyond the first and last."""
        t = np.asarray(self.times_s, dtype=np.float64)
        i = int(np.clip(np.searchsorted(t, t_s), 1, max(len(t) - 1, 1)))
        if len(t) == 1 or t_s <= t[0]:
            return np.array(self.smoothed[0], dtype=np.float32)
        if t_s >= t[-1]:
            return np.array(self.smoothed[-1], dtype=np.float32)
        w = (t_s - t[i - 1]) / (t[i] - t[i - 1])
        return ((1.0 - w) * self.smoothed[i - 1] + w * self.smoothed[i]).astype(np.float32)

    def to_json(self) -> dict:
        """JSON-able: times, ``params`` (smoothed, physical, name -> list per window), ``raw_normalized`` and
        ``reference_window``."""
        physical = PARAM_SPEC.to_physical(self.smoothed)
        return {
            "times_s": [round(float(t), 6) for t in self.times_s],
            "params": {name: [float(v) for v in np.atleast_1d(physical[name])] for name in PARAM_SPEC.names},
            "raw_normalized": self.raw.astype(float).round(6).tolist(),
            "reference_window": self.reference,
        }


def smooth_track(times_s: np.ndarray, values: np.ndarray, sigma_s: float) -> np.ndarray:
    """Gaussian smoothing (zero-phase, normalized weights, truncated at 3 sigma) of ``values`` (n, k) sampled at
    the increasing ``times_s``; ``sigma_s <= 0`` returns a copy."""
    values = np.asarray(values, dtype=np.float64)
    if sigma_s <= 0 or len(values) < 2:
        return values.astype(np.float32)
    lo = np.searchsorted(times_s, times_s - 3 * sigma_s, side="left")
    hi = np.searchsorted(times_s, times_s + 3 * sigma_s, side="right")
    out = np.empty_like(values)
    for i in range(len(values)):
        w = np.exp(-0.5 * ((times_s[lo[i]:hi[i]] - times_s[i]) / sigma_s) ** 2)
        out[i] = w @ values[lo[i]:hi[i]] / w.sum()
    return out.astype(np.float32)


def array_blocks(x: np.ndarray, block_frames: int, overlap: int = 0) -> Iterator[np.ndarray]:
    """Blocks of an in-memory (frames, channels) array exactly as ``audio.BlockReader`` yields those of a file."""
    step = block_frames - overlap
    start = 0
    while start == 0 or start - step + block_frames < len(x):
        yield x[start:start + block_frames]
        start += step


def analysis_windows(blocks: Iterable[np.ndarray], sample_rate: int, analysis_rate: int, window: int, hop: int,
                     on_block: Callable[[np.ndarray], None] | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """(start, window) at the analysis rate of a signal given as consecutive (frames, channels) blocks at its own
    rate: the blocks are mixed to mono and resampled once, as one stream (``io.resample.Resampler``), and cut into
    windows of ``window`` samples every ``hop``, the last one aligned to the end of the stream; a stream shorter than
    one window gives one short window. ``on_block(block)`` sees every block before its windows. Memory: one window
    and one block."""
    resampler = Resampler(sample_rate, analysis_rate) if sample_rate != analysis_rate else None
    buffer, offset, next_start, last_end = np.zeros(0, np.float32), 0, 0, 0

    def add(mixed):
        """Append ``mixed`` to the buffer and yield the windows it completes."""
        nonlocal buffer, next_start, last_end
        buffer = np.concatenate([buffer, mixed]) if len(buffer) else mixed
        while next_start + window <= offset + len(buffer):
            yield next_start, buffer[next_start - offset:next_start - offset + window]
            last_end, next_start = next_start + window, next_start + hop

    for block in blocks:
        if on_block is not None:
            on_block(block)
        mixed = mono(np.asarray(block, dtype=np.float32))
        yield from add(resampler.process(mixed) if resampler is not None else mixed)
        keep = max(0, min(next_start, offset + len(buffer) - window) - offset)  # the last window's worth
        buffer, offset = buffer[keep:], offset + keep
    if resampler is not None:
        yield from add(resampler.flush())
    end = offset + len(buffer)
    if end < window:
        yield 0, buffer
    elif last_end < end:
        yield end - window, buffer[len(buffer) - window:]


def check_hop(hop_s: float, window_s: float) -> None:
    """Refuse (``InputError``) an analysis hop outside (0, window]."""
    if not 0 < hop_s <= window_s:
        raise InputError(f"hop must be in (0, {window_s:g}] seconds (the analysis window), got {hop_s:g}")
