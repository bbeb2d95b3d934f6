"""``aebox-edge demo``: the toolkit on day one. A synthetic live-venue recording (procedural music through a
production style, club and phone IRs and crowd noise) and its clean studio version are generated; the recording is
enhanced towards the clean reference with the shipped int8 model (``aebox-edge run``'s own code path); the wav
files, a PNG comparing the spectrograms and the paper's four metrics are written; the same metrics are averaged over
``clips`` generated recordings (the written one and the next seeds, enhanced in memory by ``Enhancer.process``, the
same path), since one clip says little; and the per-window bench is summarized against the paper's 90 ms budget."""

from __future__ import annotations

import json
import os


def run_demo(out_dir: str, *, seed: int = 0, clips: int = 8, force: bool = False, model: str | None = None,
             echo=print) -> dict:
    import numpy as np

    from ..io import audio
    from ..runtime.bench import format_report, run_bench
    from ..data.dataset import DataConfig, synth_clip
    from ..errors import InputError
    from .metrics import evaluate
    from ..runtime.enhance import enhance_file
    from ..runtime.enhancer import Enhancer

    enhancer = Enhancer(model)
    config = DataConfig(seed=seed, clip_seconds=10.0)
    clip = synth_clip(config, 0)
    sr = config.sample_rate
    if not os.path.isdir(out_dir):
        os.makedirs(out_dir)
    paths = {name: os.path.join(out_dir, f"{name}.wav") for name in ("live_recording", "studio_reference",
                                                                      "enhanced")}
    paths["figure"] = os.path.join(out_dir, "spectrograms.png")
    if not force and any(os.path.exists(p) for p in paths.values()):
        raise InputError(f"{out_dir} already holds demo files; pass --force to replace them")
    audio.write(paths["live_recording"], clip.dirty, sr, subtype="FLOAT", overwrite=True)
    audio.write(paths["studio_reference"], clip.clean, sr, subtype="FLOAT", overwrite=True)
    summary = enhance_file(enhancer, paths["live_recording"], paths["studio_reference"], paths["enhanced"],
                           force=True)
    enhanced, _ = audio.read(paths["enhanced"])
    enhanced = enhanced[:, 0]

    figure = _figure(paths["figure"], clip.dirty, enhanced, clip.clean, sr)
    metrics = {"Corrupt (recording vs studio)": evaluate(clip.dirty, clip.clean, sr),
               "Enhanced vs studio": evaluate(enhanced, clip.clean, sr)}
    averaged = {name: [m] for name, m in metrics.items()}
    for k in range(1, clips):
        other = synth_clip(DataConfig(seed=seed + k, clip_seconds=10.0), 0)
        averaged["Corrupt (recording vs studio)"].append(evaluate(other.dirty, other.clean, sr))
        averaged["Enhanced vs studio"].append(evaluate(enhancer.process(other.dirty, other.clean, sr)[0],
                                                       other.clean, sr))
    averaged = {name: {key: float(np.mean([m[key] for m in ms])) for key in ms[0]} for name, ms in averaged.items()}
    bench = run_bench(enhancer.model_path, num_runs=30, warmup_runs=3)
    result = {"files": paths, "figure": figure, "style": clip.style, "rt60_s": clip.rt60_s, "snr_db": clip.snr_db,
              "run": summary, "metrics": metrics, "clips": clips, "mean_metrics": averaged, "bench": bench}
    with open(os.path.join(out_dir, "demo.json"), "w") as fh:
        json.dump(result, fh, indent=2, default=float)

    echo(f"live recording: 10 s of generated music, style {clip.style}, club RT60 {clip.rt60_s:.2f} s, crowd at "
         f"{clip.snr_db:.0f} dB SNR -> {paths['live_recording']}")
    echo(f"enhanced with {enhancer.model_path} -> {paths['enhanced']}; spectrograms -> {figure}")
    echo(f"{'':32s} {'MSD':>8s} {'SCE Hz':>8s} {'RMS':>8s} {'LUFS':>8s}")
    for name, m in metrics.items():
        echo(f"{name:32s} {m['msd']:8.2f} {m['sce']:8.1f} {m['rms']:8.2f} {m['lufs']:8.2f}")
    if clips > 1:
        echo(f"mean over {clips} generated recordings (seeds {seed}..{seed + clips - 1}; lower is better):")
        for name, m in averaged.items():
            echo(f"{name:32s} {m['msd']:8.2f} {m['sce']:8.1f} {m['rms']:8.2f} {m['lufs']:8.2f}")
    for line in format_report(bench):
        echo(line)
    return result


def _figure(path: str, dirty, enhanced, clean, sample_rate: int) -> str | None:
    """The spectrogram comparison PNG at ``path``; None when matplotlib (the ``demo`` extra) is missing."""
    from .plots import plot_clip

    try:
        spectrogram, waveform = plot_clip(os.path.splitext(path)[0], dirty, enhanced, clean, sample_rate)
    except ImportError:
        return None
    os.replace(spectrogram, path)
    os.remove(waveform)
    return path
