"""Export pipeline: a tiny trained analyser in all four modes, loaded by the runtime alone (no TensorFlow), within
the error limits of the Keras model; delegation; metadata refusal; atomic writes; the CLI's exit codes."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("tensorflow")

from aebox_edge.cli import main  # noqa: E402
from aebox_edge.frontend import FRONT_ENDS  # noqa: E402
from aebox_edge.runtime.metadata import ModelMetadataError, load_metadata  # noqa: E402
from aebox_edge.runtime import Enhancer  # noqa: E402
from export import calibration, verify  # noqa: E402
from export.convert import ExportFailure, export_tflite, report_path  # noqa: E402
from ddsp_kernels.match import combine  # noqa: E402
from support import REPO_ROOT  # noqa: E402

MODES = ("int8", "float16", "dynamic", "none")
CLIPS = {"calibration_clips": 6, "verify_clips": 6, "timing_runs": 3}


@pytest.fixture(scope="module")
def edge_model():
    """The edge analyser after a few Adam steps on random targets (weights and BatchNorm statistics move)."""
    import keras

    from aebox_edge.training.networks import build_analyser

    keras.utils.set_random_seed(0)
    model = build_analyser("edge")
    rng = np.random.default_rng(0)
    shape = (16, *FRONT_ENDS["edge"].shape, 1)
    x = [rng.normal(-30.0, 20.0, shape).astype(np.float32) for _ in range(2)]
    x.append(rng.uniform(-6.0, 6.0, (16, model.inputs[2].shape[1])).astype(np.float32))  # match features
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    model.fit(x, rng.normal(0.0, 1.0, (16, 24)).astype(np.float32), batch_size=8, epochs=2, verbose=0)
    return model


@pytest.fixture(scope="module")
def exported(edge_model, tmp_path_factory):
    """Each mode exported once: {mode: report}."""
    out = tmp_path_factory.mktemp("models")
    return {mode: export_tflite(edge_model, out / f"edge_{mode}.tflite", quantize=mode, **CLIPS) for mode in MODES}


@pytest.fixture(scope="module")
def heldout(edge_model):
    """Clips neither calibration nor verification used, and the Keras model's parameters for them."""
    clips = calibration.features(calibration.synthetic_pairs(100, 3, seed=0), FRONT_ENDS["edge"], correction=True)
    return clips, combine(clips.analytic, edge_model.predict(list(clips.inputs), verbose=0))


@pytest.mark.parametrize("mode", MODES)
def test_export_writes_model_metadata_and_report(exported, mode):
    report = exported[mode]
    assert report["passed"] and report["quantization"] == mode
    model = Path(report["model"])
    assert model.stat().st_size == report["size_bytes"]
    meta = load_metadata(model)
    assert meta["quantization"] == mode and meta["model_config"] == "edge"
    assert meta["inputs"] == ["input_features", "reference_features", "match_features"]
    assert meta["input_shape"] == [1, 235, 64, 1] and meta["output_kind"] == "correction" and "match" in meta
    assert json.loads(Path(report_path(model)).read_text())["verification"]["clips"] == CLIPS["verify_clips"]
    assert not [p for p in model.parent.iterdir() if p.name.endswith(".tmp")]
    umask = os.umask(0)
    os.umask(umask)
    assert model.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    errors = report["verification"]["param_errors"]
    assert list(errors) == [p["name"] for p in meta["param_spec"]]
    assert report["verification"]["msd"]["mean"] >= 0.0


def test_quantized_models_are_smaller(exported):
    size = {mode: exported[mode]["size_bytes"] for mode in MODES}
    assert size["int8"] < size["float16"] < size["none"] and size["dynamic"] < size["none"]
    assert "QUANTIZE" in exported["int8"]["delegation"]["ops"]  # float32 I/O around an integer graph


def test_edge_int8_is_fully_delegated(exported):
    delegation = exported["int8"]["delegation"]
    assert delegation["fully_delegated"] and delegation["not_delegated"] == []
    assert delegation["xnnpack_partitions"] == 1
    assert "SHAPE" not in delegation["ops"]  # static batch of 1: no shape arithmetic in the graph


def test_runtime_alone_loads_every_mode_within_limits(exported, heldout, tmp_path):
    """A fresh process with the device runtime (``aebox_edge.runtime.Enhancer``: metadata check + ai_edge_litert)
    and no TensorFlow or Keras imported."""
    clips, p_keras = heldout
    names = ("inputs", "references", "match", "analytic")
    for name, array in zip(names, (*clips.inputs, clips.analytic)):
        np.save(tmp_path / f"{name}.npy", array)
    script = textwrap.dedent("""
        import json, sys
        import numpy as np
        from aebox_edge.runtime import Enhancer

        folder, models = sys.argv[1], sys.argv[2:]
        arrays = [np.load(f"{folder}/{n}.npy") for n in ("inputs", "references", "match", "analytic")]
        out = {}
        for path in models:
            enhancer = Enhancer(path, num_threads=1)
            assert enhancer.backend.name == "ai_edge_litert", enhancer.backend
            out[path] = [enhancer.predict(*example).tolist() for example in zip(*arrays)]
        heavy = [m for m in ("tensorflow", "keras", "tf_keras") if m in sys.modules]
        print(json.dumps({"params": out, "heavy_modules": heavy}))
    """)
    paths = [exported[mode]["model"] for mode in MODES]
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path), *paths], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["heavy_modules"] == []
    for mode, path in zip(MODES, paths):
        p_runtime = np.asarray(result["params"][path])
        errors = verify.param_errors(p_keras, p_runtime)
        assert verify.over_limit(errors, verify.DEFAULT_MAX_PARAM_ERROR) == [], (mode, errors)
        if mode == "none":
            np.testing.assert_allclose(p_runtime, p_keras, atol=1e-4)


def test_runtime_refuses_a_metadata_mismatch(exported, tmp_path):
    src = Path(exported["dynamic"]["model"])
    model = tmp_path / src.name
    model.write_bytes(src.read_bytes())
    meta = json.loads(Path(src.with_suffix(".json")).read_text())
    meta["front_end"]["n_mels"] = 32
    model.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ModelMetadataError, match=r"differs from this code's 'edge' front end in \['n_mels'\]"):
        Enhancer(model)
    model.with_suffix(".json").write_text(Path(src.with_suffix(".json")).read_text())
    Enhancer(model)
    data = src.read_bytes()
    model.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(ModelMetadataError, match="sha256 does not match"):
        Enhancer(model)
    model.with_suffix(".json").unlink()
    with pytest.raises(ModelMetadataError, match="no metadata file"):
        Enhancer(model)


def test_int8_calibrates_on_a_dataset_directory(edge_model, tmp_path):
    from aebox_edge.data.dataset import DataConfig, synth_dataset

    data = tmp_path / "data"
    synth_dataset(str(data), 5, DataConfig(seed=3), workers=1)
    report = export_tflite(edge_model, tmp_path / "m.tflite", quantize="int8", calibration_data=str(data),
                           calibration_clips=10, verify_clips=2, timing_runs=1)
    assert report["calibration"] == {"clips": 3, "source": str(data)}  # what is left after 2 verification clips
    assert report["verification"]["clips"] == 2 and report["passed"]


def test_error_over_limit_leaves_nothing_behind(edge_model, tmp_path):
    out = tmp_path / "strict.tflite"
    with pytest.raises(ExportFailure, match="exceeds the parameter error limits") as info:
        export_tflite(edge_model, out, quantize="int8", max_param_error={"dB": 1e-6, "cents": 1e-6, "%": 1e-6},
                      **CLIPS)
    assert info.value.report["passed"] is False and info.value.report["verification"]["over_limit"]
    assert list(tmp_path.iterdir()) == []


def test_failed_conversion_leaves_nothing_behind(tmp_path):
    import keras
    import tensorflow as tf

    inputs = [keras.Input((*FRONT_ENDS["edge"].shape, 1), name=n) for n in ("input_features", "reference_features")]
    x = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling2D()(t) for t in inputs])
    x = keras.layers.Lambda(lambda t: tf.math.zeta(t + 2.0, 1.0))(x)  # no TFLite kernel
    model = keras.Model(inputs, keras.layers.Dense(24, activation="sigmoid")(x))
    with pytest.raises(ExportFailure, match="'tf.Zeta' op is neither a custom op nor a flex op"):
        export_tflite(model, tmp_path / "bad.tflite", quantize="none", verify_clips=1)
    assert list(tmp_path.iterdir()) == []


def test_paper_float_model_is_fully_delegated(tmp_path):
    from aebox_edge.training.networks import build_analyser

    report = export_tflite(build_analyser("paper"), tmp_path / "paper.tflite", quantize="none", verify_clips=2,
                           timing_runs=1)
    assert report["delegation"]["fully_delegated"], report["delegation"]
    assert report["verification"]["max_abs_normalized_error"] < 1e-4


def test_max_param_error_parsing():
    assert verify.parse_max_param_error("db=2, %=5") == {"dB": 2.0, "cents": 50.0, "%": 5.0}
    assert verify.parse_max_param_error(None) == verify.DEFAULT_MAX_PARAM_ERROR
    for bad in ("Hz=3", "dB", "dB=x", "cents=0"):
        with pytest.raises(ValueError, match="bad limit"):
            verify.parse_max_param_error(bad)


def _run_dir(tmp_path, model, front_end):
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "model.keras")
    (run / "config.json").write_text(json.dumps({"train": {"config": "edge"}, "front_end": front_end}))
    return run


def test_cli_exports_a_run_directory(edge_model, tmp_path):
    run = _run_dir(tmp_path, edge_model, FRONT_ENDS["edge"].to_dict())
    out = tmp_path / "out" / "m.tflite"
    result = CliRunner().invoke(main, ["export", "--model", str(run), "--quantize", "dynamic", "--verify-clips", "3",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "fully delegated to XNNPACK" in result.output and "passed" in result.output
    assert load_metadata(out)["training"]["train"]["config"] == "edge"


def test_cli_exit_codes(edge_model, tmp_path):
    runner = CliRunner()
    missing = runner.invoke(main, ["export", "--model", str(tmp_path / "nope.keras")])
    assert missing.exit_code == 2 and "no model at" in missing.output
    bad_limit = runner.invoke(main, ["export", "--model", str(tmp_path), "--max-param-error", "Hz=1"])
    assert bad_limit.exit_code == 2
    other = dict(FRONT_ENDS["edge"].to_dict(), n_mels=32)
    mismatch = runner.invoke(main, ["export", "--model", str(_run_dir(tmp_path, edge_model, other))])
    assert mismatch.exit_code == 2 and "differs from this code's 'edge' front end" in mismatch.output
    edge_model.save(tmp_path / "tiny.keras")
    out = tmp_path / "strict.tflite"
    strict = runner.invoke(main, ["export", "--model", str(tmp_path / "tiny.keras"), "--out", str(out),
                                  "--calibration-clips", "2", "--verify-clips", "2", "--max-param-error", "dB=1e-9"])
    assert strict.exit_code == 1 and "OVER LIMIT" in strict.output and "nothing written" in strict.output
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".strict")]
