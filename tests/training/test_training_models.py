"""The analysers: the paper's parameter count, the edge model's FLOP budget, shapes, and the FLOP counter."""

import numpy as np
import pytest

from ddsp_kernels import PARAM_SPEC

keras = pytest.importorskip("keras")
from aebox_edge.frontend import FRONT_ENDS  # noqa: E402
from aebox_edge.training.networks import build_analyser, build_enhancer, count_flops  # noqa: E402

EDGE_MAX_FLOPS = 60e6


@pytest.fixture(scope="module")
def paper():
    return build_analyser("paper")


@pytest.fixture(scope="module")
def edge():
    return build_analyser("edge")


def test_paper_model_has_the_papers_parameter_count(paper):
    assert paper.count_params() == 82328
    assert tuple(paper.inputs[0].shape[1:]) == (256, 256, 1) == (*FRONT_ENDS["paper"].shape, 1)
    # about 0.47 GMAC per prediction (networks.count_flops), i.e. 0.95 GFLOP
    assert 0.9e9 < count_flops(paper) < 1.0e9


def test_edge_model_budget_and_structure(edge):
    assert count_flops(edge) <= EDGE_MAX_FLOPS
    assert tuple(edge.inputs[0].shape[1:]) == (*FRONT_ENDS["edge"].shape, 1)
    encoder = edge.get_layer("encoder")
    assert len(encoder._inbound_nodes) == 2  # one encoder, shared by input and reference
    kinds = {type(layer).__name__ for model in (edge, encoder) for layer in model.layers}
    assert not kinds & {"PReLU", "LeakyReLU"}  # int8 PRELU is not delegated to XNNPACK


def test_paper_analyser_starts_near_neutral(paper):
    shape = (2, *paper.inputs[0].shape[1:])
    features = np.random.default_rng(0).uniform(-80, 20, shape).astype(np.float32)
    p = np.asarray(paper([features, features], training=False))
    assert p.shape == (2, len(PARAM_SPEC)) and np.all((p >= 0) & (p <= 1))
    physical = PARAM_SPEC.to_physical(p)
    assert np.all(physical["comp_ratio"] < 1.5) and np.all(np.abs(physical["peak1_gain_db"]) < 12)


def test_count_flops_by_hand():
    x = keras.Input((4, 4, 1))
    y = keras.layers.Conv2D(2, 3, padding="same", activation="relu")(x)  # 32 outputs x (18 + bias 1 + relu 1)
    y = keras.layers.MaxPooling2D(2)(y)  # 32 inputs
    y = keras.layers.Flatten()(y)
    y = keras.layers.Dense(3)(y)  # 3 x (2 x 8 + 1)
    assert count_flops(keras.Model(x, y)) == 32 * 20 + 32 + 51


def test_enhancer_wires_analyser_to_ddsp(paper):
    enhancer = build_enhancer(paper, 24000, 2400, "spsa")
    rng = np.random.default_rng(0)
    features = rng.uniform(-80, 20, (2, *FRONT_ENDS["paper"].shape, 1)).astype(np.float32)
    audio = (0.1 * rng.standard_normal((2, 2400))).astype(np.float32)
    out = enhancer({"input_features": features, "reference_features": features, "input_audio": audio})
    assert out.shape == (2, 2400) and np.all(np.isfinite(out))
