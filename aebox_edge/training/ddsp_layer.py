"""The DDSP layer: the effect chain (6-band EQ -> compressor) applied to the dirty input audio with the 24 predicted
normalized parameters, with one of two gradient methods (docs/architecture.md, section 6):

- ``spsa``: the forward pass is the runtime's numpy ``ddsp_kernels`` via ``tf.numpy_function``; the backward pass
  is the SPSA vector-Jacobian product of :mod:`.spsa` (Spall 1992; Martinez Ramirez et al. 2021), wrapped with
  ``tf.custom_gradient``;
- ``autodiff``: the TF twins of :mod:`.dsp_tf`, differentiated by TensorFlow (Steinmetz et al. 2022).
"""

from __future__ import annotations

import threading

import keras
import numpy as np
import tensorflow as tf

from ddsp_kernels.loudness import ABSOLUTE_GATE_LUFS, MAX_BOOST_DB, MAX_CUT_DB
from ddsp_kernels.match import P_EPS

from . import dsp_tf
from .config import GRAD_METHODS
from .spsa import render_batch, spsa_vjp


def spsa_chain(audio, p01, sample_rate: float, epsilon: float, draw):
    """The chain on ``audio`` (batch, samples) float32 with ``p01`` (batch, 24): numpy forward, SPSA backward.
    ``draw()`` returns the ``numpy.random.Generator`` for the Rademacher vectors. No gradient reaches ``audio``."""

    @tf.custom_gradient
    def chain(x, p):
        y = tf.numpy_function(lambda a, b: render_batch(a, b, sample_rate), [x, p], tf.float32, stateful=False)
        y.set_shape(x.shape)

        def grad(dy):
            g = tf.numpy_function(lambda a, b, d: spsa_vjp(a, b, d, sample_rate, epsilon, draw()), [x, p, dy],
                                  tf.float32, stateful=True)
            g.set_shape(p.shape)
            return None, g

        return y, grad

    return chain(audio, p01)


@keras.saving.register_keras_serializable(package="aebox_edge")
class DDSPChain(keras.layers.Layer):
    """``[audio (batch, samples), p01 (batch, 24)] -> processed audio (batch, samples)`` at ``sample_rate``.

    ``method`` is ``"spsa"`` or ``"autodiff"``; ``epsilon`` is SPSA's perturbation in normalized units. The SPSA
    draws come from ``seed`` and the epoch set by :meth:`reseed`, so a resumed run draws what it would have drawn.
    """

    def __init__(self, sample_rate: int, method: str = "spsa", epsilon: float = 1e-3, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if method not in GRAD_METHODS:
            raise ValueError(f"gradient method must be one of {GRAD_METHODS}, got {method!r}")
        if not 0.0 < epsilon <= 0.5:
            raise ValueError(f"SPSA epsilon must be in (0, 0.5], got {epsilon}")
        self.sample_rate = int(sample_rate)
        self.method = method
        self.epsilon = float(epsilon)
        self.seed = int(seed)
        self._draw_lock = threading.Lock()
        self.reseed(0)

    def reseed(self, epoch: int) -> None:
        """Restart the SPSA draws at those of ``epoch``."""
        with self._draw_lock:
            self._rng = np.random.default_rng([self.seed, int(epoch)])

    def _draw(self) -> np.random.Generator:
        with self._draw_lock:
            return np.random.default_rng(self._rng.integers(2 ** 63))

    def call(self, inputs):
        audio, p01 = inputs
        audio = tf.cast(audio, tf.float32)
        p01 = tf.cast(p01, tf.float32)
        if self.method == "autodiff":
            return dsp_tf.apply_chain(audio, self.sample_rate, p01)
        return spsa_chain(audio, p01, self.sample_rate, self.epsilon, self._draw)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "sample_rate": self.sample_rate, "method": self.method,
                "epsilon": self.epsilon, "seed": self.seed}


@keras.saving.register_keras_serializable(package="aebox_edge")
class Combine(keras.layers.Layer):
    """``[analytic01 (batch, 24), correction logits (batch, 24)] -> sigmoid(logit(analytic01) + correction)``: the
    TF twin of ``ddsp_kernels.match.combine`` (parity is a test)."""

    def call(self, inputs):
        analytic, correction = (tf.cast(t, tf.float32) for t in inputs)
        p = tf.clip_by_value(analytic, P_EPS, 1.0 - P_EPS)
        return tf.sigmoid(tf.math.log(p / (1.0 - p)) + correction)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[1])


@keras.saving.register_keras_serializable(package="aebox_edge")
class LevelMatch(keras.layers.Layer):
    """``[audio, reference] (batch, samples) -> audio`` scaled to the reference's RMS, the gain limited to
    ``[-MAX_CUT_DB, +MAX_BOOST_DB]`` and 0 dB for a signal below the absolute gate: the training stand-in of the
    runtime's BS.1770 level stage (``ddsp_kernels.loudness``; plain RMS instead of gated K-weighted loudness keeps
    it cheap and differentiable, and on 2.5 s clips the two differ by a spectral tilt the EQ loss already sees)."""

    def call(self, inputs):
        audio, reference = (tf.cast(t, tf.float32) for t in inputs)
        power = [tf.reduce_mean(tf.square(a), axis=-1, keepdims=True) + 1e-20 for a in (audio, reference)]
        gain_db = 10.0 * (tf.math.log(power[1]) - tf.math.log(power[0])) / np.log(10.0)
        gain_db = tf.clip_by_value(gain_db, -MAX_CUT_DB, MAX_BOOST_DB)
        gate = 10.0 ** (ABSOLUTE_GATE_LUFS / 10.0)
        gain_db = tf.where((power[0] < gate) | (power[1] < gate), tf.zeros_like(gain_db), gain_db)
        return audio * 10.0 ** (gain_db / 20.0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])
