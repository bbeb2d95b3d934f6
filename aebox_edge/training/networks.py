"""Keras analysers: two log-mel feature tensors (dirty input, clean reference; ``aebox_edge.frontend``) -> 24 sigmoid
outputs, the normalized ``PARAM_SPEC`` values (docs/architecture.md, section 4), and the enhancer used for training
(analyser -> DDSP layer).

- ``paper``: the small model of "Audio Engineer in a Box" (von Estorff & Krause 2024; DeepAFx-ST's
  encoder/controller split, Steinmetz et al. 2022) as its public code builds it: two encoder branches with separate
  weights, Conv2D(16,2)-Conv2D(32,2)-MaxPool-Conv2D(32,2)-Conv2D(16,2)-MaxPool-BatchNorm (ReLU convolutions, valid
  padding), mean over frequency, concatenation, BatchNorm, then the controller Dense(32)-Flatten-LeakyReLU(0.01)-
  Dense(32)-LeakyReLU-Dropout(0.1)-Dense(24, sigmoid). 82,328 parameters.
- ``edge``: one shared-weight encoder of Conv3x3-BatchNorm-ReLU-MaxPool blocks (the last two pool time only) and
  global average pooling over time, which keeps the frequency axis (an EQ must know *where* the spectra differ;
  pooling over frequency too left the controller an input-independent average EQ), and an MLP controller with
  ReLU and dropout; ReLU only, so that int8 XNNPACK delegates every op. Batch norm momentum 0.9, so the inference
  statistics settle within a short run.

Both scale the dB features by ``FEATURE_SCALE`` first (no parameters), so the inputs are O(1), and start from the
neutral chain: the output layer's kernel starts at zero and its bias at ``PARAM_SPEC.neutral()`` (flat EQ, ratio
~1), so every input first gets about the identity instead of mid-range settings (a -40 dB threshold at ratio 4.5),
whatever the batch statistics and dropout do to the hidden features.
"""

from __future__ import annotations

import keras
import numpy as np

from aebox_edge.frontend import FRONT_ENDS, MATCH_FEATURES, FrontEndConfig
from ddsp_kernels import PARAM_SPEC
from ddsp_kernels.match import BAND_CENTRES_HZ, MAX_DIFF_DB

from .config import MODEL_CONFIGS
from .ddsp_layer import Combine, DDSPChain, LevelMatch

FEATURE_SCALE = 1.0 / 40.0  # log-mel features span about -80..+20 dB
INPUT_NAMES = ("input_features", "reference_features")
OUTPUT_KINDS = {"paper": "params", "edge": "correction"}  # see ddsp_kernels.match.combine
EDGE_FILTERS = (8, 16, 24, 32)
EDGE_POOLS = ((2, 2), (2, 2), (2, 1), (2, 1))
EDGE_BN_MOMENTUM = 0.9
EDGE_HIDDEN = (128, 64)
DROPOUT = 0.1


def front_end_for(config: str) -> FrontEndConfig:
    if config not in MODEL_CONFIGS:
        raise ValueError(f"model config must be one of {MODEL_CONFIGS}, got {config!r}")
    return FRONT_ENDS[config]


def build_analyser(config: str = "edge", front_end: FrontEndConfig | None = None) -> keras.Model:
    """The analyser for ``config`` ("edge" or "paper"); inputs ``(frames, n_mels, 1)`` of ``front_end`` (default:
    the config's own, ``FRONT_ENDS[config]``), output ``(24,)`` in [0, 1]."""
    front_end = front_end or front_end_for(config)
    shape = (*front_end.shape, 1)
    inputs = [keras.Input(shape, name=name) for name in INPUT_NAMES]
    if config == "paper":
        outputs = _paper(inputs)
    elif config == "edge":
        inputs.append(keras.Input((len(BAND_CENTRES_HZ),), name=MATCH_FEATURES))
        outputs = _edge(inputs, shape)
    else:
        raise ValueError(f"model config must be one of {MODEL_CONFIGS}, got {config!r}")
    return keras.Model(inputs, outputs, name=f"analyser_{config}")


def output_kind(analyser: keras.Model) -> str:
    """``"correction"`` for an analyser that takes the match features and predicts logit corrections of the
    analytic fit, ``"params"`` for one that predicts the normalized parameters themselves."""
    return "correction" if MATCH_FEATURES in [t.name for t in analyser.inputs] else "params"


def _paper(inputs):
    layers = keras.layers
    branches = []
    for name, x in zip(("input", "reference"), inputs):
        x = layers.Rescaling(FEATURE_SCALE, name=f"{name}_scale")(x)
        for i, filters in enumerate((16, 32, None, 32, 16, None)):
            if filters is None:
                x = layers.MaxPooling2D(2, name=f"{name}_pool{i}")(x)
            else:
                x = layers.Conv2D(filters, 2, activation="relu", name=f"{name}_conv{i}")(x)
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
        frames, bands, channels = x.shape[1:]
        x = layers.AveragePooling2D((1, bands), name=f"{name}_mean_over_frequency")(x)
        branches.append(layers.Reshape((frames, channels), name=f"{name}_sequence")(x))
    x = layers.Concatenate(name="concat")(branches)
    x = layers.BatchNormalization(name="concat_bn")(x)
    x = layers.Dense(32, name="controller_dense0")(x)
    x = layers.Flatten(name="controller_flatten")(x)
    x = layers.LeakyReLU(0.01, name="controller_act0")(x)
    x = layers.Dense(32, name="controller_dense1")(x)
    x = layers.LeakyReLU(0.01, name="controller_act1")(x)
    x = layers.Dropout(DROPOUT, name="controller_dropout")(x)
    return _params_layer()(x)


def _params_layer():
    """Dense(24, sigmoid) that starts at the neutral parameters (clipped to [0.02, 0.98] for the logit)."""
    p = np.clip(PARAM_SPEC.to_normalized(PARAM_SPEC.neutral()), 0.02, 0.98)
    return keras.layers.Dense(len(PARAM_SPEC), activation="sigmoid", name="params", kernel_initializer="zeros",
                              bias_initializer=keras.initializers.Constant(np.log(p / (1.0 - p))))


def _edge(inputs, shape):
    layers = keras.layers
    features = keras.Input(shape, name="features")
    x = layers.Rescaling(FEATURE_SCALE, name="scale")(features)
    for i, (filters, pool) in enumerate(zip(EDGE_FILTERS, EDGE_POOLS)):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(momentum=EDGE_BN_MOMENTUM, name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
        x = layers.MaxPooling2D(pool, name=f"pool{i}")(x)
    # mean over time per (band, channel) as Reshape + GlobalAveragePooling1D: it converts to MEAN, which XNNPACK
    # delegates in int8 (an AveragePooling2D over the whole time axis becomes an undelegated AVERAGE_POOL_2D)
    x = layers.Reshape((x.shape[1], x.shape[2] * x.shape[3]), name="bands")(x)
    x = layers.GlobalAveragePooling1D(name="average_over_time")(x)
    encoder = keras.Model(features, x, name="encoder")
    difference = layers.Rescaling(1.0 / MAX_DIFF_DB, name="match_scale")(inputs[2])
    x = layers.Concatenate(name="concat")([encoder(inputs[0]), encoder(inputs[1]), difference])
    for i, units in enumerate(EDGE_HIDDEN):
        x = layers.Dense(units, activation="relu", name=f"controller_dense{i}")(x)
        x = layers.Dropout(DROPOUT, name=f"controller_dropout{i}")(x)
    # logit corrections of the analytic fit, starting at zero: the untrained model is the analytic match
    return layers.Dense(len(PARAM_SPEC), name="correction", kernel_initializer="zeros", bias_initializer="zeros")(x)


def count_flops(model: keras.Model) -> int:
    """Floating-point operations of one prediction, counted per layer from its shapes: a multiply-add is 2 FLOPs
    (convolutions, dense layers), bias, batch norm (scale + shift = 2), activations, pooling and rescaling count
    per element. A nested model counts once per call (the shared encoder twice)."""
    total = 0
    for layer in model.layers:
        for node in layer._inbound_nodes:
            if isinstance(layer, keras.Model):
                total += count_flops(layer)
                continue
            inputs = [t.shape for t in node.input_tensors]
            outputs = [t.shape for t in node.outputs]
            total += _layer_flops(layer, inputs, outputs)
    return total


def _size(shape) -> int:
    n = 1
    for d in shape[1:]:
        n *= int(d)
    return n


def _layer_flops(layer, inputs, outputs) -> int:
    layers = keras.layers
    out = _size(outputs[0]) if outputs else 0
    if isinstance(layer, layers.Conv2D):
        kh, kw = layer.kernel_size
        flops = out * 2 * kh * kw * int(inputs[0][-1]) + (out if layer.use_bias else 0)
    elif isinstance(layer, layers.Dense):
        flops = out * 2 * int(inputs[0][-1]) + (out if layer.use_bias else 0)
    elif isinstance(layer, layers.BatchNormalization):
        return 2 * out
    elif isinstance(layer, (layers.MaxPooling2D, layers.AveragePooling2D, layers.GlobalAveragePooling1D,
                            layers.GlobalAveragePooling2D)):
        return _size(inputs[0])
    elif isinstance(layer, (layers.ReLU, layers.LeakyReLU, layers.Activation, layers.Rescaling)):
        return out
    else:
        return 0  # inputs, concatenation, reshapes, dropout (identity at inference)
    activation = getattr(layer, "activation", None)
    return flops + (out if activation is not None and activation is not keras.activations.linear else 0)


def build_enhancer(analyser: keras.Model, sample_rate: int, window_samples: int, method: str = "spsa",
                   epsilon: float = 1e-3, seed: int = 0) -> keras.Model:
    """The training model: the analyser's inputs + ``input_audio`` (+ ``analytic`` and ``reference_audio`` for a
    correction analyser) -> processed audio: the parameters applied to ``input_audio`` by :class:`DDSPChain`; a
    correction analyser's parameters are ``combine(analytic, correction)`` and its output is level-matched to
    ``reference_audio`` (:class:`LevelMatch`), as the runtime's level stage does."""
    names = [t.name for t in analyser.inputs]
    inputs = {name: keras.Input(t.shape[1:], name=name) for name, t in zip(names, analyser.inputs)}
    inputs["input_audio"] = keras.Input((window_samples,), name="input_audio")
    params = analyser([inputs[name] for name in names])
    if output_kind(analyser) == "correction":
        inputs["analytic"] = keras.Input((len(PARAM_SPEC),), name="analytic")
        inputs["reference_audio"] = keras.Input((window_samples,), name="reference_audio")
        params = Combine(name="combine")([inputs["analytic"], params])
    output = DDSPChain(sample_rate, method, epsilon, seed, name="ddsp")([inputs["input_audio"], params])
    if output_kind(analyser) == "correction":
        output = LevelMatch(name="level")([output, inputs["reference_audio"]])
    return keras.Model(inputs, output, name="enhancer")
