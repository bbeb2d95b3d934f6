"""``aebox-edge demo``: the toolkit on day one. A synthetic live-venue recording (procedural music through a
production style, club and phone IRs and crowd noise) and its clean studio version are generated; the recording is
enhanced towards the clean reference with the shipped int8 model (``aebox-edge run``'s own code path); the wav
files, a PNG comparing the spectrograms and the paper's four metrics are written; the same metrics are averaged over
``clips`` generated recordings (the written one and the next seeds, enhanced in memory by ``Enhancer.process``, the
same path), since one clip says little; and the per-window bench is summarized against the paper's 90 ms budget."""

from __future__ import annotations

import os

import numpy as np


CORRUPT, ENHANCED = "Corrupt (recording vs studio)", "Enhanced vs studio"


def run_demo(out_dir: str, *, seed: int = 0, clips: int = 8, force: bool = False, model: str | None = None,
             echo=print) -> dict:
    """Write the demo's files into ``out_dir`` and echo its report; returns what ``demo.json`` holds. Raises
    ``InputError`` when ``out_dir`` already holds demo files and not ``force``, or for a bad ``model``."""
    from ..data.dataset import DataConfig, synth_clip
    from ..io.atomic import write_json
    from ..runtime.bench import format_bench_report, run_bench
    from ..runtime.enhancer import Enhancer
    from .tables import format_table

    enhancer = Enhancer(model)
    config = DataConfig(seed=seed, clip_seconds=10.0)
    clip = synth_clip(config, 0)
    paths, summary, enhanced = _enhance_recording(enhancer, clip, config.sample_rate, out_dir, force)
    figure = _figure(paths["figure"], clip.dirty, enhanced, clip.clean, config.sample_rate)
    per_clip = _metrics_over_clips(enhancer, clip, enhanced, seed, clips, config.sample_rate)
    metrics = {name: values[0] for name, values in per_clip.items()}
    averaged = {name: {key: float(np.mean([m[key] for m in values])) for key in values[0]}
                for name, values in per_clip.items()}
    bench = run_bench(enhancer.model_path, num_runs=30, warmup_runs=3)
    result = {"files": paths, "figure": figure, "style": clip.style, "rt60_s": clip.rt60_s, "snr_db": clip.snr_db,
              "run": summary, "metrics": metrics, "clips": clips, "mean_metrics": averaged, "bench": bench}
    write_json(os.path.join(out_dir, "demo.json"), result, default=float)

    echo(f"live recording: 10 s of generated music, style {clip.style}, club RT60 {clip.rt60_s:.2f} s, crowd at "
         f"{clip.snr_db:.0f} dB SNR -> {paths['live_recording']}")
    echo(f"enhanced with {enhancer.model_path} -> {paths['enhanced']}; spectrograms -> {figure}")
    echo(f"mean over {clips} generated recordings (seeds {seed}..{seed + clips - 1}; lower is better; Corrupt = "
         f"recording vs studio, Enhanced = enhanced vs studio):")
    echo(format_table(per_clip[CORRUPT], {"Enhanced": per_clip[ENHANCED]}))
    for line in format_bench_report(bench):
        echo(line)
    return result


def _enhance_recording(enhancer, clip, sample_rate: int, out_dir: str, force: bool) -> tuple[dict, dict, np.ndarray]:
    """Write the clip's recording and studio reference into ``out_dir`` and enhance the recording as ``aebox-edge
    run`` does; returns the paths (with the figure's), the run's summary and the enhanced audio (mono)."""
    from ..errors import InputError
    from ..io import audio
    from ..runtime.enhance import enhance_file

    os.makedirs(out_dir, exist_ok=True)
    paths = {name: os.path.join(out_dir, f"{name}.wav") for name in ("live_recording", "studio_reference",
                                                                      "enhanced")}
    paths["figure"] = os.path.join(out_dir, "spectrograms.png")
    if not force and any(os.path.exists(p) for p in paths.values()):
        raise InputError(f"{out_dir} already holds demo files; pass --force to replace them")
    audio.write(paths["live_recording"], clip.dirty, sample_rate, subtype="FLOAT", overwrite=True)
    audio.write(paths["studio_reference"], clip.clean, sample_rate, subtype="FLOAT", overwrite=True)
    summary = enhance_file(enhancer, paths["live_recording"], paths["studio_reference"], paths["enhanced"],
                           force=True)
    enhanced, _ = audio.read(paths["enhanced"])
    return paths, summary, enhanced[:, 0]


def _metrics_over_clips(enhancer, clip, enhanced: np.ndarray, seed: int, clips: int, sample_rate: int
                        ) -> dict[str, list[dict]]:
    """The four metrics per recording, the written one (``clip``, enhanced from its file) first, then the
    recordings of seeds ``seed + 1 .. seed + clips - 1`` enhanced in memory by ``Enhancer.process``."""
    from ..data.dataset import DataConfig, synth_clip
    from .metrics import evaluate

    per_clip = {CORRUPT: [evaluate(clip.dirty, clip.clean, sample_rate)],
                ENHANCED: [evaluate(enhanced, clip.clean, sample_rate)]}
    for k in range(1, clips):
        other = synth_clip(DataConfig(seed=seed + k, clip_seconds=10.0), 0)
        per_clip[CORRUPT].append(evaluate(other.dirty, other.clean, sample_rate))
        per_clip[ENHANCED].append(evaluate(enhancer.process(other.dirty, other.clean, sample_rate)[0], other.clean,
                                           sample_rate))
    return per_clip


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
