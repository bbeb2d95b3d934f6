"""The effect chain EQ -> compressor, offline (``apply_chain``) and streaming (``StreamingChain``), set by the 24
physical parameters of ``PARAM_SPEC`` (name -> value). The mapping from those names to the kernels' own arguments
lives here only (``eq_bands``, ``compressor_args``)."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from .compressor import CompressorState, compress_frames
from .eq import eq_sos, sosfilt_state
from .iir import BlockFilter
from .signal import as_frames, restore
from .spec import BANDS, PARAM_SPEC

# largest change of any normalized parameter (PARAM_SPEC.to_normalized) that ``StreamingChain.set_params`` cross-fades
# from the old parameters' state without a warm-up (0.48 dB of EQ or makeup gain, 0.8 dB of threshold, 5 % of a Q);
# larger changes are warmed up first. The two ways are equal from 50 ms after a change on, and neither clicks
# (tests/kernels/test_chain.py).
DIRECT_STEP = 0.01


def _floats(params: Mapping) -> dict[str, float]:
    return {name: float(params[name]) for name in PARAM_SPEC.names}


def eq_bands(params: Mapping) -> list[tuple]:
    """The ``parametric_eq`` bands ``(kind, freq_hz, gain_db, q)`` of the chain's parameters, in ``BANDS`` order."""
    return [(band.kind, params[f"{band.name}_freq_hz"], params[f"{band.name}_gain_db"], params[f"{band.name}_q"])
            for band in BANDS]


def compressor_args(params: Mapping) -> dict:
    """The ``compressor`` keyword arguments of the chain's ``comp_*`` parameters."""
    return {"threshold_db": params["comp_threshold_db"], "ratio": params["comp_ratio"],
            "attack_ms": params["comp_attack_ms"], "release_ms": params["comp_release_ms"],
            "knee_db": params["comp_knee_db"], "makeup_db": params["comp_makeup_db"]}


def apply_chain(x, sample_rate: float, params: Mapping) -> np.ndarray:
    """6-band parametric EQ then compressor on audio shaped (samples,) or (samples, channels)."""
    frames, was_1d = as_frames(x)
    return restore(_Voice(sample_rate, params, frames.shape[1]).run(frames), was_1d)


class _Voice:
    """One parameter set with its carried state: EQ filter memory and compressor detector."""

    def __init__(self, sample_rate: float, params: Mapping, channels: int, zi=None, comp=None):
        self.sample_rate = sample_rate
        self.params = _floats(params)
        self.sos = eq_sos(sample_rate, eq_bands(self.params))
        self.eq = BlockFilter(self.sos)
        self.compressor = compressor_args(self.params)
        self.zi = np.zeros((self.sos.shape[0], 2, channels)) if zi is None else zi.copy()
        self.comp = CompressorState() if comp is None else comp.copy()

    def run(self, frames: np.ndarray) -> np.ndarray:
        y, self.zi = sosfilt_state(self.eq, frames, self.zi)
        return compress_frames(y, self.sample_rate, self.comp, **self.compressor)

    def successor(self, params: Mapping, history: np.ndarray | None) -> "_Voice":
        """A voice with new parameters, warmed up on the recent input ``history``: its filters start from rest
        and its detector from this voice's state, so at the switch its state is close to what it would be had it
        run all along (the EQ's transient modes, up to the high bands' ringing, have died out). Without
        ``history`` (a small change) it starts from this voice's filter memory and detector state."""
        if history is None:
            return _Voice(self.sample_rate, params, self.zi.shape[-1], zi=self.zi, comp=self.comp)
        voice = _Voice(self.sample_rate, params, self.zi.shape[-1], comp=self.comp)
        voice.run(history)
        return voice


class StreamingChain:
    """Block-by-block EQ -> compressor with carried state; equals ``apply_chain`` for constant parameters.

    ``set_params`` takes effect at the next block without clicks: the new parameters' output is cross-faded in over
    ``ramp_ms`` (raised cosine) against the old parameters' output. A small change (no normalized parameter moves by
    more than ``direct_step``) starts from the old parameters' filter memory and detector state, so only the
    ``ramp_ms`` of the fade are processed twice; a larger one is first warmed up on the last ``warmup_ms`` of input
    (``direct_step=0``: every change). A change that arrives during a fade starts with the first block after it.
    Raises ``ValueError`` for fewer than one channel.
    """

    def __init__(self, sample_rate: float, params: Mapping, channels: int = 1, ramp_ms: float = 20.0,
                 warmup_ms: float = 100.0, direct_step: float = DIRECT_STEP):
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        self.sample_rate = float(sample_rate)
        self.channels = channels
        self.direct_step = float(direct_step)
        self.ramp_samples = max(1, int(round(ramp_ms * 1e-3 * sample_rate)))
        self._history = np.zeros((max(1, int(round(warmup_ms * 1e-3 * sample_rate))), channels), np.float32)
        self._voice = _Voice(self.sample_rate, params, channels)
        self._normalized = PARAM_SPEC.to_normalized(self._voice.params)
        self._fading: _Voice | None = None  # the previous voice while a cross-fade runs
        self._fade_pos = 0
        self._pending: dict[str, float] | None = None

    @property
    def params(self) -> dict[str, float]:
        """The parameters the chain is moving to (or holds)."""
        return dict(self._pending or self._voice.params)

    def set_params(self, params: Mapping) -> None:
        if self._fading is not None:
            self._pending = _floats(params)
            return
        normalized = PARAM_SPEC.to_normalized(_floats(params))
        small = np.max(np.abs(normalized - self._normalized)) <= self.direct_step
        self._fading = self._voice
        self._voice = self._voice.successor(params, None if small else self._history)
        self._fade_pos = 0
        self._normalized = normalized

    def process(self, block) -> np.ndarray:
        """Process one block shaped (samples,) or (samples, channels); returns the same shape and dtype."""
        frames, was_1d = as_frames(block)
        if frames.shape[1] != self.channels:
            raise ValueError(f"block has {frames.shape[1]} channels, the chain was built for {self.channels}")
        if self._fading is None and self._pending is not None:
            pending, self._pending = self._pending, None
            self.set_params(pending)
        out = np.empty_like(frames)
        start = 0
        while start < len(frames):
            if self._fading is None:
                out[start:] = self._voice.run(frames[start:])
                break
            stop = min(len(frames), start + self.ramp_samples - self._fade_pos)
            seg = frames[start:stop]
            pos = self._fade_pos + np.arange(1, len(seg) + 1)
            w = (0.5 - 0.5 * np.cos(np.pi * pos / self.ramp_samples)).astype(frames.dtype)[:, None]
            old, new = self._fading.run(seg), self._voice.run(seg)
            out[start:stop] = old + w * (new - old)
            self._fade_pos += len(seg)
            start = stop
            if self._fade_pos >= self.ramp_samples:
                self._fading = None
        self._remember(frames)
        return restore(out, was_1d)

    def _remember(self, frames: np.ndarray) -> None:
        """Keep the last ``warmup_ms`` of input for warming up the next parameter set."""
        n, h = len(frames), self._history
        if n >= len(h):
            h[:] = frames[-len(h):]
        else:
            h[:-n] = h[n:]
            h[-n:] = frames
