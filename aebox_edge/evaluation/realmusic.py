"""``aebox-edge eval --excerpts DIR``: the real-music evaluation through the device path, beside the peers a user
would pick instead.

Each excerpt item (``DIR/excerpts.json``, format ``aebox-edge-excerpts`` v1: a dirty recording ``input``, a clean
``reference`` from another part of the same song and the clean ``target``, native rate and channels) is run through
every row and scored against its target with the paper's four metrics (``metrics.evaluate``; DeepAFx-ST, Steinmetz et
al. 2022). Rows, all on the same items in one run:

- **Corrupt**: the input as is.
- **Loudness match**: one gain to the reference's integrated loudness (ITU-R BS.1770, ``baseline.loudness_match``).
- **Baseline**: average-spectrum EQ + loudness match (``baseline.match_reference``).
- **Matchering**: Matchering 2 (``matchering.process`` on the files; a GPL peer used through its public API only,
  never imported by the package itself); its output is read back, resampled to the item's rate if it differs and
  cut or zero-padded to the target's length. Says "not installed" when it cannot be imported.
- **Model int8 / float**: ``runtime.enhance_file`` with an ``Enhancer`` and default options, exactly what
  ``aebox-edge run`` does, on the excerpt files (outputs in a temporary directory). The float row needs a float32
  export (``FLOAT_EXPORT_HINT``); without one the row is left out with a note.
- **Ceiling** (``ceiling=True``): the chain's own 24 parameters fitted per song against the target (a cheating upper
  bound of the EQ + compressor chain): Powell's method (scipy) on the normalized parameters over a few seconds of
  mono audio at a reduced rate, objective = mean absolute log-mel difference (dB) + absolute RMS level difference
  (dB), evaluations capped; then rendered at the native rate and scored like every row.

Every row is a function ``system(item, context) -> audio | Output``; a new row is one line in ``ROWS``. Per row and
metric: mean, median, std, change of the mean against Corrupt and on how many items the row beats Corrupt (strictly
lower); the table (``format_table``), a JSON-able result with per-item values, and figures for the first items
(spectrograms of input, reference, target and every output; the models' parameter tracks).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.util
import json
import os
import tempfile
import time
from typing import Callable

import numpy as np

from aebox_edge.io import atomic, audio
from aebox_edge.evaluation.baseline import loudness_match, match_reference
from aebox_edge.defaults import EXCERPTS_FORMAT
from aebox_edge.errors import InputError
from aebox_edge.evaluation.metrics import METRICS
from aebox_edge.evaluation.metrics import evaluate as clip_metrics
from aebox_edge.evaluation.tables import METRIC_FORMATS, METRIC_LABELS, summarize

EXCERPTS_FILE = "excerpts.json"
RESULT_FORMAT = "aebox-edge-realmusic-eval"
ITEM_FILES = ("input", "reference", "target")
FLOAT_EXPORT_HINT = ("aebox-edge export --model models/aebox_edge_edge.keras --quantize none "
                     "--out models/aebox_edge_edge_float32.tflite")

CEILING_RATE = 24000        # Hz: the fit's analysis rate (the chain's top EQ band ends at 10.8 kHz)
CEILING_SECONDS = 5.0       # s of audio (the centre of the excerpt) the fit sees
CEILING_EVALS = 1500        # objective evaluations per song


# --- arguments: standard library only, so that a bad path fails before anything heavy is imported -------------------

def check_excerpts(directory: str, limit: int | None = None) -> list[dict]:
    """The items of ``directory/excerpts.json`` (the first ``limit``), every file checked to exist; ``InputError``
    naming the path otherwise."""
    if not os.path.isdir(directory):
        raise InputError(f"{directory}: no such excerpts directory")
    path = os.path.join(directory, EXCERPTS_FILE)
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file (the excerpts are written by aebox-edge data build)")
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != EXCERPTS_FORMAT or manifest.get("version") != 1:
        raise InputError(f"{path}: not an {EXCERPTS_FORMAT} version 1 manifest")
    items = manifest.get("items")
    if not isinstance(items, list) or not items:
        raise InputError(f"{path}: lists no items")
    items = items[:limit] if limit else items
    for k, item in enumerate(items):
        missing = [key for key in ("id", *ITEM_FILES) if not isinstance(item, dict) or key not in item]
        if missing:
            raise InputError(f"{path}: item {k} lacks {', '.join(missing)}")
        for key in ITEM_FILES:
            file = os.path.join(directory, item[key])
            if not os.path.isfile(file):
                raise InputError(f"{file}: no such file (item {item['id']} of {path})")
    return items


def check_model(path: str | None, option: str) -> str | None:
    """``path`` if it names an existing ``.tflite`` file (``None`` passes); ``InputError`` naming it otherwise."""
    if path is None:
        return None
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such model file ({option})")
    if not path.endswith(".tflite"):
        raise InputError(f"{path}: {option} takes an exported .tflite model (aebox-edge export)")
    return path


def check_outputs(json_out: str | None, figures: str | None, inputs: dict | None = None) -> None:
    """Refuse a ``--json`` file that ``atomic.check_outputs`` refuses (an existing one is replaced; ``inputs``:
    label -> path this command reads) and ``--figures`` without matplotlib or on a file."""
    atomic.check_outputs({"--json": json_out}, inputs=inputs, force=True)
    if figures is not None:
        if os.path.exists(figures) and not os.path.isdir(figures):
            raise InputError(f"{figures}: exists and is not a directory (--figures)")
        if importlib.util.find_spec("matplotlib") is None:
            raise InputError("--figures needs matplotlib: pip install 'aebox-edge[demo]' (or [train], [dev])")


# --- items, rows and their shared context ---------------------------------------------------------------------------

@dataclasses.dataclass
class Item:
    """One excerpt: its manifest entry, file paths and audio, each (frames, channels) float32 at ``sample_rate``."""

    entry: dict
    paths: dict
    sample_rate: int
    input: np.ndarray
    reference: np.ndarray
    target: np.ndarray

    @property
    def id(self) -> str:
        return str(self.entry["id"])


def load_item(directory: str, entry: dict) -> Item:
    """Read an item's three files; ``InputError`` when their rates differ or input and target differ in length."""
    paths = {key: os.path.join(directory, entry[key]) for key in ITEM_FILES}
    signals, rates = {}, set()
    for key, path in paths.items():
        signals[key], rate = audio.read(path)
        rates.add(rate)
    if len(rates) != 1:
        raise InputError(f"item {entry['id']}: input, reference and target have different rates {sorted(rates)}")
    if len(signals["input"]) != len(signals["target"]):
        raise InputError(f"item {entry['id']}: input ({len(signals['input'])} frames) and target "
                         f"({len(signals['target'])} frames) differ in length")
    return Item(entry, paths, rates.pop(), **signals)


@dataclasses.dataclass
class Context:
    """What the systems share: a scratch directory, the ``Enhancer``s by row key, the ceiling's options."""

    workdir: str
    enhancers: dict
    ceiling: bool = False
    ceiling_evals: int = CEILING_EVALS
    ceiling_seconds: float = CEILING_SECONDS


@dataclasses.dataclass
class Output:
    """A system's output audio and what it reports per item (JSON-able; e.g. a parameter track, fit costs)."""

    audio: np.ndarray
    extra: dict = dataclasses.field(default_factory=dict)


class ItemSkipped(Exception):
    """A peer could not process one item (e.g. Matchering refusing a file); the row goes on without it."""


def corrupt(item: Item, ctx: Context):
    """The recording as is."""
    return item.input


def loudness_matched(item: Item, ctx: Context):
    """One BS.1770 gain to the reference's integrated loudness."""
    return loudness_match(item.input, item.reference, item.sample_rate)


def baseline(item: Item, ctx: Context):
    """Average-spectrum EQ + loudness match to the reference."""
    return match_reference(item.input, item.reference, item.sample_rate)


def matchering_peer(item: Item, ctx: Context):
    """Matchering 2 on the files (target = the recording, reference = the clean reference), read back."""
    import matchering

    out = os.path.join(ctx.workdir, f"{item.id}_matchering.wav")
    warnings = []
    matchering.log(warning_handler=warnings.append)
    try:
        matchering.process(target=item.paths["input"], reference=item.paths["reference"],
                           results=[matchering.pcm24(out)])
    except Exception as exc:  # a peer's refusal of one file (its ModuleError etc.) is reported, not fatal
        raise ItemSkipped(f"{type(exc).__name__}: {exc}") from None
    finally:
        matchering.log()
    y, rate = audio.read(out)
    os.remove(out)
    if rate != item.sample_rate:
        y = audio.resample(y, rate, item.sample_rate)
    return Output(y, {"warnings": warnings} if warnings else {})


def device_model(key: str, item: Item, ctx: Context):
    """``aebox-edge run INPUT --reference REF -o OUT --params-out P`` with default options, via ``enhance_file``."""
    from aebox_edge.runtime import enhance_file

    out = os.path.join(ctx.workdir, f"{item.id}_{key}.wav")
    params = os.path.join(ctx.workdir, f"{item.id}_{key}.params.json")
    summary = enhance_file(ctx.enhancers[key], item.paths["input"], item.paths["reference"], out, params_out=params)
    y, _ = audio.read(out)
    with open(params, encoding="utf-8") as f:
        track = json.load(f)
    os.remove(out)
    os.remove(params)
    return Output(y, {"run_seconds": summary["seconds"], "times_s": track["times_s"], "params": track["params"],
                      "reference_window": track["reference_window"]})


def _mono_segment(x: np.ndarray, sample_rate: int, rate: int, seconds: float) -> np.ndarray:
    mono = audio.resample(np.asarray(x, np.float32).mean(axis=1), sample_rate, rate)
    n = min(len(mono), max(1, round(seconds * rate)))
    start = (len(mono) - n) // 2
    return mono[start:start + n]


def _rms_db(x: np.ndarray) -> float:
    return 10.0 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20)


def fit_chain(x: np.ndarray, target: np.ndarray, sample_rate: int, *, max_evals: int = CEILING_EVALS,
              seconds: float = CEILING_SECONDS, rate: int = CEILING_RATE) -> tuple[np.ndarray, dict]:
    """The chain's normalized parameters (24,) that make ``x`` closest to ``target`` (both (frames, channels) at
    ``sample_rate``), and a record of the fit.

    Powell's derivative-free method (scipy.optimize, bounded to [0, 1]) on the centre ``seconds`` of both, mixed
    to mono at ``rate``; objective = mean |log-mel(chain(x)) - log-mel(target)| in dB (the edge front end's
    1024-point, 64-band mel at ``rate``) + |RMS level difference| in dB. Starts from the neutral chain with the
    make-up gain at the level difference; at most ``max_evals`` evaluations.
    """
    from scipy.optimize import minimize

    from aebox_edge.frontend import FRONT_ENDS, log_mel
    from ddsp_kernels import PARAM_SPEC, apply_chain

    start_time = time.perf_counter()
    front_end = dataclasses.replace(FRONT_ENDS["edge"], sample_rate=rate)
    x_seg = _mono_segment(x, sample_rate, rate, seconds)
    t_seg = _mono_segment(target, sample_rate, rate, seconds)
    t_mel, t_level = log_mel(t_seg, front_end), _rms_db(t_seg)
    evals, best = 0, (np.inf, None)

    def objective(p01):
        nonlocal evals, best
        evals += 1
        p01 = np.clip(p01, 0.0, 1.0)
        y = apply_chain(x_seg, rate, PARAM_SPEC.to_physical(p01))
        value = 1e6
        if np.all(np.isfinite(y)):
            value = float(np.mean(np.abs(log_mel(y, front_end) - t_mel)) + abs(_rms_db(y) - t_level))
        if value < best[0]:
            best = (value, p01.copy())
        return value

    neutral = PARAM_SPEC.neutral()
    neutral["comp_makeup_db"] = float(np.clip(t_level - _rms_db(x_seg), -24.0, 24.0))
    p0 = np.clip(PARAM_SPEC.to_normalized(neutral), 0.0, 1.0)
    first = objective(p0)
    minimize(objective, p0, method="Powell", bounds=[(0.0, 1.0)] * len(PARAM_SPEC),
             options={"maxfev": max(1, max_evals - 1), "xtol": 1e-3, "ftol": 1e-4})
    value, p = best  # the best point evaluated (Powell stopped by maxfev may end on a worse one)
    return p, {"evals": evals, "objective_start": round(first, 4), "objective_end": round(value, 4),
               "fit_seconds": round(time.perf_counter() - start_time, 2), "fit_audio_s": len(x_seg) / rate}


def chain_ceiling(item: Item, ctx: Context):
    """The chain with its 24 parameters fitted to this item's target (``fit_chain``), rendered at the native rate."""
    from ddsp_kernels import PARAM_SPEC, apply_chain

    p, record = fit_chain(item.input, item.target, item.sample_rate, max_evals=ctx.ceiling_evals,
                          seconds=ctx.ceiling_seconds)
    physical = PARAM_SPEC.to_physical(p)
    y = apply_chain(item.input, item.sample_rate, physical)
    return Output(y, {**record, "params": {k: round(float(v), 4) for k, v in physical.items()}})


def _matchering_missing(ctx: Context) -> str | None:
    try:
        importlib.import_module("matchering")
    except ImportError:
        return "not installed (pip install 'matchering>=2.0', in the dev extra)"
    return None


def _model_missing(key: str, ctx: Context) -> str | None:
    if key in ctx.enhancers:
        return None
    return f"no --model-float given; export one with `{FLOAT_EXPORT_HINT}`"


def _ceiling_off(ctx: Context) -> str | None:
    return None if ctx.ceiling else "not requested (--ceiling)"


def _model_label(kind: str, ctx: Context) -> str:
    enhancer = ctx.enhancers.get(kind)
    quantization = enhancer.metadata["quantization"] if enhancer is not None else kind
    return f"aebox-edge run ({'float32' if quantization == 'none' else quantization})"


def _matchering_label(ctx: Context) -> str:
    from importlib import metadata

    if _matchering_missing(ctx) is not None:
        return "Matchering"
    try:
        return f"Matchering {metadata.version('matchering')}"
    except metadata.PackageNotFoundError:
        return "Matchering"


@dataclasses.dataclass(frozen=True)
class Row:
    """One row: a JSON key, its table label (a string, or a function of the context), the system, and two checks
    that return a reason or ``None``: ``unavailable`` (the row is shown with the reason) and ``omitted`` (the row is
    left out, the reason becomes a note under the table)."""

    key: str
    label: str | Callable[[Context], str]
    system: Callable[[Item, Context], object]
    unavailable: Callable[[Context], str | None] = lambda ctx: None
    omitted: Callable[[Context], str | None] = lambda ctx: None

    def title(self, ctx: Context) -> str:
        return self.label if isinstance(self.label, str) else self.label(ctx)


ROWS = (
    Row("corrupt", "Corrupt (the recording)", corrupt),
    Row("loudness", "Loudness match (BS.1770, one gain)", loudness_matched),
    Row("baseline", "Baseline (spectrum EQ + loudness)", baseline),
    Row("matchering", _matchering_label, matchering_peer, unavailable=_matchering_missing),
    Row("int8", functools.partial(_model_label, "int8"), functools.partial(device_model, "int8")),
    Row("float", functools.partial(_model_label, "float"), functools.partial(device_model, "float"),
        omitted=functools.partial(_model_missing, "float")),
    Row("ceiling", "Chain ceiling (24 params fitted to target)", chain_ceiling, omitted=_ceiling_off),
)


# --- running, summarizing, formatting ------------------------------------------------------------------------------

def _aligned(y, frames: int) -> np.ndarray:
    """``y`` as (frames, channels) float32, cut or zero-padded to ``frames``."""
    y = np.asarray(y, dtype=np.float32)
    y = y[:, None] if y.ndim == 1 else y
    if len(y) >= frames:
        return y[:frames]
    return np.concatenate([y, np.zeros((frames - len(y), y.shape[1]), np.float32)])


def summarize_row(values: list[dict], corrupt_values: list[dict]) -> dict:
    """Mean, median, std, change of the mean against Corrupt (%, negative = better) and the items on which the row
    is strictly lower than Corrupt, per metric (``metrics.summarize`` for mean, std and change)."""
    base = summarize(corrupt_values, {"row": values})["rows"]["row"]
    by_id = {v["id"]: v for v in corrupt_values}
    array = np.array([[v[m] for m in METRICS] for v in values], dtype=np.float64)
    return {
        "n": len(values),
        "mean": base["mean"], "std": base["std"],
        "median": dict(zip(METRICS, np.median(array, axis=0).tolist())),
        "change_pct": {m: (None if p is None else -p) for m, p in base["improvement_pct"].items()},
        "beats_corrupt": {m: int(sum(v[m] < by_id[v["id"]][m] for v in values)) for m in METRICS},
        "seconds_per_item": float(np.mean([v["seconds"] for v in values])),
    }


def format_table(rows: dict, notes: list[str] = ()) -> str:
    """Markdown table of a result's ``rows``, in the style of ``metrics.format_table``: per metric ``mean / median``
    and, after Corrupt, ``(change of the mean vs Corrupt, items beating Corrupt / items)``; unavailable rows show
    their reason; ``notes`` follow the table."""
    header = ["Method", "n"] + [METRIC_LABELS[m] for m in METRICS] + ["s / item"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for key, row in rows.items():
        if row["status"] != "ok":
            lines.append("| " + " | ".join([row["label"], "0", row["note"]] + ["–"] * (len(METRICS) - 1) + ["–"])
                         + " |")
            continue
        cells = [row["label"], str(row["n"])]
        for m in METRICS:
            cell = f"{METRIC_FORMATS[m].format(row['mean'][m])} / {METRIC_FORMATS[m].format(row['median'][m])}"
            if key != "corrupt":
                change = row["change_pct"][m]
                change = "n/a" if change is None else ("0 %" if abs(change) < 0.5 else f"{change:+.0f} %")
                cell += f" ({change}, {row['beats_corrupt'][m]}/{row['n']})"
            cells.append(cell)
        cells.append(f"{row['seconds_per_item']:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Cells: mean / median over items (change of the mean vs Corrupt, items where the row is below Corrupt"
                 " / items); lower is better.")
    lines += [f"Note: {note}" for note in notes]
    return "\n".join(lines)


def _figures(figures: str, item: Item, outputs: dict, labels: dict) -> list[str]:
    from aebox_edge.evaluation.plots import plot_param_track, plot_spectrograms

    signals = {"Input (Corrupt)": item.input, "Reference": item.reference, "Target": item.target}
    signals.update({labels[k]: out.audio for k, out in outputs.items() if k != "corrupt"})
    paths = [plot_spectrograms(os.path.join(figures, f"{item.id}_spectrograms.png"), signals, item.sample_rate)]
    for key, out in outputs.items():
        if "times_s" in out.extra:
            paths.append(plot_param_track(os.path.join(figures, f"{item.id}_params_{key}.png"), out.extra["times_s"],
                                          out.extra["params"], title=f"{labels[key]}, item {item.id}"))
    return paths


def evaluate_excerpts(directory: str, model: str, model_float: str | None = None, *, ceiling: bool = False,
                      ceiling_evals: int = CEILING_EVALS, ceiling_seconds: float = CEILING_SECONDS,
                      limit: int | None = None, figures: str | None = None, figure_count: int = 3,
                      rows: tuple[Row, ...] = ROWS, echo: Callable[[str], None] | None = None) -> dict:
    """Score every row of ``rows`` on the excerpt items of ``directory`` (the first ``limit``); returns the
    JSON-able result with ``table``. Bad paths raise ``InputError`` before any audio is read or model loaded.
    ``echo`` gets one progress line per item."""
    entries = check_excerpts(directory, limit)
    check_model(model, "--model")
    check_model(model_float, "--model-float")
    check_outputs(None, figures)
    from aebox_edge.runtime import Enhancer

    enhancers = {"int8": Enhancer(model)}
    if model_float is not None:
        enhancers["float"] = Enhancer(model_float)
    if figures:
        os.makedirs(figures, exist_ok=True)
    start_time = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="aebox-edge-eval-") as workdir:
        ctx = Context(workdir, enhancers, ceiling, ceiling_evals, ceiling_seconds)
        result_rows, active, notes = {}, [], []
        for row in rows:
            omitted = row.omitted(ctx)
            if omitted is not None:
                notes.append(f"{row.title(ctx)}: left out: {omitted}")
                continue
            reason = row.unavailable(ctx)
            result_rows[row.key] = {"label": row.title(ctx), "status": "ok" if reason is None else "unavailable",
                                    "note": reason, "per_item": [], "skipped": []}
            if reason is None:
                active.append(row)
        labels = {key: r["label"] for key, r in result_rows.items()}
        items, figure_paths = [], []
        for k, entry in enumerate(entries):
            item = load_item(directory, entry)
            outputs = {}
            for row in active:
                t0 = time.perf_counter()
                try:
                    out = row.system(item, ctx)
                except ItemSkipped as exc:
                    result_rows[row.key]["skipped"].append({"id": item.id, "reason": str(exc)})
                    continue
                out = out if isinstance(out, Output) else Output(out)
                out.audio = _aligned(out.audio, len(item.target))
                seconds = time.perf_counter() - t0
                scores = clip_metrics(out.audio, item.target, item.sample_rate)
                result_rows[row.key]["per_item"].append({"id": item.id, **scores, "seconds": round(seconds, 3),
                                                         **out.extra})
                outputs[row.key] = out
            if figures and k < figure_count:
                figure_paths += _figures(figures, item, outputs, labels)
            items.append({"id": item.id, **{key: entry.get(key) for key in ("song", "package", "licence")},
                          "sample_rate": item.sample_rate, "channels": int(item.input.shape[1]),
                          "seconds": round(len(item.input) / item.sample_rate, 3)})
            if echo is not None:
                echo(f"item {k + 1}/{len(entries)} ({item.id}, {entry.get('song', '?')}) done "
                     f"[{time.perf_counter() - start_time:.0f} s]")
    corrupt_values = result_rows["corrupt"]["per_item"]
    for key, row in result_rows.items():
        if row["status"] == "ok" and not row["per_item"]:
            row.update(status="unavailable", note=f"failed on every item ({row['skipped'][0]['reason']})")
        if row["status"] == "ok":
            row.update(summarize_row(row["per_item"], corrupt_values))
        if row["skipped"]:
            notes.append(f"{row['label']}: skipped {len(row['skipped'])} item(s): "
                         + "; ".join(f"{s['id']}: {s['reason']}" for s in row["skipped"][:3]))
    table = format_table(result_rows, notes)
    return {
        "format": RESULT_FORMAT, "version": 1,
        "excerpts": os.path.abspath(directory), "items": items, "metrics": list(METRICS),
        "models": {key: {"path": os.path.abspath(e.model_path), "sha256": e.metadata["sha256"],
                         "quantization": e.metadata["quantization"], "backend": str(e.backend)}
                   for key, e in enhancers.items()},
        "options": {"ceiling": ceiling, "ceiling_evals": ceiling_evals, "ceiling_seconds": ceiling_seconds,
                    "ceiling_rate": CEILING_RATE, "limit": limit},
        "rows": result_rows, "notes": notes, "table": table, "figures": figure_paths,
        "seconds": round(time.perf_counter() - start_time, 1),
    }
