"""``aebox-edge bench`` (report, JSON, PASS/FAIL exit status, peers) and the runtime benchmarks: one analysis window
end to end next to the same model's Keras ``model.predict`` and pedalboard's chain, in one run (group "window").
They measure; they never fail on time."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from aebox_edge.runtime.bench import (STAGES, bench_clips, end_to_end, format_bench_report, pedalboard_chain, run_bench,
                                      timing_stats)
from aebox_edge.cli import main
from support import exported_model


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    return exported_model(tmp_path_factory)


@pytest.fixture(scope="module")
def clips():
    return bench_clips(0)


def test_summarize():
    s = timing_stats([1.0, 2.0, 3.0, 4.0])
    assert (s["avg"], s["min"], s["max"], s["median"], s["runs"]) == (2.5, 1.0, 4.0, 2.5, 4)
    assert s["p5"] == pytest.approx(1.15) and s["p95"] == pytest.approx(3.85)


def test_run_bench_reports_stages_peers_and_verdict(models):
    r = run_bench(str(models["tflite"]), num_runs=3, warmup_runs=1, target_ms=1e9, compare_keras=str(models["keras"]),
                  compare_pedalboard=True)
    assert list(r["stages"]) == list(STAGES) and r["stages"]["end-to-end"]["runs"] == 3
    assert r["passed"] and r["backend"] == "ai_edge_litert" and r["threads"] == 1 and r["window_samples"] == 60000
    assert isinstance(r["delegation"]["fully_delegated"], bool) and r["rss_mb"]["peak"] > 0
    keras = r["peers"]["keras"]
    assert keras["ratio"] > 0 and keras["max_abs_normalized_difference"] < 0.05  # the same model, int8 vs float
    assert r["peers"]["pedalboard"]["ratio"] > 0
    text = "\n".join(format_bench_report(r))
    for word in ("end-to-end", "features", "invoke", "compressor", "p95", "keras model.predict", "pedalboard",
                 "result: PASS", "RSS", "delegation: "):
        assert word in text


@pytest.mark.parametrize("target, code, verdict", [("1e9", 0, "PASS"), ("1e-6", 1, "FAIL")])
def test_cli_bench_writes_json_and_exits_by_verdict(models, tmp_path, target, code, verdict):
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(main, ["bench", "--model", str(models["tflite"]), "--num-runs", "2", "--warmup-runs",
                                       "0", "--target-ms", target, "--json", str(out)])
    assert result.exit_code == code, result.output
    assert f"result: {verdict}" in result.stdout
    assert json.loads(out.read_text())["passed"] is (verdict == "PASS")


def test_cli_bench_bad_input_exits_2(models, tmp_path):
    result = CliRunner().invoke(main, ["bench", "--model", str(tmp_path / "missing.tflite")])
    assert result.exit_code == 2 and "no such model file" in result.stderr
    result = CliRunner().invoke(main, ["bench", "--model", str(models["tflite"]), "--num-runs", "1",
                                       "--compare-keras", str(tmp_path / "missing.keras")])
    assert result.exit_code == 2 and "no such Keras model" in result.stderr


@pytest.mark.benchmark(group="window")
def test_bench_end_to_end_window(benchmark, enhancer, clips):
    times, params = benchmark(end_to_end, enhancer, *clips)
    assert len(times) == len(STAGES) and np.isfinite(params["comp_ratio"])


@pytest.mark.benchmark(group="window")
def test_bench_keras_model_predict(benchmark, models, enhancer, clips):
    import keras

    model = keras.saving.load_model(models["keras"], compile=False)
    inputs = [a[None] for a in enhancer.prepare(*clips, 24000)[:len(model.inputs)]]
    assert benchmark(model.predict, inputs, verbose=0).shape == (1, 24)


@pytest.mark.benchmark(group="window")
def test_bench_pedalboard_chain_on_the_window(benchmark, enhancer, clips):
    pytest.importorskip("pedalboard")
    board = pedalboard_chain(end_to_end(enhancer, *clips)[1])
    assert np.all(np.isfinite(benchmark(board, clips[0], 24000)))
