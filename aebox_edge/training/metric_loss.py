"""The paper's four metrics as a differentiable loss of EQ corrections, taken around the runtime's own output
(``training.excerpt_data``): the MSD, RMS, SCE and LUFS error that ``evaluation.metrics`` would give the output of
an excerpt if its EQ ``p`` replaced the analytic fit ``p0``, the compressor and the limiter's shape left as they
acted.

With ``rho_j = |H_p / H_p0|`` on the grid cells (``dsp_tf.eq_magnitude_db``), ``k`` and ``q`` the changes (dB) of
the output's K-weighted and plain power (``10 log10 sum_j K_j rho_j^2``, ``K``, ``P`` its powers per cell summing to
1):

- the level stage's gain moves by ``-k`` (it holds the loudness), unless the peak (``runtime.level.level_peak``),
  taken to move with the plain level ``q``, would then need more limiting than it allows: the gain change is
  ``min(-k, h - q) - min(0, h)`` (:func:`level_gain_change_db`; ``h`` the headroom the runtime's output had
  below that cap, negative where it bound), so a boost that would be limited away costs loudness, as it does;
- MSD: each frame's mel band ``m`` becomes ``mel0 10^(gain/20) sum_j W[m, j] rho_j``, then ``mean|ln M -
  ln M_target| + mean|M - M_target|`` with the metric's floor (Steinmetz et al. 2022);
- RMS: ``ln(10) |rms0_db + gain + q - rms_target_db|`` (the metric's ``|20 ln rms_x - 20 ln rms_y|``);
- SCE: the output's mean centroid moved by the change of the frame-normalized moment
  ``sum_j rho_j F_j / sum_j rho_j S_j``;
- LUFS: ``|lufs0_error + gain + k|``.

At ``p = p0`` every term is the metric of the runtime's output exactly. Not modelled: the +40 dB cap on the total
gain and the limiter's own reshaping of peaks.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from ..evaluation.metrics import MSD_FLOOR
from .dsp_tf import eq_magnitude_db
from .excerpt_data import GRID_CENTRES_HZ

METRIC_KEYS = ("msd", "rms", "sce", "lufs")


def padded_terms(examples: dict) -> dict:
    """The loss's per-excerpt tensors from ``excerpt_data.load_examples``: the ragged mel frames zero-padded with a
    frame mask, everything float32 (``sample_rate`` float64)."""
    frames = max(len(m) for m in examples["mel0"])
    n = len(examples["mel0"])
    mel0 = np.zeros((n, frames, examples["mel0"][0].shape[1]), np.float32)
    target = np.ones_like(mel0)
    mask = np.zeros((n, frames), np.float32)
    for i, (a, b) in enumerate(zip(examples["mel0"], examples["mel_target"])):
        mel0[i, :len(a)], target[i, :len(b)], mask[i, :len(a)] = a, b, 1.0
    out = {"mel0": mel0, "mel_target": target, "mask": mask}
    for key in ("weights", "plain", "kweighted", "shape", "shape_f", "rms0_db", "rms_target_db", "sce0",
                "sce_target", "lufs0_error", "headroom_db", "p0"):
        out[key] = np.asarray(examples[key], np.float32)
    out["sample_rate"] = np.asarray(examples["sample_rate"], np.float64)
    return out


def metric_terms(p01, terms: dict) -> dict:
    """Per-item ``msd``, ``rms``, ``sce``, ``lufs`` (batch,) of EQ ``p01`` (batch, 24) against the items'
    ``terms`` (the :func:`padded_terms` of each item, gathered to the batch)."""
    p01 = tf.cast(p01, tf.float64)
    p0 = tf.cast(terms["p0"], tf.float64)
    both = eq_magnitude_db(tf.concat([p01, p0], 0), GRID_CENTRES_HZ,
                           tf.concat([terms["sample_rate"], terms["sample_rate"]], 0))
    delta_db = tf.cast(tf.split(both, 2)[0] - tf.split(both, 2)[1], tf.float32)
    rho = tf.pow(10.0, delta_db / 20.0)  # (batch, cells)
    rho2 = rho * rho
    plain_db = 10.0 / math.log(10.0) * tf.math.log(tf.reduce_sum(terms["plain"] * rho2, -1))
    k_db = 10.0 / math.log(10.0) * tf.math.log(tf.reduce_sum(terms["kweighted"] * rho2, -1))
    gain_db = level_gain_change_db(k_db, plain_db, terms["headroom_db"])
    band = tf.einsum("bmj,bj->bm", terms["weights"], rho) * tf.pow(10.0, gain_db / 20.0)[:, None]
    mel = tf.maximum(terms["mel0"] * band[:, None, :], MSD_FLOOR)
    target, mask = terms["mel_target"], terms["mask"][..., None]
    count = tf.reduce_sum(mask, [1, 2]) * tf.cast(tf.shape(mel)[-1], tf.float32)
    log_term = tf.reduce_sum(tf.abs(tf.math.log(mel) - tf.math.log(target)) * mask, [1, 2]) / count
    lin_term = tf.reduce_sum(tf.abs(mel - target) * mask, [1, 2]) / count
    moment = tf.reduce_sum(rho * terms["shape_f"], -1) / tf.maximum(tf.reduce_sum(rho * terms["shape"], -1), 1e-12)
    moment0 = tf.reduce_sum(terms["shape_f"], -1) / tf.maximum(tf.reduce_sum(terms["shape"], -1), 1e-12)
    return {"msd": log_term + lin_term,
            "rms": math.log(10.0) * tf.abs(terms["rms0_db"] + gain_db + plain_db - terms["rms_target_db"]),
            "sce": tf.abs(terms["sce0"] + moment - moment0 - terms["sce_target"]),
            "lufs": tf.abs(terms["lufs0_error"] + gain_db + k_db)}


def level_gain_change_db(k_change_db, plain_change_db, headroom_db):
    """The change of the level stage's gain (dB) when an EQ change moves the chain output's K-weighted power by
    ``k_change_db`` and its plain power by ``plain_change_db``: the loudness gain moves by ``-k_change_db``, and
    the peak (``runtime.level.level_peak``), taken to move with the plain level, lowers it where it would need more
    than the allowed limiting (``headroom_db``: how far the output's loudness gain stayed below that cap;
    negative where it bound).
    A cut of a band the peak does not come from thus wrongly frees the peak (models/MODEL_CARD.md, "Known
    limits")."""
    loudness = -k_change_db
    return tf.minimum(loudness, headroom_db - plain_change_db) - tf.minimum(0.0, headroom_db)
