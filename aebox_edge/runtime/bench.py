"""``aebox-edge bench``: the device budget of one analysis window, in the manner of TFLite's ``benchmark_model``.

One end-to-end run is what the product does per 2.5 s window: two log-mels (input and reference, 60,000 samples at
24 kHz), one interpreter invoke, then the EQ and the compressor on the window (``ddsp_kernels.parametric_eq`` and
``compressor``). Reported: model load + allocation (init), the first run, the warm-up average, then per stage and
end to end avg/std/min/max/p5/median/p95 over ``num_runs``, RSS, backend and version, delegation, and PASS/FAIL on
the end-to-end p95 against ``target_ms``. Peers are measured in the same process and run: the Keras model through
``model.predict`` (as the paper timed it; TensorFlow imported only then) and pedalboard's EQ + compressor chain.
"""

from __future__ import annotations

import os
import platform
import resource
import time

import numpy as np

from ddsp_kernels import PARAM_SPEC, compressor, compressor_args, eq_bands, parametric_eq
from ddsp_kernels.match import combine

from ..defaults import BENCH_RUNS, BENCH_TARGET_MS, BENCH_WARMUP_RUNS, THREADS
from ..errors import InputError, check_positive_int
from .enhancer import Enhancer

STAGES = ("features", "invoke", "EQ", "compressor", "end-to-end")  # features: 2 log-mels (+ match, fit)


def timing_stats(times_ms) -> dict:
    """avg, std, min, max, p5, median, p95 (ms) and the number of runs."""
    t = np.asarray(times_ms, dtype=np.float64)
    return {"avg": float(t.mean()), "std": float(t.std()), "min": float(t.min()), "max": float(t.max()),
            "p5": float(np.percentile(t, 5)), "median": float(np.median(t)), "p95": float(np.percentile(t, 95)),
            "runs": int(t.size)}


def rss_mb() -> dict:
    """Resident memory now and at its peak (MB): ``VmRSS``/``VmHWM`` on Linux (``ru_maxrss`` would also count the
    image of a parent that forked this process before exec), else the peak from ``getrusage``."""
    try:
        with open("/proc/self/status") as fh:
            fields = dict(line.split(":", 1) for line in fh if line.startswith(("VmRSS:", "VmHWM:")))
        return {"current": int(fields["VmRSS"].split()[0]) / 1024, "peak": int(fields["VmHWM"].split()[0]) / 1024}
    except (OSError, KeyError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB on Linux, bytes on macOS
        return {"current": None, "peak": peak / (1024 * 1024) if platform.system() == "Darwin" else peak / 1024}


def bench_clips(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A training-style pair at 24 kHz, one window each: the dirty input and the clean reference of the data
    synthesizer's clip 0 of ``seed`` (procedural music, production style, venue and phone, crowd)."""
    from ..data.dataset import DataConfig, synth_clip

    config = DataConfig(seed=seed)
    example = synth_clip(config, 0).examples(config)[0]
    return np.asarray(example["input"], np.float32), np.asarray(example["reference"], np.float32)


def end_to_end(enhancer: Enhancer, x: np.ndarray, reference: np.ndarray) -> tuple[list[float], dict]:
    """One window through the whole device path; returns the stage times (ms, in ``STAGES`` order, the last one
    end to end) and the physical parameters."""
    rate = enhancer.analysis_rate
    t0 = time.perf_counter()
    inputs = enhancer.prepare(x, reference, rate)
    t1 = time.perf_counter()
    params = PARAM_SPEC.to_physical(enhancer.predict(*inputs))
    t2 = time.perf_counter()
    y = parametric_eq(x, rate, eq_bands(params))
    t3 = time.perf_counter()
    compressor(y, rate, **compressor_args(params))
    t4 = time.perf_counter()
    return [1e3 * d for d in (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)], params


def measure(enhancer: Enhancer, x: np.ndarray, reference: np.ndarray, num_runs: int = BENCH_RUNS,
            warmup_runs: int = BENCH_WARMUP_RUNS) -> dict:
    """First run, warm-up average and per-stage statistics of ``end_to_end``."""
    check_positive_int("num_runs", num_runs)
    check_positive_int("warmup_runs", warmup_runs, minimum=0)
    first, _ = end_to_end(enhancer, x, reference)
    warmup = [end_to_end(enhancer, x, reference)[0][-1] for _ in range(warmup_runs)]
    runs = np.array([end_to_end(enhancer, x, reference)[0] for _ in range(num_runs)])
    return {"first_run_ms": first[-1], "warmup": {"runs": warmup_runs, "avg_ms": float(np.mean(warmup or [0.0]))},
            "stages": {stage: timing_stats(runs[:, i]) for i, stage in enumerate(STAGES)}}


def _timed(fn, num_runs: int, warmup_runs: int) -> dict:
    for _ in range(warmup_runs):
        fn()
    times = []
    for _ in range(num_runs):
        start = time.perf_counter()
        fn()
        times.append(1e3 * (time.perf_counter() - start))
    return timing_stats(times)


def keras_peer(keras_path: str, enhancer: Enhancer, x: np.ndarray, reference: np.ndarray, num_runs: int,
               warmup_runs: int) -> dict:
    """The float Keras analyser's ``model.predict`` on the same features (TensorFlow imported here)."""
    if not os.path.isfile(keras_path):
        raise InputError(f"{keras_path}: no such Keras model")
    start = time.perf_counter()
    try:
        import keras
    except ImportError as exc:
        raise InputError(f"--compare-keras needs TensorFlow (the train extra): {exc}") from None
    import_s = time.perf_counter() - start
    start = time.perf_counter()
    try:
        model = keras.saving.load_model(keras_path, compile=False)
    except Exception as exc:  # keras raises many types for files it cannot read
        raise InputError(f"{keras_path}: cannot load Keras model ({type(exc).__name__}: {exc})") from None
    load_s = time.perf_counter() - start
    prepared = enhancer.prepare(x, reference, enhancer.analysis_rate)
    names = enhancer.metadata["inputs"]
    features = dict(zip(names, (a[None] for a in prepared[:len(names)])))
    keras_names = [t.name for t in model.inputs]
    inputs = [features[n] for n in keras_names] if set(keras_names) == set(features) else list(features.values())
    try:
        p_keras = np.asarray(model.predict(inputs, verbose=0))[0]
    except Exception as exc:
        raise InputError(f"{keras_path}: does not take this model's features ({type(exc).__name__}: {exc})") from None
    if enhancer.output_kind == "correction":
        p_keras = combine(prepared[-1], p_keras)
    p_tflite = enhancer.predict(*prepared)
    return {"model": keras_path, "import_s": import_s, "load_s": load_s,
            "predict": _timed(lambda: model.predict(inputs, verbose=0), num_runs, warmup_runs),
            "max_abs_normalized_difference": float(np.max(np.abs(p_keras - p_tflite)))}


def pedalboard_chain(params: dict):
    """pedalboard's 6 filters + Compressor + Gain set like our chain (its peer, not its reference)."""
    import pedalboard

    kinds = {"low_shelf": pedalboard.LowShelfFilter, "peak": pedalboard.PeakFilter,
             "high_shelf": pedalboard.HighShelfFilter}
    filters = [kinds[kind](float(freq_hz), float(gain_db), float(q))
               for kind, freq_hz, gain_db, q in eq_bands(params)]
    return pedalboard.Pedalboard(filters + [
        pedalboard.Compressor(float(params["comp_threshold_db"]), float(params["comp_ratio"]),
                              float(params["comp_attack_ms"]), float(params["comp_release_ms"])),
        pedalboard.Gain(float(params["comp_makeup_db"]))])


def run_bench(model_path: str | None = None, *, num_runs: int = BENCH_RUNS, warmup_runs: int = BENCH_WARMUP_RUNS,
              threads: int = THREADS, target_ms: float = BENCH_TARGET_MS, compare_keras: str | None = None,
              compare_pedalboard: bool = False,
              seed: int = 0) -> dict:
    """Benchmark the model (default: the shipped one) and, when asked, its peers; returns the report."""
    start = time.perf_counter()
    enhancer = Enhancer(model_path, num_threads=threads)
    init_ms = 1e3 * (time.perf_counter() - start)
    x, reference = bench_clips(seed)
    if enhancer.analysis_rate != 24000 or len(x) != enhancer.front_end.window_samples:
        raise InputError(f"{enhancer.model_path}: bench clips are 2.5 s at 24 kHz, the model's front end is not")
    result = {
        "model": enhancer.model_path, "sha256": enhancer.metadata["sha256"],
        "quantization": enhancer.metadata["quantization"], "front_end": enhancer.front_end.name,
        "backend": enhancer.backend.name, "backend_version": enhancer.backend.version,
        "backend_note": enhancer.backend.note, "threads": threads,
        "platform": {"machine": platform.machine(), "system": platform.system(), "cpus": os.cpu_count(),
                     "python": platform.python_version(), "numpy": np.__version__},
        "delegation": delegation(enhancer), "init_ms": init_ms, "window_samples": len(x),
    }
    result.update(measure(enhancer, x, reference, num_runs, warmup_runs))
    result["rss_mb"] = rss_mb()
    ours = result["stages"]
    p95 = ours["end-to-end"]["p95"]
    result.update(target_ms=target_ms, p95_ms=p95, passed=bool(p95 <= target_ms), peers={})
    if compare_keras:
        peer = keras_peer(compare_keras, enhancer, x, reference, num_runs, warmup_runs)
        peer["ratio"] = peer["predict"]["median"] / ours["end-to-end"]["median"]
        result["peers"]["keras"] = peer
    if compare_pedalboard:
        try:
            board = pedalboard_chain(end_to_end(enhancer, x, reference)[1])
        except ImportError as exc:
            result["peers"]["pedalboard"] = {"error": f"not installed ({exc})"}
        else:
            stats = _timed(lambda: board(x, enhancer.analysis_rate), num_runs, warmup_runs)
            dsp = ours["EQ"]["median"] + ours["compressor"]["median"]
            result["peers"]["pedalboard"] = {"chain": stats, "ratio": dsp / stats["median"]}
    return result


def delegation(enhancer: Enhancer) -> dict:
    """Whether the model runs entirely on XNNPACK, by the export's check (``inspect.delegation``; needs
    ai-edge-litert)."""
    if enhancer.backend.name != "ai_edge_litert":
        return {"fully_delegated": None, "reason": f"not checked with {enhancer.backend.name}"}
    from .inspect import delegation as check

    return check(enhancer.model_path)


def format_bench_report(r: dict) -> list[str]:
    """The report as text lines."""
    d = r["delegation"]
    if d.get("fully_delegated") is None:
        deleg = f"unknown ({d.get('reason')})"
    else:
        deleg = (("fully delegated" if d["fully_delegated"] else f"NOT fully delegated ({d.get('not_delegated')})")
                 + f" to XNNPACK, {d.get('xnnpack_partitions')} partition(s)")
    lines = [
        f"model: {r['model']} ({r['quantization']}, {r['front_end']} front end, sha256 {r['sha256'][:12]})",
        f"backend: {r['backend']} {r['backend_version']}, {r['threads']} thread(s); delegation: {deleg}",
        f"platform: {r['platform']['machine']} {r['platform']['system']}, {r['platform']['cpus']} CPUs, "
        f"python {r['platform']['python']}, numpy {r['platform']['numpy']}",
        f"init: {r['init_ms']:.1f} ms; first run: {r['first_run_ms']:.2f} ms; warm-up: {r['warmup']['runs']} runs, "
        f"avg {r['warmup']['avg_ms']:.2f} ms",
        f"{'stage (ms)':<12}" + "".join(f"{k:>9}" for k in ("avg", "std", "min", "max", "p5", "median", "p95"))
        + f"   ({r['stages']['end-to-end']['runs']} runs, {r['window_samples']} samples)",
    ]
    for stage, s in r["stages"].items():
        lines.append(f"{stage:<12}" + "".join(f"{s[k]:>9.3f}" for k in ("avg", "std", "min", "max", "p5", "median",
                                                                           "p95")))
    rss = r["rss_mb"]
    lines.append(f"RSS: {rss['current']:.1f} MB now, {rss['peak']:.1f} MB peak" if rss["current"] is not None
                 else f"RSS: {rss['peak']:.1f} MB peak")
    keras = r["peers"].get("keras")
    if keras:
        lines.append(f"keras model.predict: median {keras['predict']['median']:.2f} ms, p95 "
                     f"{keras['predict']['p95']:.2f} ms = {keras['ratio']:.1f} x our end-to-end median (TensorFlow "
                     f"import {keras['import_s']:.1f} s, load {keras['load_s']:.2f} s; parameters differ by at most "
                     f"{keras['max_abs_normalized_difference']:.3f} normalized)")
    board = r["peers"].get("pedalboard")
    if board:
        lines.append(f"pedalboard EQ + compressor: {board['error']}" if "error" in board else
                     f"pedalboard EQ + compressor: median {board['chain']['median']:.3f} ms; ours (EQ + compressor "
                     f"medians) {board['ratio']:.2f} x pedalboard's time")
    verdict = "PASS" if r["passed"] else "FAIL"
    lines.append(f"result: {verdict} (end-to-end p95 {r['p95_ms']:.2f} ms {'<=' if r['passed'] else '>'} target "
                 f"{r['target_ms']:g} ms)")
    if r["backend_note"]:
        lines.append(f"note: {r['backend_note']}")
    return lines
