"""The results table of an evaluation: per-method mean, std and improvement over the **Corrupt** row (input vs
target) of the metrics of ``metrics.evaluate``, as JSON-able data (``summarize``) and as Markdown (``format_table``)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .metrics import METRICS

METRIC_LABELS = {"msd": "MSD", "sce": "SCE (Hz)", "rms": "RMS", "lufs": "LUFS (LU)"}
METRIC_FORMATS = {"msd": "{:.2f}", "sce": "{:.1f}", "rms": "{:.2f}", "lufs": "{:.2f}"}


def summarize(corrupt, rows):
    """Mean, population std and improvement over Corrupt (%) per metric, as a JSON-able dict.

    ``corrupt`` is the list of per-clip metric dicts of the input against the target; ``rows`` maps a method name to
    its list of per-clip dicts. Returns ``{"metrics": [...], "rows": {name: {"n", "mean", "std",
    "improvement_pct"}}}`` with Corrupt first; an improvement is ``None`` where Corrupt's mean is 0. Raises
    ``InputError`` for a row named Corrupt in ``rows`` or a row without clips.
    """
    if "Corrupt" in rows:
        raise InputError("'Corrupt' is given separately; rename that row")
    table = {}
    for name, clips in {"Corrupt": corrupt, **rows}.items():
        if not clips:
            raise InputError(f"row {name!r} has no clips")
        values = np.array([[clip[m] for m in METRICS] for clip in clips], dtype=np.float64)
        table[name] = {
            "n": len(clips),
            "mean": dict(zip(METRICS, values.mean(axis=0).tolist())),
            "std": dict(zip(METRICS, values.std(axis=0).tolist())),
        }
    base = table["Corrupt"]["mean"]
    for entry in table.values():
        entry["improvement_pct"] = {
            m: (100.0 * (base[m] - entry["mean"][m]) / base[m] if base[m] else None) for m in METRICS
        }
    return {"metrics": list(METRICS), "rows": table}


def format_table(corrupt, rows, improvement=True):
    """Markdown table of mean ± std per metric, Corrupt first, then ``rows`` in order (see :func:`summarize`).

    With ``improvement``, a last column gives the mean over the four metrics of the improvement over Corrupt in %.
    """
    summary = summarize(corrupt, rows)["rows"]
    header = ["Method", "n"] + [METRIC_LABELS[m] for m in METRICS] + (["vs Corrupt"] if improvement else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for name, entry in summary.items():
        cells = [name, str(entry["n"])]
        cells += [f"{METRIC_FORMATS[m].format(entry['mean'][m])} ± {METRIC_FORMATS[m].format(entry['std'][m])}" for m in METRICS]
        if improvement:
            pct = [p for p in entry["improvement_pct"].values() if p is not None]
            cells.append(f"{np.mean(pct):+.1f} %" if pct else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
