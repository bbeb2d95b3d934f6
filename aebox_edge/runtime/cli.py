"""``aebox-edge run`` (files, ``--live``, ``--simulate``) and ``aebox-edge bench``. Only click is imported at module
level; each command imports the runtime when it runs (a cold start matters on a Raspberry Pi)."""

from __future__ import annotations

import contextlib
import sys
import warnings

import click

from ..options import FINITE, FiniteFloat

from ..defaults import (BENCH_RUNS, BENCH_TARGET_MS, BENCH_WARMUP_RUNS, BLOCKSIZE, DEFAULT_MODEL, HOP_S, LATENCY_S,
                        LIVE_HOP_S, MODEL_ENV, RUN_THREADS, SMOOTHING_S, THREADS)

PROGRESS_MIN_S = 30.0  # files at least this long get a progress bar


@contextlib.contextmanager
def _warnings_as_messages():
    """Show Python warnings (e.g. the tflite-runtime backend's limits) as ``aebox-edge: warning: ...`` lines."""
    with warnings.catch_warnings():
        warnings.showwarning = lambda message, *args, **kwargs: click.echo(f"aebox-edge: warning: {message}",
                                                                            err=True)
        yield


def _device(value: str | None):
    """A sounddevice device: an index when numeric, else a name (substring)."""
    return int(value) if value is not None and value.isdigit() else value


def _echo_stats(stats: dict) -> None:
    click.echo("statistics: " + ", ".join(f"{k} {v}" for k, v in stats.items()
                                          if not isinstance(v, dict) and k != "output"))


@click.command()
@click.argument("input_path", metavar="[INPUT]", required=False, type=click.Path(dir_okay=False))
@click.option("-r", "--reference", required=True, type=click.Path(dir_okay=False),
              help="Clean reference audio (e.g. the studio mix); analysed once.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Output file (written atomically, in the input's format unless its extension names another).")
@click.option("--model", type=click.Path(dir_okay=False),
              help=f"Exported .tflite with its metadata JSON beside it [default: ${MODEL_ENV}, else the shipped "
                   f"models/{DEFAULT_MODEL}].")
@click.option("--threads", type=click.IntRange(min=1), default=RUN_THREADS,
              help="Threads: the interpreter's; with 2 or more a file's passes also overlap their stages [default: 2 "
                   "where this machine has 2 cores or more].")
@click.option("--hop", type=FINITE,
              help=f"Seconds between analysis windows (0 < hop <= 2.5) [default: {HOP_S:g} for files, "
                   f"{LIVE_HOP_S:g} live and --simulate].")
@click.option("--smoothing", type=FiniteFloat(min=0), default=SMOOTHING_S, show_default=True,
              help="Parameter smoothing in seconds (Gaussian sigma for files, time constant live); 0 = none.")
@click.option("--force", is_flag=True, help="Overwrite an existing output / --params-out file (never the input).")
@click.option("--params-out", type=click.Path(dir_okay=False), help="Write the parameter track as JSON.")
@click.option("--live", is_flag=True, help="Enhance a sound card's input live (needs the live extra).")
@click.option("--simulate", is_flag=True, help="Drive the live engine from INPUT and write what it plays to -o.")
@click.option("--realtime", is_flag=True, help="With --simulate: pace blocks in real time, analysis in a thread.")
@click.option("--input-device", help="Live input device (index or name).")
@click.option("--output-device", help="Live output device (index or name).")
@click.option("--blocksize", type=click.IntRange(min=1), default=BLOCKSIZE, show_default=True,
              help="Live / simulated audio block in frames.")
@click.option("--samplerate", type=click.IntRange(min=1), help="Live sample rate [default: the input device's].")
@click.option("--latency", type=FiniteFloat(min=0, min_open=True), default=LATENCY_S, show_default=True,
              help="Live output buffering in seconds (absorbs the model's invoke).")
def run(input_path, reference, output, model, threads, hop, smoothing, force, params_out, live, simulate, realtime,
        input_device, output_device, blocksize, samplerate, latency):
    """Make INPUT sound like the reference: the model predicts EQ + compressor settings over sliding 2.5 s
    windows and the DSP chain applies them (files of any length, rate, channels and format)."""
    from ..errors import InputError

    if simulate:
        if not (input_path and output):
            raise InputError("--simulate needs INPUT and -o OUTPUT")
        if params_out:
            raise InputError("--params-out applies to files, not to --simulate")
    elif live:
        if input_path or output or params_out:
            raise InputError("--live takes no INPUT, -o or --params-out (use --simulate INPUT -o OUTPUT for files)")
    else:
        if not (input_path and output):
            raise InputError("need INPUT and -o OUTPUT (or --live)")
        if realtime:
            raise InputError("--realtime applies to --simulate")

    if hop is None:
        hop = LIVE_HOP_S if (simulate or live) else HOP_S
    with _warnings_as_messages():
        from ..io import audio
        from .enhancer import Enhancer

        # bad audio files are reported before the model loads
        for path in ([input_path] if input_path else []) + [reference]:
            audio.info(path)
        enhancer = Enhancer(model, num_threads=threads)
        if simulate:
            from .live import simulate as simulate_file

            stats = simulate_file(enhancer, reference, input_path, output, blocksize=blocksize, realtime=realtime,
                                  latency_s=latency, hop_s=hop, smoothing_s=smoothing, force=force)
            click.echo(f"wrote {output} (simulated live run, {stats['mode']})")
            _echo_stats(stats)
        elif live:
            from .live import run_live

            stats = run_live(enhancer, reference, input_device=_device(input_device),
                             output_device=_device(output_device), blocksize=blocksize, samplerate=samplerate,
                             latency_s=latency, hop_s=hop, smoothing_s=smoothing, echo=click.echo)
            click.echo("stopped")
            _echo_stats(stats)
        else:
            _run_file(enhancer, input_path, reference, output, hop, smoothing, force, params_out)


def _run_file(enhancer, input_path, reference, output, hop, smoothing, force, params_out):
    from ..io import audio
    from .enhance import enhance_file

    info = audio.info(input_path)
    with contextlib.ExitStack() as stack:
        progress = None
        if info.duration_s >= PROGRESS_MIN_S:
            bar = stack.enter_context(click.progressbar(length=2 * info.frames, label="analysing, then processing",
                                                        file=sys.stderr))
            progress = bar.update
        s = enhance_file(enhancer, input_path, reference, output, hop_s=hop, smoothing_s=smoothing, force=force,
                         params_out=params_out, progress=progress)
    click.echo(f"wrote {output}: {s['duration_s']:.2f} s, {s['sample_rate']} Hz, {s['channels']} channel(s), "
               f"{s['format']} {s['subtype']}, peak {s['output_peak_dbfs']:+.1f} dBFS, in {s['seconds']:.2f} s "
               f"({s['x_realtime']:g} x real time)")
    click.echo(f"{s['windows']} analysis window(s), hop {s['hop_s']:.3f} s, smoothing {s['smoothing_s']:g} s; "
               f"model {s['model']} on {s['backend']}, {s['threads']} thread(s)"
               + (f"; parameter track: {params_out}" if params_out else ""))


@click.command()
@click.option("--model", type=click.Path(dir_okay=False),
              help=f"Exported .tflite [default: ${MODEL_ENV}, else the shipped model].")
@click.option("--num-runs", type=click.IntRange(min=1), default=BENCH_RUNS, show_default=True)
@click.option("--warmup-runs", type=click.IntRange(min=0), default=BENCH_WARMUP_RUNS, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=THREADS, show_default=True)
@click.option("--target-ms", type=FiniteFloat(min=0, min_open=True), default=BENCH_TARGET_MS, show_default=True,
              help="PASS when the end-to-end p95 is at most this.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False),
              help="Also write the report as JSON (replaced if it exists; its folder must exist).")
@click.option("--compare-keras", type=click.Path(dir_okay=False),
              help="Time this Keras model's model.predict in the same run (imports TensorFlow).")
@click.option("--compare-pedalboard", is_flag=True, help="Time pedalboard's EQ + compressor in the same run.")
@click.option("--file", "song", type=click.Path(dir_okay=False),
              help="Time the whole-file path on this song instead: its stages, then `run` beside Matchering (when "
                   "installed) in turn, --pairs times.")
@click.option("--reference", type=click.Path(dir_okay=False), help="The reference for --file.")
@click.option("--pairs", type=click.IntRange(min=1), default=3, show_default=True,
              help="Runs of `run` and of Matchering for --file.")
@click.pass_context
def bench(ctx, model, num_runs, warmup_runs, threads, target_ms, json_out, compare_keras, compare_pedalboard, song,
          reference, pairs):
    """Time one 2.5 s analysis window end to end (2 log-mels, invoke, EQ, compressor); exit 1 on FAIL. With
    --file SONG --reference REF: the whole-file stages and `run` against Matchering (measures only, exit 0)."""
    from ..io.atomic import check_outputs, write_json

    check_outputs({"--json": json_out}, inputs={"--model": model, "--compare-keras": compare_keras, "--file": song,
                                                "--reference": reference}, force=True)
    if song or reference:
        from ..errors import InputError

        if not (song and reference):
            raise InputError("--file and --reference go together")
        with _warnings_as_messages():
            from .filebench import format_file_report, run_file_bench

            result = run_file_bench(song, reference, model_path=model, threads=threads, pairs=pairs)
        for line in format_file_report(result):
            click.echo(line)
        if json_out:
            write_json(json_out, result, indent=1)
        return
    with _warnings_as_messages():
        from .bench import format_bench_report, run_bench

        result = run_bench(model, num_runs=num_runs, warmup_runs=warmup_runs, threads=threads, target_ms=target_ms,
                           compare_keras=compare_keras, compare_pedalboard=compare_pedalboard)
    for line in format_bench_report(result):
        click.echo(line)
    if json_out:
        write_json(json_out, result, indent=1)
    if not result["passed"]:
        ctx.exit(1)
