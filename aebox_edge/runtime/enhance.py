"""``aebox-edge run INPUT --reference REF -o OUTPUT``: enhance a file of any length, rate, channel count and
soundfile format with bounded memory.

Three streaming passes, never holding more than one analysis window and one DSP block of audio: the reference is
scored window by window and its most typical active window analysed, its band levels and loudness measured
(``Enhancer.reference``); the input's sliding analysis windows give the parameter track (``Enhancer.analyse``); the
input is read again block by block (from a spool written during the analysis when it is compressed, ``io.spool``,
rather than decoded twice; metered on the way when the level stage's cap on the total gain may bind,
``level.input_meter_needed``),
processed by the DSP chain at its own rate and channels (``render.render``), brought to the reference's loudness
and limited by the level stage (``level.level_matched``, through an unnamed temporary file) and written atomically
(``audio.AtomicAudioWriter``) in the input's format and subtype, so a failure leaves no partial output. The input is
never overwritten and an existing output (or ``--params-out`` file) needs ``force``.
"""

from __future__ import annotations

import contextlib
import time
from typing import Callable

import numpy as np

from ddsp_kernels.match import BandLevels

from ..io import audio
from ..defaults import HOP_S, SMOOTHING_S
from ..io.atomic import check_outputs, write_json
from ..io.spool import Spool, is_compressed
from .enhancer import Enhancer
from .level import input_meter_needed, level_matched, level_meter, metered
from .pipeline import overlapped
from .render import BLOCK_S, render


def enhance_file(enhancer: Enhancer, input_path: str, reference_path: str, output_path: str, *,
                 hop_s: float = HOP_S, smoothing_s: float = SMOOTHING_S, force: bool = False,
                 params_out: str | None = None, progress: Callable[[int], None] | None = None) -> dict:
    """Enhance ``input_path`` to sound like ``reference_path``; returns a summary. ``progress(frames)`` advances
    over ``2 * frames`` in all (analysis, then processing). Bad files or paths raise ``InputError`` before any
    output exists."""
    start_time = time.perf_counter()
    hop = enhancer.analysis_hop(hop_s)
    info = audio.info(input_path)
    audio.info(reference_path)  # an unreadable reference raises before any output exists
    check_outputs({"-o": output_path, "--params-out": params_out},
                  inputs={"input": input_path, "reference": reference_path}, force=force)
    writer = audio.AtomicAudioWriter(output_path, info.sample_rate, info.channels, like=info, overwrite=force)

    reference = enhancer.reference_file(reference_path)
    sr = info.sample_rate
    peak, level = 0.0, {}
    compressed = is_compressed(info.format, info.subtype)
    with writer, (Spool(info.channels) if compressed else contextlib.nullcontext()) as spool:
        blocks = audio.iter_blocks(input_path, enhancer.window_frames(sr))
        if spool is not None:
            blocks = spool.tee(blocks)
        levels = BandLevels(sr, spectra=enhancer.output_kind == "correction")  # the fit's spectra, the cap's estimate
        track = enhancer.analyse(blocks, reference, sr, hop_s=hop_s, smoothing_s=smoothing_s, levels=levels,
                                 progress=progress)
        block_frames = max(1, round(BLOCK_S * sr))
        blocks = audio.iter_blocks(input_path, block_frames) if spool is None else spool.blocks(block_frames)
        input_meter = None
        if input_meter_needed(levels, reference.match.loudness_lufs):
            input_meter = level_meter(sr, info.channels)
            blocks = metered(blocks, input_meter)
        rendered = overlapped(render(blocks, track, sr, info.channels), enhancer.num_threads, depth=4)
        for block in level_matched(rendered, sr, info.channels, reference.match.loudness_lufs, block_frames, level,
                                   input_meter, uncapped=input_meter is None):
            peak = max(peak, float(np.max(np.abs(block))))
            writer.write(block)
            if progress is not None:
                progress(len(block))
    elapsed = time.perf_counter() - start_time
    summary = {
        "input": input_path, "reference": reference_path, "output": output_path,
        "model": enhancer.model_path, "model_sha256": enhancer.metadata["sha256"],
        "backend": str(enhancer.backend), "threads": enhancer.num_threads,
        "sample_rate": sr, "channels": info.channels, "frames": info.frames, "duration_s": info.duration_s,
        "format": writer.format, "subtype": writer.subtype,
        "hop_s": hop / enhancer.analysis_rate, "smoothing_s": smoothing_s, "windows": len(track.times_s),
        "reference_lufs": round(reference.match.loudness_lufs, 2), **level,
        "output_peak_dbfs": round(20 * np.log10(max(peak, 1e-10)), 2),
        "seconds": round(elapsed, 3), "x_realtime": round(info.duration_s / elapsed, 1),
    }
    if params_out is not None:
        write_json(params_out, {**summary, **track.to_json()}, indent=1)
    return summary
