"""Defaults and choice lists shared by the command line and the code. Standard library only: the CLI imports this
module while ``aebox-edge --help`` must import no numpy."""

import os

# the shipped model (``models/``, installed as the package data ``aebox_edge/models/``)
MODEL_ENV = "AEBOX_EDGE_MODEL"                         # environment variable naming the model to run
DEFAULT_MODEL = "aebox_edge_edge_int8.tflite"          # the runtime's model
DEFAULT_KERAS_MODEL = os.path.join("models", "aebox_edge_edge.keras")  # the float model it was exported from

# enhancement (``aebox-edge run``, ``Enhancer.process``, the live engine)
# seconds between analysis windows. Files: contiguous windows (one window apart), half the analysis of 1.25 s for
# the same results (on the tuning sets of training songs every mean within 0.2 Hz SCE and 0.001 in MSD, RMS and
# LUFS; models/MODEL_CARD.md, "The file hop"). Live: the analysis thread's interval, so the parameters follow sooner.
HOP_S = 2.5
LIVE_HOP_S = 1.25
SMOOTHING_S = 2.5    # Gaussian sigma of the parameter track (files); EMA time constant (live)
THREADS = 1          # interpreter threads of the library's analysers and of `bench` (one core, as the paper timed)


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the OS reports one, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# `aebox-edge run`: two threads where there are two cores (the interpreter's, and for files the analysis and the
# rendering passes overlap their stages, ``runtime.pipeline``; the output is the same bit for bit). On a 4-minute
# 44.1 kHz stereo song on the 2-core development box, 3.47-3.55 s against 4.24-4.59 s with one (three runs each,
# in turn); beyond two the passes have nothing more to overlap.
RUN_THREADS = min(2, usable_cpus())
BLOCKSIZE = 512      # live / simulated audio block in frames
LATENCY_S = 0.1      # live output buffering in seconds (absorbs the model's invoke)

# ``aebox-edge bench``
BENCH_RUNS = 100
BENCH_WARMUP_RUNS = 5
BENCH_TARGET_MS = 90.0  # the paper's budget per prediction

# ``aebox-edge export``
QUANTIZE_MODES = ("int8", "float16", "dynamic", "none")
CALIBRATION_CLIPS = 200
VERIFY_CLIPS = 32

# ``aebox-edge data``: the production styles (``aebox_edge.data.styles``)
STYLE_PRESETS = ("neutral", "broadcast", "telephone", "bright", "warm")
STYLE_NAMES = STYLE_PRESETS + ("random",)

# the real-music evaluation excerpts that `data build --corpus` writes and `eval --excerpts` reads
EXCERPTS_FORMAT = "aebox-edge-excerpts"
