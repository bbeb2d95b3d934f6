"""``aebox-edge demo``: until a trained model ships, a generated clip goes through a live-venue style corruption
rendered by the DSP chain, and the chain's speed is reported (later issues grow this into the full demo)."""

from __future__ import annotations

import os
import time

# A muddy club PA: boomy lows, honky mids, dull top, squashed dynamics, low level.
MUDDY_CLUB = {
    "low_shelf_gain_db": 9.0, "low_shelf_freq_hz": 150.0, "low_shelf_q": 0.7,
    "peak1_gain_db": 6.0, "peak1_freq_hz": 400.0, "peak1_q": 1.5,
    "peak2_gain_db": -4.0, "peak2_freq_hz": 2500.0, "peak2_q": 1.0,
    "peak3_gain_db": 3.0, "peak3_freq_hz": 3500.0, "peak3_q": 4.0,
    "peak4_gain_db": -6.0, "peak4_freq_hz": 7000.0, "peak4_q": 1.0,
    "high_shelf_gain_db": -12.0, "high_shelf_freq_hz": 6000.0, "high_shelf_q": 0.7,
    "comp_threshold_db": -30.0, "comp_ratio": 6.0, "comp_attack_ms": 2.0, "comp_release_ms": 80.0,
    "comp_knee_db": 6.0, "comp_makeup_db": -6.0,
}


def run_demo(out_dir: str, *, seed: int = 0, force: bool = False, echo=print) -> dict:
    import numpy as np

    from ddsp_kernels import StreamingChain, apply_chain

    from .audio import write
    from .data.music import synthesize

    sample_rate = 24000
    clean, info = synthesize(np.random.default_rng(seed), duration_s=10.0, sample_rate=sample_rate)
    os.makedirs(out_dir, exist_ok=True)

    start = time.perf_counter()
    dirty = apply_chain(clean, sample_rate, MUDDY_CLUB)
    offline_s = time.perf_counter() - start

    chain = StreamingChain(sample_rate, MUDDY_CLUB)
    block = 256
    start = time.perf_counter()
    streamed = np.concatenate([chain.process(clean[i:i + block]) for i in range(0, len(clean), block)])
    stream_s = time.perf_counter() - start

    paths = {name: os.path.join(out_dir, f"{name}.wav") for name in ("clean", "dirty")}
    write(paths["clean"], clean, sample_rate, subtype="PCM_16", overwrite=force)
    write(paths["dirty"], dirty, sample_rate, subtype="PCM_16", overwrite=force)
    duration = len(clean) / sample_rate
    result = {
        "music": {k: info[k] for k in ("bpm", "mode") if k in info},
        "files": paths,
        "offline_x_realtime": duration / offline_s,
        "streaming_x_realtime": duration / stream_s,
        "stream_equals_offline_max_abs": float(np.max(np.abs(streamed - dirty))),
    }
    echo(f"generated {duration:.0f} s of music ({result['music']}); wrote {paths['clean']} and {paths['dirty']}")
    echo(f"EQ + compressor: offline {result['offline_x_realtime']:.0f}x real time, "
         f"streaming ({block}-sample blocks) {result['streaming_x_realtime']:.0f}x real time; "
         f"streaming vs offline max difference {result['stream_equals_offline_max_abs']:.1e}")
    return result
