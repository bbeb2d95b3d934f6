"""``aebox-edge eval``: the paper's four metrics (``aebox_edge.evaluation.metrics``) over a dataset, for the rows
Corrupt (input vs target), Baseline (``aebox_edge.evaluation.baseline``) and the model (its predicted parameters applied
with the runtime's ``ddsp_kernels.apply_chain``, then the runtime's level stage ``aebox_edge.runtime.level``), with
figures like the paper's Fig. 3 (spectrograms) and Fig. 12 (waveforms)."""

from __future__ import annotations

import os

import numpy as np

from aebox_edge.evaluation.baseline import match_reference
from aebox_edge.data.dataset import open_dataset
from aebox_edge.errors import InputError
from aebox_edge.frontend import analysis_features, clip_match_inputs
from aebox_edge.runtime.level import level_loudness, level_stage
from aebox_edge.evaluation.metrics import evaluate as clip_metrics
from aebox_edge.evaluation.tables import format_table, summarize
from aebox_edge.evaluation.plots import plot_clip
from ddsp_kernels import PARAM_SPEC, apply_chain
from ddsp_kernels.match import combine

from .networks import output_kind
from .saved import load_saved_analyser, model_front_end


def load_predictor(path: str):
    """``(predict, front end, config name)`` from a run directory or a ``.keras`` analyser (see ``.saved``), or from
    an exported ``.tflite`` (run by the device runtime's ``Enhancer``, front end from its metadata).
    ``predict(inputs, references)`` maps a batch of clips at the front end's rate to normalized parameters
    (batch, 24), computing the model's inputs as training does (``analysis_features``, ``clip_match_inputs``)."""
    path = os.fspath(path)
    if path.endswith(".tflite"):
        from aebox_edge.runtime import Enhancer

        enhancer = Enhancer(path)

        def predict_tflite(inputs, references):
            return np.stack([enhancer.predict(*enhancer.prepare(a, b)) for a, b in zip(inputs, references)])

        meta = enhancer.metadata
        return predict_tflite, enhancer.front_end, f"{meta['model_config']} {meta['quantization']}"
    model, path, record = load_saved_analyser(path)
    front_end = model_front_end(model, None, record)

    def predict(inputs, references):
        features = list(analysis_features(inputs, references, front_end))
        if output_kind(model) != "correction":
            return np.asarray(model(features, training=False))
        match, analytic = clip_match_inputs(inputs, references, front_end)
        return combine(analytic, np.asarray(model([*features, match], training=False)))

    return predict, front_end, front_end.name


def evaluate_model(model_path: str, data: str, batch_size: int = 16, figures: str | None = None,
                   figure_count: int = 3, progress=None, loaded=None) -> dict:
    """Metrics per clip and their summary for Corrupt, Baseline and the model; figures of the first
    ``figure_count`` clips into ``figures``. ``progress(n)`` is called per batch of n clips. ``loaded`` is
    :func:`load_predictor`'s result for ``model_path`` if the caller has it already."""
    predict, front_end, config = loaded or load_predictor(model_path)
    reader = open_dataset(data)
    sr = int(reader.manifest["sample_rate"])
    if sr != front_end.sample_rate:
        raise InputError(f"{data} is at {sr} Hz; the model's front end analyses {front_end.sample_rate} Hz audio")
    row = f"Model ({config})"
    rows = {"Corrupt": [], "Baseline": [], row: []}
    parameters = []
    if figures:
        os.makedirs(figures, exist_ok=True)
    for batch in reader.batches(batch_size):
        p01 = np.asarray(predict(batch["input"], batch["reference"]), dtype=np.float64)
        physical = PARAM_SPEC.as_array(PARAM_SPEC.to_physical(p01))
        for b, (x, ref, target) in enumerate(zip(batch["input"], batch["reference"], batch["target"])):
            predicted = apply_chain(x, sr, PARAM_SPEC.as_dict(physical[b]))
            predicted = level_stage(predicted, sr, level_loudness(ref, sr), level_loudness(x, sr))
            rows["Corrupt"].append(clip_metrics(x, target, sr))
            rows["Baseline"].append(clip_metrics(match_reference(x, ref, sr), target, sr))
            rows[row].append(clip_metrics(predicted, target, sr))
            parameters.append(physical[b].tolist())
            if figures and len(parameters) <= figure_count:
                plot_clip(os.path.join(figures, f"clip{len(parameters) - 1:03d}"), x, predicted, target, sr)
        if progress is not None:
            progress(len(batch["input"]))
    corrupt = rows.pop("Corrupt")
    return {
        "model": os.path.abspath(model_path), "data": os.path.abspath(data), "config": config,
        "examples": len(corrupt), "sample_rate": sr,
        "table": format_table(corrupt, rows),
        "summary": summarize(corrupt, rows),
        "per_clip": {"Corrupt": corrupt, **rows},
        "predicted_params": {"names": list(PARAM_SPEC.names), "values": parameters},
    }
