"""The edge analyser's correction head: TF twins of the runtime's combine and level stage, and the untrained model
being the analytic match."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from aebox_edge.frontend import FRONT_ENDS, MATCH_FEATURES, analysis_features, clip_match_inputs  # noqa: E402
from aebox_edge.training.ddsp_layer import Combine, LevelMatch  # noqa: E402
from aebox_edge.training.networks import build_analyser, build_enhancer, output_kind  # noqa: E402
from ddsp_kernels.loudness import MAX_BOOST_DB  # noqa: E402
from ddsp_kernels.match import combine  # noqa: E402


def test_combine_twin_equals_numpy():
    rng = np.random.default_rng(0)
    a, c = rng.uniform(0, 1, (4, 24)), rng.normal(0, 2, (4, 24))
    np.testing.assert_allclose(np.asarray(Combine()([a, c])), combine(a, c), atol=1e-6)


def test_level_match_twin_matches_rms_and_caps_the_gain():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((2, 4800)) * [[0.01], [1e-6]]).astype(np.float32)
    ref = (rng.standard_normal((2, 4800)) * 0.2).astype(np.float32)
    y = np.asarray(LevelMatch()([x, ref]))
    rms = np.sqrt(np.mean(y ** 2, axis=1))
    assert rms[0] == pytest.approx(np.sqrt(np.mean(ref[0] ** 2)), rel=1e-4)
    # -120 dBFS is below the absolute gate: left alone rather than raised by the cap
    np.testing.assert_allclose(y[1], x[1])
    z = np.asarray(LevelMatch()([x[:1] * 1e-2, ref[:1]]))  # -80 dBFS... gated too
    assert np.max(np.abs(z)) <= np.max(np.abs(x[:1] * 1e-2)) * 10 ** (MAX_BOOST_DB / 20) + 1e-9


def test_untrained_edge_model_is_the_analytic_match():
    config = FRONT_ENDS["edge"]
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((2, config.window_samples)) * 0.1).astype(np.float32)
    ref = (rng.standard_normal((2, config.window_samples)) * 0.1).astype(np.float32)
    analyser = build_analyser("edge")
    assert output_kind(analyser) == "correction" and output_kind(build_analyser("paper")) == "params"
    f_in, f_ref = analysis_features(x, ref, config)
    difference, analytic = clip_match_inputs(x, ref, config)
    correction = np.asarray(analyser([f_in, f_ref, difference], training=False))
    np.testing.assert_array_equal(correction, 0.0)
    enhancer = build_enhancer(analyser, config.sample_rate, config.window_samples, "autodiff")
    out = enhancer({"input_features": f_in, "reference_features": f_ref, MATCH_FEATURES: difference,
                    "input_audio": x, "analytic": analytic, "reference_audio": ref})
    assert out.shape == x.shape and np.all(np.isfinite(out))
