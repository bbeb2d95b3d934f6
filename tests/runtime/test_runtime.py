"""The runtime: backend choice, model loading and refusals, predictions, sliding analysis, reference choice,
smoothing, the in-memory ``process`` against the file runner, golden files, and no TensorFlow on the device path."""

import json
import sys
import types
import warnings

import numpy as np
import pytest

from aebox_edge import defaults
from aebox_edge.runtime import analyser, backend
from aebox_edge.io.audio import BlockReader
from aebox_edge.errors import InputError, RuntimeFailure
from aebox_edge.runtime.metadata import ModelMetadataError
from aebox_edge.runtime.enhancer import Enhancer
from aebox_edge.io.resample import resample
from aebox_edge.runtime.track import ParamTrack, analysis_windows, array_blocks, smooth_track
from ddsp_kernels import PARAM_SPEC
from support import REPO_ROOT, music, run_subprocess, write_audio


@pytest.mark.parametrize("frames", [1, 999, 1000, 1001, 1250, 1500, 2501])
@pytest.mark.parametrize("hop", [1, 300, 1000])
@pytest.mark.parametrize("block", [1000, 333])
def test_analysis_windows_from_a_file_equal_those_from_an_array(tmp_path, frames, hop, block):
    """Windows of the (mono, same-rate) stream, whatever the block size, the last one aligned to the end."""
    x = np.stack([np.arange(frames), -np.arange(frames)], axis=1).astype(np.float32) / frames + 0.5
    path = write_audio(tmp_path / "ramp.wav", x, 24000, "FLOAT")
    n = 1000
    with BlockReader(path, block) as reader:
        from_file = list(analysis_windows(reader, 24000, 24000, n, hop))
    seen = []
    from_array = list(analysis_windows(array_blocks(x, block), 24000, 24000, n, hop, seen.append))
    assert sum(len(b) for b in seen) == frames
    assert [s for s, _ in from_file] == [s for s, _ in from_array]
    mono = x.mean(axis=1)
    for (start, a), (_, b) in zip(from_file, from_array):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, mono[start:start + n])  # each window is the signal at its start
    starts = [s for s, _ in from_array]
    assert starts[0] == 0 and len(from_array[-1][1]) == min(n, frames)
    assert starts[-1] + len(from_array[-1][1]) == frames  # the last window ends with the signal
    assert all(0 < b - a <= hop for a, b in zip(starts, starts[1:]))


def test_analysis_windows_resample_the_stream_once(rng):
    """At another rate the windows are slices of one resampled stream (io.resample.resample of the mono mix)."""
    x = rng.uniform(-0.5, 0.5, (44100 * 3 + 17, 2)).astype(np.float32)
    stream = resample(x.mean(axis=1), 44100, 24000)
    windows = list(analysis_windows(array_blocks(x, 4410), 44100, 24000, 24000, 12000))
    assert windows[-1][0] + 24000 == len(stream)
    for start, w in windows:
        np.testing.assert_allclose(w, stream[start:start + 24000], atol=1e-6)


def test_smooth_track_is_a_normalized_gaussian():
    t = np.arange(20) * 1.25
    values = np.zeros((20, 24), np.float32)
    values[10] = 1.0
    out = smooth_track(t, values, 2.5)
    assert out[10, 0] == out.max() and np.all(np.diff(out[10:, 0]) <= 0) and np.all(np.diff(out[:11, 0]) >= 0)
    constant = np.full((20, 24), 0.3, np.float32)
    np.testing.assert_allclose(smooth_track(t, constant, 2.5), constant, atol=1e-6)  # weights sum to one
    np.testing.assert_array_equal(smooth_track(t, values, 0.0), values)


def test_param_track_interpolates_between_window_centres_and_holds_at_the_ends():
    raw = np.stack([np.zeros(24), np.ones(24)]).astype(np.float32)
    track = ParamTrack(np.array([1.0, 2.0]), raw, raw, {})
    assert track.at(0.0)[0] == 0.0 and track.at(1.5)[0] == pytest.approx(0.5) and track.at(9.0)[0] == 1.0
    doc = track.to_json()
    assert list(doc["params"]) == list(PARAM_SPEC.names) and len(doc["params"]["comp_ratio"]) == 2
    json.dumps(doc)


def test_enhancer_loads_model_and_reports_backend(enhancer, model):
    assert enhancer.backend.name == "ai_edge_litert" and enhancer.backend.note is None
    assert enhancer.front_end.name == "edge" and enhancer.num_threads == 1
    assert enhancer.window_frames(48000) == 120000 and enhancer.window_frames(8000) == 20000


def test_predict_params_in_physical_units(enhancer):
    x, ref = music(3.0, 44100, 2, seed=1)[:, 0], music(2.0, 44100, 1, seed=2)
    params = enhancer.predict_params(x, ref, 44100)
    assert list(params) == list(PARAM_SPEC.names)
    assert PARAM_SPEC.contains(params)
    p = enhancer.predict(*enhancer.prepare(x, ref, 44100))
    assert p.shape == (24,) and p.dtype == np.float32
    np.testing.assert_allclose(PARAM_SPEC.to_normalized(params), p, atol=1e-5)


def test_predictions_are_repeatable_and_reuse_the_allocated_tensors(enhancer):
    f = enhancer.prepare(music(2.5, 24000, seed=3), music(2.5, 24000, seed=4))
    g = enhancer.prepare(music(2.5, 24000, seed=4), music(2.5, 24000, seed=3))
    first = enhancer.predict(*f)
    enhancer.predict(*g)
    np.testing.assert_array_equal(enhancer.predict(*f), first)


def test_threads_are_passed_to_the_interpreter(model, monkeypatch):
    seen = {}
    original = backend.load_backend

    def spy_backend(name=None):
        loaded = original(name)

        class Spy(loaded.interpreter_class):
            def __init__(self, **kwargs):
                seen.update(kwargs)
                super().__init__(**kwargs)

        return backend.Backend(loaded.name, loaded.version, Spy, loaded.note)

    monkeypatch.setattr(analyser, "load_backend", spy_backend)
    Enhancer(model, num_threads=2)
    assert seen["num_threads"] == 2
    with pytest.raises(InputError, match="num_threads"):
        Enhancer(model, num_threads=0)


def test_backend_order_falls_back_and_reports_failures(monkeypatch):
    fallback = [b for b in backend.BACKENDS if b[0] == "ai_edge_litert"][0]
    monkeypatch.setattr(backend, "BACKENDS", (("missing", "aebox_no_such_module", "Interpreter", "x"), fallback))
    assert backend.load_backend().name == "ai_edge_litert"
    monkeypatch.setattr(backend, "BACKENDS", (("missing", "aebox_no_such_module", "Interpreter", "x"),))
    with pytest.raises(RuntimeFailure, match="aebox_no_such_module"):
        backend.load_backend()
    with pytest.raises(InputError, match="unknown interpreter backend"):
        backend.load_backend("nope")


def test_tflite_runtime_backend_warns_about_its_limits(model, enhancer, monkeypatch):
    from ai_edge_litert.interpreter import Interpreter

    package = types.ModuleType("tflite_runtime")
    module = types.ModuleType("tflite_runtime.interpreter")
    module.Interpreter = Interpreter
    package.interpreter = module
    monkeypatch.setitem(sys.modules, "tflite_runtime", package)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", module)
    with pytest.warns(RuntimeWarning, match="without XNNPACK"):
        legacy = Enhancer(model, backend="tflite_runtime")
    assert legacy.backend.name == "tflite_runtime" and "numpy 2" in legacy.backend.note
    f = enhancer.prepare(music(2.5, 24000), music(2.5, 24000, seed=1))
    np.testing.assert_array_equal(legacy.predict(*f), enhancer.predict(*f))


def test_default_model_comes_from_the_environment_or_is_a_clear_error(model, monkeypatch):
    monkeypatch.setenv(defaults.MODEL_ENV, str(model))
    assert Enhancer().model_path == str(model)
    monkeypatch.delenv(defaults.MODEL_ENV)
    try:
        path = analyser.default_model_path()
    except InputError as exc:  # no model ships yet
        assert "--model" in str(exc) and defaults.DEFAULT_MODEL in str(exc)
    else:
        assert path.endswith(defaults.DEFAULT_MODEL)


def test_models_that_cannot_be_used_are_refused(model, tmp_path):
    with pytest.raises(InputError, match="no such model file"):
        Enhancer(tmp_path / "missing.tflite")
    lone = tmp_path / "lone.tflite"
    lone.write_bytes(model.read_bytes())
    with pytest.raises(ModelMetadataError, match="no metadata"):
        Enhancer(lone)
    changed = tmp_path / "changed.tflite"
    changed.write_bytes(model.read_bytes() + b"\0")
    (tmp_path / "changed.json").write_text(model.with_suffix(".json").read_text())
    with pytest.raises(ModelMetadataError, match="sha256"):
        Enhancer(changed)


def test_model_whose_signature_differs_from_its_metadata_is_refused(model, tmp_path):
    from aebox_edge.io.atomic import sha256_file
    from aebox_edge.runtime.metadata import write_metadata

    copy = tmp_path / "renamed.tflite"
    copy.write_bytes(model.read_bytes())
    meta = json.loads(model.with_suffix(".json").read_text())
    meta.update(inputs=["a", "b"], sha256=sha256_file(copy))
    write_metadata(copy, meta)
    with pytest.raises(InputError, match="does not match its metadata"):
        Enhancer(copy)


def test_non_finite_model_output_is_a_runtime_failure(enhancer, monkeypatch):
    monkeypatch.setattr(type(enhancer._interpreter), "get_tensor", lambda self, i: np.full((1, 24), np.nan))
    f = enhancer.prepare(music(2.5, 24000), music(2.5, 24000, seed=1))
    with pytest.raises(RuntimeFailure, match="non-finite"):
        enhancer.predict(*f)


def test_reference_choice_skips_silence_and_one_off_events(enhancer):
    rate = 24000
    body = music(20.0, rate, seed=5)
    reference = np.concatenate([np.zeros((5 * rate, 1), np.float32), body])
    click_at = 15 * rate  # a window made of a loud burst: active but untypical
    reference[click_at:click_at + int(2.5 * rate)] = 0.4 * np.sign(music(2.5, rate, seed=9))
    info = enhancer.reference(lambda n: array_blocks(reference, n), rate).info
    assert info["windows"] == 10 and info["active_windows"] < 10
    assert 5.0 <= info["start_s"] and info["start_s"] != 15.0


def test_short_reference_is_analysed_once(enhancer):
    reference = enhancer.reference(lambda n: array_blocks(music(1.0, 16000), n), 16000)
    assert reference.features.shape == (*enhancer.front_end.shape, 1) and reference.info["windows"] == 1
    assert np.isfinite(reference.match.loudness_lufs) and reference.match.levels_native_db.shape == (29,)


def test_process_matches_the_file_runner(enhancer, tmp_path):
    from aebox_edge.io.audio import read
    from aebox_edge.runtime.enhance import enhance_file

    rate = 32000
    x, ref = music(7.3, rate, 2, seed=6), music(4.0, 22050, 1, seed=7)
    inp = write_audio(tmp_path / "in.wav", x, rate, "FLOAT")
    refp = write_audio(tmp_path / "ref.wav", ref, 22050, "FLOAT")
    summary = enhance_file(enhancer, str(inp), str(refp), str(tmp_path / "out.wav"), hop_s=1.0,
                           params_out=str(tmp_path / "p.json"))
    y_file, _ = read(tmp_path / "out.wav")
    y, track = enhancer.process(x, ref, rate, 22050, hop_s=1.0)
    assert y.shape == x.shape and summary["windows"] == len(track.times_s) == 6
    np.testing.assert_allclose(y_file, y, atol=1e-6)
    doc = json.loads((tmp_path / "p.json").read_text())
    np.testing.assert_allclose(doc["times_s"], track.times_s, atol=1e-6)
    np.testing.assert_allclose(doc["raw_normalized"], track.raw, atol=1e-5)


def test_process_keeps_a_one_dimensional_signal_one_dimensional(enhancer):
    y, track = enhancer.process(music(3.0, 24000)[:, 0], music(3.0, 24000, seed=1)[:, 0], 24000)
    assert y.shape == (72000,) and np.all(np.isfinite(y)) and len(track.times_s) == 2
    with pytest.raises(InputError, match="hop"):
        enhancer.process(music(3.0, 24000), music(3.0, 24000), 24000, hop_s=3.0)


def test_golden_file_round_trip(model, enhancer, tmp_path):
    copy = tmp_path / model.name
    copy.write_bytes(model.read_bytes())
    copy.with_suffix(".json").write_text(model.with_suffix(".json").read_text())
    sys.path.insert(0, str(REPO_ROOT / "device_tests"))
    try:
        import golden
    finally:
        sys.path.remove(str(REPO_ROOT / "device_tests"))
    path = golden.write_golden(str(copy), clips=2)
    data = golden.load_golden(str(copy))
    assert path.endswith(".golden.npz") and data["audio"].shape == (2, 2, 60000) and data["audio"].dtype == np.int16
    assert str(data["sha256"]) == enhancer.metadata["sha256"]
    for pair, expected in zip(data["audio"], data["params"]):
        np.testing.assert_array_equal(golden.predict(enhancer, pair), expected)


def test_shipped_golden_parameters_are_what_the_runtime_predicts():
    """The shipped model's golden file (checked on the device by device_tests, which CI does not run) must follow
    every change of the runtime's analysis: a stale one fails here, not first on a Pi."""
    shipped = REPO_ROOT / "models" / defaults.DEFAULT_MODEL
    sys.path.insert(0, str(REPO_ROOT / "device_tests"))
    try:
        import golden
    finally:
        sys.path.remove(str(REPO_ROOT / "device_tests"))
    data = golden.load_golden(str(shipped))
    assert data is not None, f"no golden file beside {shipped}: python device_tests/golden.py {shipped}"
    enhancer = Enhancer(str(shipped))
    assert str(data["sha256"]) == enhancer.metadata["sha256"]
    for k, (pair, expected) in enumerate(zip(data["audio"], data["params"])):
        got = golden.predict(enhancer, pair)
        assert np.abs(got - expected).max() <= 1e-5, (
            f"clip {k}: rewrite the golden file (python device_tests/golden.py {shipped}); "
            f"{PARAM_SPEC.names[int(np.argmax(np.abs(got - expected)))]} moved")


def test_device_path_imports_no_tensorflow(model, tmp_path):
    inp = write_audio(tmp_path / "in.wav", music(3.0, 48000, 2), 48000)
    ref = write_audio(tmp_path / "ref.wav", music(3.0, 48000, 2, seed=1), 48000)
    script = f"""
import sys
from aebox_edge.cli import main
from aebox_edge.runtime import analyser, backend, bench, cli, enhance, enhancer, live, render, track
main(["run", {str(inp)!r}, "-r", {str(ref)!r}, "-o", {str(tmp_path / 'out.wav')!r}, "--model", {str(model)!r}],
     standalone_mode=False)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tflite_runtime"))
print("HEAVY", heavy)
"""
    proc = run_subprocess(["-c", script])
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout
    assert (tmp_path / "out.wav").exists()


def test_preferred_backend_does_not_warn():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        backend.load_backend()
    assert not caught  # ai_edge_litert is the preferred backend: nothing to warn about


def test_info_names_the_backend_and_broken_installs(monkeypatch):
    from aebox_edge.runtime.info import _backend

    broken = types.ModuleType("aebox_broken_backend")
    monkeypatch.setitem(sys.modules, "aebox_broken_backend", broken)  # imports, but has no Interpreter
    litert = [b for b in backend.BACKENDS if b[0] == "ai_edge_litert"][0]
    monkeypatch.setattr(backend, "BACKENDS", (("missing", "aebox_no_such_module", "Interpreter", "x"),
                                              ("broken", "aebox_broken_backend", "Interpreter", "y"), litert))
    report = _backend()
    assert report.startswith("ai_edge_litert.interpreter (ai-edge-litert ")
    assert "unusable aebox_broken_backend: AttributeError" in report and "aebox_no_such_module" not in report
    monkeypatch.setattr(backend, "BACKENDS", (("missing", "aebox_no_such_module", "Interpreter", "x"),))
    assert _backend() == "none (install ai-edge-litert)"


def test_stream_analysis_equals_window_by_window_analysis(enhancer):
    """The whole-file analysis (one resampled stream, shared log-mel frames) against each window resampled and
    transformed on its own, as the file runner did before: the parameters agree within 0.01 normalized (the two
    differ only near each window's edges, where a window resampled alone sees zeros)."""
    from aebox_edge.frontend import fit_window, log_mel
    from aebox_edge.runtime.matching import analytic_fit, match_features
    from ddsp_kernels.match import BandLevels, combine

    rate = 44100
    x, ref = music(9.0, rate, 2, seed=3), music(4.0, rate, 2, seed=4)
    reference = enhancer.reference(lambda n: array_blocks(ref, n), rate)
    n = enhancer.window_frames(rate)
    track = enhancer.analyse(array_blocks(x, n), reference, rate, hop_s=1.25)  # overlapping: shared frames
    levels = BandLevels(rate)
    for block in array_blocks(x, n):
        levels.add(block)
    analytic = analytic_fit(levels, reference.match)
    assert len(track.times_s) == 7  # every 1.248 s, the last one aligned to the end
    for t, streamed in zip(track.times_s, track.raw):
        start = min(len(x) - n, round(t * rate) - n // 2)
        mono = enhancer.analysis_audio(x[start:start + n], rate)
        features = log_mel(fit_window(mono, enhancer.front_end), enhancer.front_end)[..., None]
        alone = enhancer.invoke(features, reference.features,
                                match_features(mono, enhancer.analysis_rate, reference.match))
        np.testing.assert_allclose(streamed, combine(analytic, alone), atol=0.01)
