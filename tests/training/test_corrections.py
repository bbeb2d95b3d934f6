"""Excerpt examples, the metrics-domain loss and the correction head's training (issue 14): the loss equals the
metrics of the runtime's own output at the analytic fit and follows them for other EQs; TF and numpy EQ responses
agree; examples and the trained analyser are written and read back."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from aebox_edge.evaluation.metrics import evaluate  # noqa: E402
from aebox_edge.runtime.level import level_loudness, level_stage  # noqa: E402
from aebox_edge.runtime.render import BLOCK_S, render  # noqa: E402
from aebox_edge.runtime.track import ParamTrack, array_blocks  # noqa: E402
from aebox_edge.training.dsp_tf import eq_magnitude_db  # noqa: E402
from aebox_edge.training.excerpt_data import excerpt_example, load_examples  # noqa: E402
from aebox_edge.training.metric_loss import METRIC_KEYS, metric_terms, padded_terms  # noqa: E402
from ddsp_kernels.match import _EQ_INDEX, combine, eq_response_db  # noqa: E402
from support import excerpts_dir, exported_model, music  # noqa: E402

RATE = 44100


def test_eq_magnitude_db_is_the_numpy_eq_response(rng):
    p = rng.uniform(0.02, 0.98, (3, 24))
    rates = np.array([44100.0, 48000.0, 16000.0])
    freqs = np.geomspace(15.0, 7900.0, 100)
    got = eq_magnitude_db(tf.constant(p), freqs, tf.constant(rates)).numpy()
    want = np.stack([eq_response_db(p[i, _EQ_INDEX], rates[i], freqs) for i in range(3)])
    np.testing.assert_allclose(got, want, atol=1e-6)


def _rendered(enhancer, x, ref, p):
    track = ParamTrack(np.array([0.0]), p[None], p[None], {})
    out = np.concatenate(list(render(array_blocks(x, round(BLOCK_S * RATE)), track, RATE, x.shape[1])))
    reference = enhancer.reference(lambda n: array_blocks(ref, n), RATE)
    return level_stage(out, RATE, reference.match.loudness_lufs, level_loudness(x, RATE))


def test_the_loss_is_the_metrics_of_the_runtime_output(enhancer):
    song = music(12.0, RATE, channels=2, seed=3)
    target, ref = song[:len(song) // 2], song[len(song) // 2:]
    from scipy.signal import lfilter

    x = (0.1 * lfilter([0.2], [1.0, -0.8], target, axis=0)).astype(np.float32)
    ex = excerpt_example(enhancer, x, ref, target, RATE)
    assert ex["features"].shape[0] == len(ex["match"]) == 3  # 6 s: windows at 0, 2.5 and 3.5 s (the last at the end)
    terms = {k: tf.constant(v) for k, v in padded_terms({k: [v] for k, v in ex.items()}).items()}
    rng = np.random.default_rng(0)
    for scale in (0.0, 0.4):
        c = np.zeros(24, np.float32)
        c[:18] = rng.normal(0.0, scale, 18)
        p = combine(ex["p0"], c).astype(np.float32)
        proxy = metric_terms(tf.constant(p[None]), terms)
        real = evaluate(_rendered(enhancer, x, ref, p), target, RATE)
        for key in METRIC_KEYS:
            tolerance = 1e-4 if scale == 0 else 0.05  # exact at the fit; an approximation of the EQ's change else
            assert float(proxy[key][0]) == pytest.approx(real[key], rel=tolerance, abs=1e-3 if scale == 0 else 2.0)


def test_examples_and_a_trained_head_with_exact_zero_compressor_corrections(tmp_path, model, tmp_path_factory):
    from aebox_edge.cli import main
    from aebox_edge.training.corrections import EQ_MASK, train_corrections
    from aebox_edge.training.saved import load_saved_analyser

    excerpts = excerpts_dir(tmp_path / "excerpts", count=2, seconds=3.0)
    out = tmp_path / "examples.npz"
    code = main.main(["examples", "--excerpts", str(excerpts), "--model", str(model), "--out", str(out),
                      "--workers", "1"], prog_name="aebox-edge", standalone_mode=False)
    assert code in (None, 0)
    examples = load_examples(str(out))
    assert len(examples["p0"]) == 2 and len(examples["features"]) == 2 and examples["weights"].shape[1] == 128
    keras_path = exported_model(tmp_path_factory)["keras"]
    record = train_corrections(str(keras_path), str(out), str(out), str(tmp_path / "head.keras"), epochs=2,
                               batch_size=4, echo=lambda _: None)
    assert [h["epoch"] for h in record["history"]] == [0, 1, 2]
    assert record["chosen_epoch"] == min(record["history"], key=lambda h: h["score"])["epoch"]
    trained, _, _ = load_saved_analyser(str(tmp_path / "head.keras"))
    kernel, bias = trained.get_layer("correction").get_weights()
    assert np.all(kernel[:, EQ_MASK == 0] == 0) and np.all(bias[EQ_MASK == 0] == 0)
    # a second run refuses to replace its output without --force
    code = main.main(["examples", "--excerpts", str(excerpts), "--model", str(model), "--out", str(out)],
                     prog_name="aebox-edge", standalone_mode=False)
    assert code == 2


def test_a_boost_that_the_peak_stage_would_limit_away_costs_loudness():
    from aebox_edge.training.metric_loss import level_gain_change_db

    k = tf.constant([2.0, 2.0, 2.0, -3.0])  # change of the K-weighted power (dB): a bass boost moves it little
    q = tf.constant([10.0, 10.0, 10.0, -3.0])  # change of the plain power, which the peak follows
    headroom = tf.constant([20.0, 3.0, -4.0, -4.0])
    got = level_gain_change_db(k, q, headroom).numpy()
    # room to spare: the loudness gain follows (-2); 3 dB of room: the peak rises 8 dB over the loudness gain, so the
    # gain gives 5 more (-7); already capped: the gain falls with the peak (-10); a cut frees the peak (+3)
    np.testing.assert_allclose(got, [-2.0, -7.0, -10.0, 3.0])
