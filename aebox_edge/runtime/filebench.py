"""``aebox-edge bench --file SONG --reference REF``: the whole-file path, stage by stage, and ``run`` end to end beside
Matchering on the same song in the same run.

Stages (each timed on its own over the whole song, in this process, in the order ``run`` does them): reference
(its windows scored, the chosen one analysed, its band levels and loudness measured), decode (the input read block
by block for the analysis, then again for the rendering, or for a compressed input written to and read back from
the spool), resample (the mono mix to the analysis rate, one stream), log-mel (every analysis window, shared
frames), band levels (the input's long-term spectra at its own rate and, for a correction model, every window's
match features), invoke (one per window), fit (the analytic fit, once; a correction model's only), DSP (the chain
over every block with the smoothed parameter track), level (the input metered where the gain cap may bind,
``level.input_meter_needed``, the chain's output metered, spooled, scaled and limited) and encode (the output
written in the input's format). End to end,
``aebox-edge run`` (with ``threads``; with 1 also with 2, the second core overlapping stages, ``pipeline``) and
Matchering (``matchering.process`` to a PCM_16 file, when it is installed: the dev extra) run in child processes
in turn, ``pairs`` times, each measured by its own ``wait4`` (wall, CPU, peak RSS); the ratio is the median of
``run``'s walls over Matchering's. What ``run``'s wall has beyond the stages (``unstaged_s``) is the process's start,
its imports and the model's loading.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from ddsp_kernels.match import BandLevels
from ddsp_kernels.signal import mono

from ..defaults import HOP_S, SMOOTHING_S
from ..errors import InputError, check_positive_int
from ..frontend import WindowLogMels
from ..io import audio
from ..io.resample import Resampler
from ..io.spool import Spool, is_compressed
from .enhancer import Enhancer
from .level import input_meter_needed, level_matched, level_meter
from .matching import analytic_fit, match_features
from .render import BLOCK_S, render
from .track import analysis_windows, array_blocks

FILE_STAGES = ("reference", "decode", "resample", "log-mel", "band levels", "invoke", "fit", "DSP", "level", "encode")

_MATCHERING = ("import sys, matchering as mg; mg.log(lambda *a: None); "
               "mg.process(target=sys.argv[1], reference=sys.argv[2], results=[mg.pcm16(sys.argv[3])])")


# Runs argv[1:] in a child of this small process and prints its wall, CPU and peak RSS: measured by wait4 in the
# parent that forked it, ru_maxrss would include the image of that parent (the benchmark, which holds the song).
_MEASURE = """import json, os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(json.dumps({"wall_s": time.perf_counter() - start, "cpu_s": usage.ru_utime + usage.ru_stime,
                  "peak_rss_mb": usage.ru_maxrss / 1024, "exit": os.waitstatus_to_exitcode(status)}))
"""


def _child(args: list[str]) -> dict:
    """Wall (s), CPU (s, user + system) and peak RSS (MB) of one child process; ``InputError`` when it fails."""
    import json

    proc = subprocess.run([sys.executable, "-c", _MEASURE, *args], capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    measured = json.loads(lines[-1]) if proc.returncode == 0 and lines else {"exit": proc.returncode}
    if measured.pop("exit") != 0:
        detail = proc.stderr.strip().splitlines()
        raise InputError(f"{' '.join(args[1:4])} failed: {detail[-1] if detail else 'no message'}")
    return measured


def _timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def stage_times(enhancer: Enhancer, song: str, reference: str, out_dir: str, hop_s: float = HOP_S,
                smoothing_s: float = SMOOTHING_S) -> dict:
    """Seconds per stage of ``FILE_STAGES`` over the whole song (see the module's docstring; the song is held in
    memory here, unlike in ``run``)."""
    info = audio.info(song)
    sr, n = info.sample_rate, enhancer.window_frames(info.sample_rate)
    times = {}
    times["reference"], ref = _timed(lambda: enhancer.reference_file(reference))
    decode, blocks = _timed(lambda: list(audio.iter_blocks(song, n)))
    if is_compressed(info.format, info.subtype):  # read back from the spool, not decoded twice
        def spooled():
            with Spool(info.channels) as spool:
                for _ in spool.tee(blocks):
                    pass
                for _ in spool.blocks(max(1, round(BLOCK_S * sr))):
                    pass
        times["decode"] = decode + _timed(spooled)[0]
    else:
        times["decode"] = 2 * decode
    x = np.concatenate(blocks)
    del blocks

    def resampled():
        r = Resampler(sr, enhancer.analysis_rate)
        return [r.process(mono(b)) for b in array_blocks(x, n)] + [r.flush()]

    times["resample"], _ = _timed(resampled)
    fe = enhancer.front_end
    windows = [(s, w) for s, w in analysis_windows(array_blocks(x, n), sr, enhancer.analysis_rate,
                                                   fe.window_samples, enhancer.analysis_hop(hop_s))
               if len(w) == fe.window_samples]
    mels = WindowLogMels(fe)
    times["log-mel"], features = _timed(lambda: [mels.window(w, s)[..., None] for s, w in windows])
    correction = enhancer.output_kind == "correction"

    def band_levels():
        levels = BandLevels(sr, spectra=correction)
        for block in array_blocks(x, n):
            levels.add(block)
        return levels, [match_features(w, enhancer.analysis_rate, ref.match) if correction else None
                        for _, w in windows]

    times["band levels"], (levels, matches) = _timed(band_levels)
    times["invoke"], _ = _timed(lambda: [enhancer.invoke(f, ref.features, m) for f, m in zip(features, matches)])
    times["fit"] = _timed(lambda: analytic_fit(levels, ref.match))[0] if correction else 0.0
    track = enhancer.analyse(array_blocks(x, n), ref, sr, hop_s=hop_s, smoothing_s=smoothing_s)
    block_frames = max(1, round(BLOCK_S * sr))
    times["DSP"], rendered = _timed(lambda: list(render(array_blocks(x, block_frames), track, sr, info.channels)))
    times["level"], leveled = _timed(lambda: _level(rendered, x, sr, info.channels, ref.match.loudness_lufs,
                                                    block_frames, levels))
    out = os.path.join(out_dir, "encoded" + os.path.splitext(song)[1])

    def encode():
        with audio.AtomicAudioWriter(out, sr, info.channels, like=info, overwrite=True) as writer:
            for block in leveled:
                writer.write(block)

    times["encode"], _ = _timed(encode)
    return times


def _level(rendered: list, x: np.ndarray, sr: int, channels: int, reference_lufs: float, block_frames: int,
           levels: BandLevels) -> list:
    """The level stage as ``run`` does it: the input metered (where ``input_meter_needed``), the rendered blocks
    metered, spooled, scaled and limited."""
    input_meter = None
    if input_meter_needed(levels, reference_lufs):
        input_meter = level_meter(sr, channels)
        for block in array_blocks(x, block_frames):
            input_meter.process(block)
    return list(level_matched(iter(rendered), sr, channels, reference_lufs, block_frames, input_meter=input_meter,
                              uncapped=input_meter is None))


def run_file_bench(song: str, reference: str, *, model_path: str | None = None, threads: int = 1, pairs: int = 3,
                   matchering: bool = True) -> dict:
    """The report of ``bench --file``: stages, ``run`` and Matchering end to end (see the module's docstring)."""
    check_positive_int("pairs", pairs)
    info = audio.info(song)
    audio.info(reference)
    enhancer = Enhancer(model_path, num_threads=threads)
    result = {"file": song, "reference": reference, "duration_s": info.duration_s, "sample_rate": info.sample_rate,
              "channels": info.channels, "format": info.format, "subtype": info.subtype, "threads": threads,
              "model": enhancer.model_path}
    with tempfile.TemporaryDirectory() as tmp:
        stages = stage_times(enhancer, song, reference, tmp)
        result["stages_s"] = {k: round(v, 4) for k, v in stages.items()}
        result["stages_x_realtime"] = round(info.duration_s / sum(stages.values()), 1)
        run_args = [sys.executable, "-m", "aebox_edge", "run", song, "-r", reference, "-o",
                    os.path.join(tmp, "run" + os.path.splitext(song)[1]), "--force"]
        if model_path:
            run_args += ["--model", model_path]
        peer = None
        if matchering:
            try:
                import matchering  # noqa: F401  (GPL-3.0 peer, run only as a child process)
                peer = [sys.executable, "-c", _MATCHERING, song, reference, os.path.join(tmp, "mg.wav")]
            except ImportError:
                result["matchering"] = {"error": "not installed (the dev extra)"}
        runs, runs_2, peers = [], [], []
        for _ in range(pairs):
            runs.append(_child(run_args + ["--threads", str(threads)]))
            if threads == 1:
                runs_2.append(_child(run_args + ["--threads", "2"]))
            if peer:
                peers.append(_child(peer))
    result["run"] = _summary(runs, info.duration_s)
    result["unstaged_s"] = round(result["run"]["wall_s"] - sum(stages.values()), 3)
    if runs_2:
        result["run_2_threads"] = _summary(runs_2, info.duration_s)
    if peers:
        result["matchering"] = _summary(peers, info.duration_s)
        result["ratio_to_matchering"] = round(result["run"]["wall_s"] / result["matchering"]["wall_s"], 3)
    return result


def _summary(measurements: list[dict], duration_s: float) -> dict:
    wall = float(np.median([m["wall_s"] for m in measurements]))
    return {"wall_s": round(wall, 3), "walls_s": [round(m["wall_s"], 3) for m in measurements],
            "cpu_s": round(float(np.median([m["cpu_s"] for m in measurements])), 3),
            "peak_rss_mb": round(max(m["peak_rss_mb"] for m in measurements), 1),
            "x_realtime": round(duration_s / wall, 1)}


def format_file_report(r: dict) -> list[str]:
    """The report as text lines."""
    lines = [f"file: {r['file']} ({r['duration_s']:.1f} s, {r['sample_rate']} Hz, {r['channels']} channel(s), "
             f"{r['format']} {r['subtype']}); reference {r['reference']}; {r['threads']} thread(s)",
             f"{'stage':<12}{'seconds':>9}{'x real time':>13}"]
    for stage, s in r["stages_s"].items():
        lines.append(f"{stage:<12}{s:>9.3f}{r['duration_s'] / max(s, 1e-9):>13.0f}")
    lines.append(f"{'stages':<12}{sum(r['stages_s'].values()):>9.3f}{r['stages_x_realtime']:>13g}")
    for name in ("run", "run_2_threads", "matchering"):
        m = r.get(name)
        if m and "error" in m:
            lines.append(f"{name}: {m['error']}")
        elif m:
            lines.append(f"{name}: wall {m['wall_s']:.2f} s (median of {len(m['walls_s'])}), CPU {m['cpu_s']:.2f} s, "
                         f"peak RSS {m['peak_rss_mb']:.0f} MB, {m['x_realtime']:g} x real time")
    lines.append(f"run beyond the stages (start, imports, model load): {r['unstaged_s']:.2f} s")
    if "ratio_to_matchering" in r:
        lines.append(f"run / Matchering wall: {r['ratio_to_matchering']:.3f}")
    return lines
