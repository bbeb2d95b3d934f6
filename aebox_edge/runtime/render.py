"""Rendering a parameter track: the signal's blocks through ``ddsp_kernels.StreamingChain`` at its own rate and
channels, the parameters updated (click-free) when the track has moved."""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from ddsp_kernels import PARAM_SPEC, StreamingChain

from .track import ParamTrack

BLOCK_S = 0.25              # DSP block of the file runner; parameters are updated at most once per block
UPDATE_TOLERANCE = 2e-3     # normalized change below which a block keeps the previous parameters


def render(blocks: Iterable[np.ndarray], track: ParamTrack, sample_rate: int, channels: int) -> Iterator[np.ndarray]:
    """Process (frames, channels) blocks with the track's parameters (carried DSP state, click-free updates
    whenever the track moved by more than ``UPDATE_TOLERANCE``); yields float32 blocks of the same shape."""
    applied = track.at(0.0)
    chain = StreamingChain(sample_rate, PARAM_SPEC.to_physical(applied), channels=channels)
    position = 0
    for block in blocks:
        p = track.at((position + len(block) / 2) / sample_rate)
        if np.max(np.abs(p - applied)) > UPDATE_TOLERANCE:
            chain.set_params(PARAM_SPEC.to_physical(p))
            applied = p
        position += len(block)
        yield chain.process(np.asarray(block, dtype=np.float32))
