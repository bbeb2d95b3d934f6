"""``aebox-edge train-corrections``: the edge analyser's controller trained on excerpt-level examples
(``training.excerpt_data``) with the metrics as the loss (``training.metric_loss``).

The encoder is kept as it is (its embeddings of every window and of each reference are computed once); the
controller's dense layers and its correction head learn logit corrections of the analytic EQ fit. The compressor's
corrections are held at zero (the loss keeps the dynamics as the runtime made them, so it says nothing about them)
and the saved head outputs exact zeros for them. Loss per window: the excerpt's MSD, RMS, SCE and LUFS error after
the window's correction, each divided by its mean over the training excerpts at zero correction (so each counts by
its relative change; ``weights`` weigh the four), plus ``l2`` times the mean squared correction. The epoch kept is
the one whose *validation* excerpts (songs not in the training examples) score best on the same sum, each excerpt's
corrections averaged over its windows as the runtime's smoothing averages them; the untrained head (the analytic
fit) is epoch 0, so a head that does not beat it on the validation songs is not kept.
"""

from __future__ import annotations

import os
import time

import numpy as np

from ddsp_kernels import PARAM_SPEC
from ddsp_kernels.match import P_EPS

from ..errors import InputError
from ..io.atomic import atomic_path, write_json
from .config import (CORRECTION_BATCH, CORRECTION_EPOCHS, CORRECTION_L2, CORRECTION_LAYERS, CORRECTION_LR,
                     CORRECTION_WEIGHTS)
from .excerpt_data import load_examples
from .metric_loss import METRIC_KEYS, metric_terms, padded_terms

EQ_MASK = np.array([0.0 if name.startswith("comp_") else 1.0 for name in PARAM_SPEC.names], np.float32)


def _controller(model):
    """A Keras model (encoder embedding of the input, of the reference, match features) -> corrections that shares
    the analyser's controller layers (training it trains them)."""
    import keras

    encoder = model.get_layer("encoder")
    width = encoder.output.shape[-1]
    e_in, e_ref = keras.Input((width,)), keras.Input((width,))
    match = keras.Input(model.inputs[2].shape[1:])
    x = model.get_layer("concat")([e_in, e_ref, model.get_layer("match_scale")(match)])
    layers = [layer for layer in model.layers if layer.name.startswith("controller_")]
    for layer in layers:
        x = layer(x)
    return keras.Model([e_in, e_ref, match], model.get_layer("correction")(x)), encoder


def _embed(encoder, features: list[np.ndarray], batch: int = 64) -> np.ndarray:
    """Encoder embeddings of log-mels given as a list of (windows, frames, mels) arrays, all windows in order."""
    stacked = np.concatenate(features).astype(np.float32)[..., None]
    return np.concatenate([encoder.predict_on_batch(stacked[i:i + batch]) for i in range(0, len(stacked), batch)])


def _prepare(encoder, examples: dict) -> dict:
    counts = np.array([len(f) for f in examples["features"]])
    return {"embedding": _embed(encoder, examples["features"]),
            "reference": _embed(encoder, [r[None] for r in examples["reference"]]),
            "match": np.concatenate(examples["match"]).astype(np.float32),
            "excerpt": np.repeat(np.arange(len(counts)), counts), "counts": counts,
            "terms": padded_terms(examples)}


def _gather(terms: dict, index):
    import tensorflow as tf

    return {key: tf.gather(value, index) for key, value in terms.items()}


def train_corrections(model_path: str, train_path, val_path: str, out_path: str, *, epochs: int = CORRECTION_EPOCHS,
                      batch_size: int = CORRECTION_BATCH, lr: float = CORRECTION_LR, l2: float = CORRECTION_L2,
                      weights=CORRECTION_WEIGHTS, train_layers: str = CORRECTION_LAYERS[0], seed: int = 0,
                      echo=print) -> dict:
    """Train the controller of the analyser at ``model_path`` on the examples at ``train_path`` (one path or
    several), choose the epoch on ``val_path``, save the analyser to ``out_path`` (``.keras``, atomically) with a
    ``.json`` record beside it (per-epoch validation metrics); returns the record. Raises ``InputError`` for a model
    without a correction head or unreadable examples."""
    import keras
    import tensorflow as tf

    from .saved import load_saved_analyser

    model, _, _ = load_saved_analyser(model_path)
    if "correction" not in [layer.name for layer in model.layers]:
        raise InputError(f"{model_path}: not a correction analyser (edge)")
    keras.utils.set_random_seed(seed)
    controller, encoder = _controller(model)
    if train_layers not in CORRECTION_LAYERS:
        raise InputError(f"train_layers must be one of {CORRECTION_LAYERS}, got {train_layers!r}")
    for layer in controller.layers:
        layer.trainable = train_layers == "controller" or layer.name == "correction"
    head = model.get_layer("correction")
    trainable = controller.trainable_variables if train_layers != "bias" else [head.bias]
    train, val = (_prepare(encoder, load_examples(p)) for p in (train_path, val_path))
    train_terms = {k: tf.constant(v) for k, v in train["terms"].items()}
    val_terms = {k: tf.constant(v) for k, v in val["terms"].items()}
    mask = tf.constant(EQ_MASK)

    def params(corrections, p0):
        p = tf.clip_by_value(p0, P_EPS, 1.0 - P_EPS)
        return tf.sigmoid(tf.math.log(p / (1.0 - p)) + corrections * mask)

    zero = metric_terms(train_terms["p0"], train_terms)
    scales = {k: float(tf.reduce_mean(zero[k])) / w for k, w in zip(METRIC_KEYS, weights) if w > 0}
    optimizer = keras.optimizers.Adam(lr)

    @tf.function
    def step(e_in, e_ref, match, index):
        terms = _gather(train_terms, index)
        with tf.GradientTape() as tape:
            c = controller([e_in, e_ref, match], training=True) * mask
            m = metric_terms(params(c, terms["p0"]), terms)
            loss = tf.add_n([tf.reduce_mean(m[k]) / scales[k] for k in scales]) + l2 * tf.reduce_mean(c * c)
        grads = tape.gradient(loss, trainable)
        optimizer.apply_gradients(zip(grads, trainable))
        return loss

    def validate() -> dict:
        c = controller.predict_on_batch([val["embedding"], val["reference"][val["excerpt"]], val["match"]])
        per_excerpt = np.stack([c[val["excerpt"] == i].mean(axis=0) for i in range(len(val["counts"]))]) * EQ_MASK
        m = metric_terms(params(tf.constant(per_excerpt), val_terms["p0"]), val_terms)
        out = {k: float(tf.reduce_mean(m[k])) for k in METRIC_KEYS}
        out["score"] = sum(out[k] / scales[k] for k in scales)
        out["mean_abs_correction"] = float(np.abs(per_excerpt).sum() / EQ_MASK.sum() / len(per_excerpt))
        return out

    rng = np.random.default_rng(seed)
    history = [{"epoch": 0, **validate()}]
    best, best_weights = history[0], [w.copy() for w in controller.get_weights()]
    echo(f"epoch 0 (analytic fit): {history[0]}")
    n = len(train["excerpt"])
    for epoch in range(1, epochs + 1):
        t0, losses = time.perf_counter(), []
        order = rng.permutation(n)
        for i in range(0, n, batch_size):
            b = order[i:i + batch_size]
            losses.append(float(step(train["embedding"][b], train["reference"][train["excerpt"][b]],
                                     train["match"][b], train["excerpt"][b])))
        record = {"epoch": epoch, "train_loss": float(np.mean(losses)), **validate(),
                  "seconds": round(time.perf_counter() - t0, 1)}
        history.append(record)
        echo(f"epoch {epoch}: {record}")
        if record["score"] < best["score"]:
            best, best_weights = record, [w.copy() for w in controller.get_weights()]
    controller.set_weights(best_weights)
    kernel, bias = head.get_weights()
    head.set_weights([kernel * EQ_MASK, bias * EQ_MASK])  # the compressor's corrections: exact zeros
    train_paths = [train_path] if isinstance(train_path, (str, os.PathLike)) else list(train_path)
    result = {"model": os.path.abspath(model_path), "train": [os.path.abspath(p) for p in train_paths],
              "val": os.path.abspath(val_path), "train_excerpts": int(len(train["counts"])),
              "train_windows": int(n), "val_excerpts": int(len(val["counts"])), "epochs": epochs,
              "batch_size": batch_size, "lr": lr, "l2": l2, "weights": list(weights), "train_layers": train_layers,
              "seed": seed, "scales": scales,
              "chosen_epoch": best["epoch"], "history": history}
    with atomic_path(out_path, suffix=".keras") as tmp:
        model.save(tmp)
    write_json(os.path.splitext(out_path)[0] + ".json", result)
    return result
