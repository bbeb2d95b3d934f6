"""``aebox-edge demo``: until a trained model ships, a synthetic live-venue clip (procedural music through a
production style, club and phone IRs and crowd noise) is rendered, its clean and dirty versions are written, and
the DSP chain's speed is reported offline and streaming (later issues grow this into the full demo)."""

from __future__ import annotations

import os
import time


def run_demo(out_dir: str, *, seed: int = 0, force: bool = False, echo=print) -> dict:
    import numpy as np

    from ddsp_kernels import StreamingChain, apply_chain

    from .audio import write
    from .data.dataset import DataConfig, synth_clip

    config = DataConfig(seed=seed, clip_seconds=10.0)
    clip = synth_clip(config, 0)
    sample_rate = config.sample_rate
    os.makedirs(out_dir, exist_ok=True)
    paths = {name: os.path.join(out_dir, f"{name}.wav") for name in ("clean", "dirty")}
    write(paths["clean"], clip.clean, sample_rate, subtype="PCM_16", overwrite=force)
    write(paths["dirty"], clip.dirty, sample_rate, subtype="PCM_16", overwrite=force)

    start = time.perf_counter()
    offline = apply_chain(clip.clean, sample_rate, clip.params)
    offline_s = time.perf_counter() - start
    chain, block = StreamingChain(sample_rate, clip.params), 256
    start = time.perf_counter()
    streamed = np.concatenate([chain.process(clip.clean[i:i + block]) for i in range(0, len(clip.clean), block)])
    stream_s = time.perf_counter() - start

    duration = len(clip.clean) / sample_rate
    result = {
        "style": clip.style, "rt60_s": clip.rt60_s, "snr_db": clip.snr_db, "files": paths,
        "offline_x_realtime": duration / offline_s,
        "streaming_x_realtime": duration / stream_s,
        "stream_equals_offline_max_abs": float(np.max(np.abs(streamed - offline))),
    }
    echo(f"rendered {duration:.0f} s of live-venue audio (style {clip.style}, RT60 {clip.rt60_s:.2f} s, "
         f"crowd SNR {clip.snr_db:.0f} dB): {paths['clean']}, {paths['dirty']}")
    echo(f"EQ + compressor ({clip.style} style): offline {result['offline_x_realtime']:.0f}x real time, "
         f"streaming ({block}-sample blocks) {result['streaming_x_realtime']:.0f}x real time; "
         f"streaming vs offline max difference {result['stream_equals_offline_max_abs']:.1e}")
    return result
