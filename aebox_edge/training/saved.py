"""A trained analyser on disk, as ``eval``, ``export`` and ``train --init-from`` take it: a run directory
(``model.keras`` + the run's ``config.json``) or a bare ``.keras`` file, and the front end it analyses."""

from __future__ import annotations

import json
import os

from aebox_edge.errors import InputError
from aebox_edge.frontend import FRONT_ENDS, MATCH_FEATURES, FrontEndConfig

from .config import CONFIG_FILE, MODEL_FILE


def saved_model_file(path: str) -> str:
    """The ``.keras`` file of a run directory or a ``.keras`` path, checked without importing TensorFlow; raises
    ``InputError`` naming the path when there is none."""
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, MODEL_FILE)
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such model (give a run directory or a .keras file)")
    if not path.endswith(".keras"):
        raise InputError(f"{path}: expected a run directory or a .keras file")
    return path


def load_saved_analyser(path: str):
    """``(keras model, path of the .keras file, run record)`` for a run directory or a ``.keras`` file; the run
    record is the ``config.json`` beside the model, or ``{}`` when there is none."""
    path = saved_model_file(path)
    import keras

    record = {}
    record_path = os.path.join(os.path.dirname(path), CONFIG_FILE)
    if os.path.isfile(record_path):
        try:
            with open(record_path, encoding="utf-8") as f:
                record = json.load(f)
        except (OSError, ValueError) as exc:
            raise InputError(f"{record_path}: unreadable training config ({exc})") from None
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # keras raises ValueError, TypeError, OSError... for files it cannot read
        raise InputError(f"{path}: cannot load Keras model ({type(exc).__name__}: {exc})") from None
    return model, path, record


def model_front_end(model, config: str | None = None, run_record: dict | None = None) -> FrontEndConfig:
    """The analyser's front end: ``config``, else the training run's, else the one matching the model's input shape;
    refused when the model's input shape or the run's recorded front end differ from this code's."""
    features = [t for t in model.inputs if t.name != MATCH_FEATURES]
    shapes = {tuple(t.shape[1:]) for t in features}
    if len(features) != 2 or len(shapes) != 1:
        raise InputError(f"the analyser must take two feature inputs of one shape (frames, n_mels, 1) (and its "
                         f"match features), got {[tuple(t.shape) for t in model.inputs]}")
    shape = shapes.pop()
    run_record = run_record or {}
    config = config or run_record.get("train", {}).get("config")
    if config is None:
        matches = [f for f in FRONT_ENDS.values() if shape == (*f.shape, 1)]
        if not matches:
            raise InputError(f"model input shape {shape} matches no front end ("
                             + ", ".join(f"{f.name}: {(*f.shape, 1)}" for f in FRONT_ENDS.values()) + ")")
        return matches[0]
    if config not in FRONT_ENDS:
        raise InputError(f"unknown front-end config {config!r}; choose from {', '.join(FRONT_ENDS)}")
    front_end = FRONT_ENDS[config]
    if shape != (*front_end.shape, 1):
        raise InputError(f"model input shape {shape} does not match the {config!r} front end {(*front_end.shape, 1)}")
    if "front_end" in run_record and run_record["front_end"] != front_end.to_dict():
        raise InputError(f"the model was trained with a front end that differs from this code's {config!r} front end; "
                         f"retrain it (or export it with the code it was trained with)")
    return front_end
