"""Training runs on a tiny synthetic set (1 s clips, a handful of steps): the CLI end to end (train then eval),
resuming an interrupted run with its optimizer state, and the mirrored strategy on a CPU-only machine."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from aebox_edge.cli import main
from aebox_edge.data.dataset import DataConfig, synth_dataset
from aebox_edge.errors import InputError

keras = pytest.importorskip("keras")
from aebox_edge.training.train import train  # noqa: E402

TINY = dict(batch_size=4, val_fraction=0.34, seed=0)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """12 examples (6 clips) of 1 s: 8 train, 4 validate."""
    root = str(tmp_path_factory.mktemp("tiny_data"))
    synth_dataset(root, 12, DataConfig(seed=3, clip_seconds=1.0), workers=1)
    return root


def test_cli_modules_import_no_tensorflow():
    code = ("import sys, aebox_edge.training, aebox_edge.training.cli; "
            "sys.exit(any(m in sys.modules for m in ('tensorflow', 'keras', 'numpy')))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_train_then_eval_cli(tiny_data, tmp_path):
    run = str(tmp_path / "run")
    runner = CliRunner()
    result = runner.invoke(main, ["train", "--config", "edge", "--data", tiny_data, "--grad", "spsa", "--epochs", "1",
                                  "--batch-size", "4", "--lr", "1e-3", "--optimizer", "sgd", "--out", run,
                                  "--val-fraction", "0.34", "--seed", "1"])
    assert result.exit_code == 0, result.output
    for name in ("config.json", "model.keras", "log.csv", "checkpoints/last.keras", "checkpoints/best.keras",
                 "checkpoints/state.json"):
        assert os.path.exists(os.path.join(run, name)), name
    with open(os.path.join(run, "config.json")) as f:
        record = json.load(f)
    assert record["train"]["optimizer"] == "sgd" and record["front_end"]["name"] == "edge"
    assert record["data"]["split"] == {"first_val_clip": 4, "train": 8, "val": 4}

    out = str(tmp_path / "eval.json")
    figures = str(tmp_path / "figures")
    result = runner.invoke(main, ["eval", "--model", run, "--data", tiny_data, "--json", out, "--figures", figures,
                                  "--figure-count", "1"])
    assert result.exit_code == 0, result.output
    assert "| Corrupt | 12 |" in result.output and "| Baseline | 12 |" in result.output
    assert "| Model (edge) | 12 |" in result.output
    with open(out) as f:
        report = json.load(f)
    assert list(report["summary"]["rows"]) == ["Corrupt", "Baseline", "Model (edge)"]
    assert len(report["predicted_params"]["values"]) == 12
    assert sorted(os.listdir(figures)) == ["clip000_spectrogram.png", "clip000_waveform.png"]

    # a bare .keras analyser is recognized by its input shape; a .tflite without metadata is refused
    result = runner.invoke(main, ["eval", "--model", os.path.join(run, "model.keras"), "--data", tiny_data])
    assert result.exit_code == 0, result.output
    tflite = tmp_path / "model.tflite"
    tflite.write_bytes(b"")
    result = runner.invoke(main, ["eval", "--model", str(tflite), "--data", tiny_data])
    assert result.exit_code == 2 and ".tflite" in result.output

    # an exported model is evaluated through the device runtime and matches the Keras rows closely
    from export.convert import export_tflite

    exported = str(tmp_path / "exported.tflite")
    export_tflite(os.path.join(run, "model.keras"), exported, quantize="none", config="edge", calibration_clips=1,
                  verify_clips=2, timing_runs=1)
    out_tflite = str(tmp_path / "eval_tflite.json")
    result = runner.invoke(main, ["eval", "--model", exported, "--data", tiny_data, "--json", out_tflite])
    assert result.exit_code == 0, result.output
    assert "| Model (edge none) | 12 |" in result.output
    with open(out_tflite) as f:
        tflite_report = json.load(f)
    np.testing.assert_allclose(tflite_report["predicted_params"]["values"], report["predicted_params"]["values"],
                               rtol=1e-3, atol=1e-3)


class _Interrupt(Exception):
    pass


class _InterruptAtEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._epoch == self.epoch:
            raise _Interrupt

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch


def _iterations(run):
    model = keras.models.load_model(os.path.join(run, "checkpoints", "last.keras"))
    return int(model.optimizer.iterations.numpy()), model


def test_resume_continues_after_interruption(tiny_data, tmp_path):
    run = str(tmp_path / "run")
    with pytest.raises(_Interrupt):
        train(run, tiny_data, epochs=2, callbacks=[_InterruptAtEpoch(1)], verbose=0, **TINY)
    with open(os.path.join(run, "checkpoints", "state.json")) as f:
        assert json.load(f)["epoch"] == 0
    steps, saved = _iterations(run)
    assert steps == 2  # 8 training examples in batches of 4

    with pytest.raises(InputError, match="already holds a run"):
        train(run, tiny_data, epochs=2, verbose=0, **TINY)
    with pytest.raises(InputError, match="--resume continues the saved run"):
        train(run, resume=True, grad="autodiff", verbose=0)

    seen = {}

    class _Probe(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen["iterations"] = int(self.model.optimizer.iterations.numpy())
            seen["weights"] = [w.copy() for w in self.model.get_weights()]

        def on_epoch_begin(self, epoch, logs=None):
            seen.setdefault("epochs", []).append(epoch)

    state = train(run, resume=True, callbacks=[_Probe()], verbose=0)
    assert seen["epochs"] == [1] and state["epoch"] == 1
    assert seen["iterations"] == steps  # the optimizer state came back with the weights
    for restored, original in zip(seen["weights"], saved.get_weights()):
        np.testing.assert_array_equal(restored, original)
    assert _iterations(run)[0] == 2 * steps
    with open(os.path.join(run, "log.csv")) as f:
        assert [line.split(",")[0] for line in f.read().split()[1:]] == ["0", "1"]
    assert train(run, resume=True, verbose=0)["epoch"] == 1  # nothing left to do


def test_mirrored_strategy_with_autodiff_on_cpu(tiny_data, tmp_path):
    run = str(tmp_path / "run")
    state = train(run, tiny_data, epochs=1, grad="autodiff", strategy="mirrored", verbose=0, **TINY)
    assert state["epoch"] == 0 and np.isfinite(state["best"])
    assert keras.models.load_model(os.path.join(run, "model.keras")).count_params() > 0


def test_init_from_starts_a_new_run_from_trained_weights(tiny_data, tmp_path):
    source = str(tmp_path / "source")
    train(source, tiny_data, epochs=1, verbose=0, **TINY)
    trained = keras.models.load_model(os.path.join(source, "model.keras"), compile=False).get_weights()
    seen = {}

    class _Probe(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen["weights"] = self.model.get_layer("analyser_edge").get_weights()

    run = str(tmp_path / "finetune")
    state = train(run, tiny_data, epochs=1, init_from=source, loudness_weight=0.1, callbacks=[_Probe()], verbose=0,
                  **TINY)
    assert state["epoch"] == 0 and np.isfinite(state["best"])
    assert len(seen["weights"]) == len(trained)
    for restored, original in zip(seen["weights"], trained):
        np.testing.assert_array_equal(restored, original)
    with open(os.path.join(run, "config.json")) as f:
        assert json.load(f)["train"]["loudness_weight"] == 0.1
    with pytest.raises(InputError, match="do not fit the analyser_paper"):
        train(str(tmp_path / "wrong"), tiny_data, epochs=1, config="paper", init_from=source, verbose=0, **TINY)
