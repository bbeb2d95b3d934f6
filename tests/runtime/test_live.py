"""The live engine: its ring of the last window, parameter hand-over, the simulated stream (as fast as possible
and paced), ``--live`` through a stand-in sounddevice (xruns, Ctrl-C, statistics) and its bad inputs. No sound card
and no sounddevice needed; nothing here asserts on wall-clock time."""

import _thread
import signal
import threading
import types

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from aebox_edge.cli import main
from aebox_edge.errors import RuntimeFailure
from aebox_edge.runtime.live import LiveEngine, simulate
from aebox_edge.runtime.matching import analytic_fit, match_features
from ddsp_kernels.match import BandLevels
from aebox_edge.runtime.track import array_blocks
from ddsp_kernels import PARAM_SPEC, StreamingChain
from support import music, write_audio


@pytest.fixture
def reference(enhancer):
    return enhancer.reference(lambda n: array_blocks(music(2.5, 24000, seed=1), n), 24000)


@pytest.fixture
def files(tmp_path):
    return {"input": write_audio(tmp_path / "in.wav", music(6.0, 16000, 2), 16000, "FLOAT"),
            "reference": write_audio(tmp_path / "ref.wav", music(3.0, 16000, 1, seed=1), 16000, "FLOAT")}


def test_ring_holds_the_mono_mix_of_the_last_window(enhancer, reference):
    rate = 8000
    engine = LiveEngine(enhancer, reference, rate, 2)
    x = music(5.0, rate, 2)
    window = enhancer.window_frames(rate)
    position = 0
    for size in (100, 7, 5000, 30000, 1, 333):  # blocks smaller and larger than the ring
        block = x[position:position + size]
        engine.process(block, np.empty_like(block))
        position += size
        expected = x[:position].mean(axis=1)[-window:]
        np.testing.assert_allclose(engine.last_window()[window - len(expected):], expected, atol=1e-7)
        assert engine.ready == (position >= window) and engine.frames_in == position


def test_callback_runs_neutral_parameters_until_the_first_analysis(enhancer, reference):
    rate = 16000
    engine = LiveEngine(enhancer, reference, rate, 1)
    neutral = StreamingChain(rate, PARAM_SPEC.neutral())
    x = music(1.0, rate)
    played, expected = [], []
    for k in range(0, len(x), 256):
        out = np.empty_like(x[k:k + 256])
        engine.process(x[k:k + 256], out)
        played.append(out)
        expected.append(neutral.process(x[k:k + 256]))
        np.testing.assert_allclose(PARAM_SPEC.to_normalized(engine._chain.params),
                                   PARAM_SPEC.to_normalized(PARAM_SPEC.neutral()), atol=1e-9)
    delay = engine._level.latency  # the limiter's look-ahead, reported in the statistics
    assert engine.stats()["limiter_latency_ms"] == round(1e3 * delay / rate, 2) > 0
    played, expected = np.concatenate(played), np.concatenate(expected)
    start = int(0.4 * rate) - 256  # the level stage waits for its first full 400 ms block: the chain, delayed
    np.testing.assert_allclose(played[delay:start], expected[:start - delay], atol=1e-7)
    assert not played[:delay].any()


def test_analysis_publishes_smoothed_parameters_that_the_callback_applies(enhancer, reference):
    rate = 16000
    engine = LiveEngine(enhancer, reference, rate, 1, hop_s=1.0, smoothing_s=0.0)
    x = music(3.0, rate)
    engine.process(x, np.empty_like(x))
    engine.analyse()
    window = x[-enhancer.window_frames(rate):, 0]
    match = match_features(enhancer.analysis_audio(window, rate), enhancer.analysis_rate, reference.match)
    expected = enhancer.predict(enhancer.features(window, rate), reference.features, match,
                                analytic_fit(BandLevels(rate).add(window), reference.match))
    published = PARAM_SPEC.to_normalized(engine._published[1])
    np.testing.assert_allclose(published, expected, atol=1e-5)
    block = x[:256]
    engine.process(block, np.empty_like(block))
    np.testing.assert_allclose(PARAM_SPEC.to_normalized(engine._chain.params), expected, atol=1e-5)
    assert engine.stats()["analyses"] == 1


def test_simulation_as_fast_as_possible_is_deterministic(enhancer, files, tmp_path):
    runs = []
    for name in ("a.wav", "b.wav"):
        stats = simulate(enhancer, str(files["reference"]), str(files["input"]), str(tmp_path / name),
                         blocksize=512, hop_s=1.0)
        runs.append(sf.read(str(tmp_path / name))[0])
    np.testing.assert_array_equal(runs[0], runs[1])
    assert runs[0].shape == (96000, 2) and np.all(np.isfinite(runs[0]))
    # the ring is full after 2.5 s, then one analysis per second of simulated time
    assert stats["analyses"] == 4 and stats["blocks"] == 188 and stats["missed_deadlines"] is None
    assert stats["duration_s"] == 6.0 and stats["xruns"] == 0
    assert 0 < stats["callback_rtf"] <= stats["engine_rtf"]


def test_paced_simulation_runs_the_analysis_thread(enhancer, tmp_path):
    inp = write_audio(tmp_path / "in.wav", music(3.5, 8000), 8000, "FLOAT")
    ref = write_audio(tmp_path / "ref.wav", music(2.0, 8000, seed=1), 8000, "FLOAT")
    stats = simulate(enhancer, str(ref), str(inp), str(tmp_path / "out.wav"), blocksize=256, realtime=True,
                     hop_s=0.25)
    assert stats["mode"] == "realtime" and isinstance(stats["missed_deadlines"], int)
    assert stats["analyses"] >= 1  # the ring is full for the last second: about four wake-ups
    assert sf.info(str(tmp_path / "out.wav")).frames == 28000


def test_analysis_thread_failure_is_reported_at_stop(enhancer, reference, monkeypatch):
    engine = LiveEngine(enhancer, reference, 8000, 1, hop_s=0.01)
    x = music(3.0, 8000)
    engine.process(x, np.empty_like(x))

    def broken(*args):
        raise ValueError("model exploded")

    monkeypatch.setattr(engine.enhancer, "predict", broken)
    engine.start()
    while engine.analysis_error is None:
        threading.Event().wait(0.01)
    with pytest.raises(RuntimeFailure, match="model exploded"):
        engine.stop()


def test_cli_simulate_writes_the_output_and_prints_statistics(model, files, tmp_path):
    out = tmp_path / "out.wav"
    result = CliRunner().invoke(main, ["run", "--simulate", str(files["input"]), "-r", str(files["reference"]),
                                       "-o", str(out), "--model", str(model), "--blocksize", "1024"])
    assert result.exit_code == 0, result.output
    assert "statistics:" in result.stdout and "late_callbacks" in result.stdout
    assert sf.info(str(out)).frames == 96000


@pytest.mark.parametrize("args, words", [
    (["--simulate"], ["--simulate needs INPUT and -o OUTPUT"]),
    (["--simulate", "-o", "{tmp}/out.wav", "--params-out", "{tmp}/p.json"], ["--params-out applies to files"]),
    (["--simulate", "-o", "{tmp}/out.wav", "--blocksize", "0"], ["blocksize"]),
])
def test_cli_simulate_bad_options_exit_2(model, files, tmp_path, args, words):
    args = [a.format(tmp=tmp_path) for a in args]
    result = CliRunner().invoke(main, ["run", str(files["input"]), "-r", str(files["reference"]), "--model",
                                       str(model), *args])
    assert result.exit_code == 2, result.output
    assert all(w in result.output for w in words)
    assert not (tmp_path / "out.wav").exists()


def test_cli_simulate_refuses_an_existing_output(model, files, tmp_path):
    out = tmp_path / "out.wav"
    out.write_bytes(b"keep")
    result = CliRunner().invoke(main, ["run", "--simulate", str(files["input"]), "-r", str(files["reference"]),
                                       "-o", str(out), "--model", str(model)])
    assert result.exit_code == 2 and "already exists" in result.stderr
    assert out.read_bytes() == b"keep"


def _fake_sounddevice(callbacks_before_ctrl_c: int):
    """A stand-in for sounddevice: one device; its Stream calls the callback from a thread with generated audio
    (the 3rd block flags an xrun) and presses Ctrl-C after ``callbacks_before_ctrl_c`` blocks."""
    sd = types.ModuleType("sounddevice")
    sd.PortAudioError = type("PortAudioError", (Exception,), {})
    sd.opened = {}

    def query_devices(device=None, kind=None):
        if device not in (None, 0, "fake"):
            raise ValueError(f"No {kind} device matching {device!r}")
        return {"name": f"fake {kind}", "default_samplerate": 16000.0, "max_input_channels": 2,
                "max_output_channels": 2}

    class Stream:
        def __init__(self, **kwargs):
            sd.opened.update(kwargs)
            self.kwargs = kwargs
            self.stop = threading.Event()

        def _run(self):
            n, channels = self.kwargs["blocksize"], self.kwargs["channels"]
            x = music(10.0, self.kwargs["samplerate"], channels)
            for k in range(callbacks_before_ctrl_c):
                if self.stop.is_set():
                    return
                out = np.zeros((n, channels), np.float32)
                self.kwargs["callback"](x[k * n:(k + 1) * n], out, n, None, k == 2)
                sd.outputs.append(out)
            _thread.interrupt_main()

        def __enter__(self):
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()
            return self

        def __exit__(self, *exc):
            self.stop.set()
            self.thread.join()

    sd.query_devices, sd.Stream, sd.outputs = query_devices, Stream, []
    return sd


@pytest.fixture
def python_sigint_handler():
    """Ctrl-C is simulated with ``_thread.interrupt_main()``, which does nothing while SIGINT is ignored, as it is
    in a process that a non-interactive shell started in the background (``nohup make test &``): install Python's
    handler for the test."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_live_mode_runs_until_ctrl_c_and_prints_statistics(model, files, monkeypatch, python_sigint_handler):
    sd = _fake_sounddevice(200)
    monkeypatch.setitem(__import__("sys").modules, "sounddevice", sd)
    result = CliRunner().invoke(main, ["run", "--live", "-r", str(files["reference"]), "--model", str(model),
                                       "--blocksize", "256", "--input-device", "0", "--latency", "0.2"])
    assert result.exit_code == 0, result.output
    assert "Ctrl-C to stop" in result.stdout and "stopped" in result.stdout
    assert "blocks 200" in result.stdout and "xruns 1" in result.stdout
    assert sd.opened["device"] == (0, None) and sd.opened["latency"] == 0.2 and sd.opened["samplerate"] == 16000
    assert len(sd.outputs) == 200 and all(np.all(np.isfinite(o)) for o in sd.outputs)


def test_live_mode_without_sounddevice_exits_2(model, files, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "sounddevice", None)
    result = CliRunner().invoke(main, ["run", "--live", "-r", str(files["reference"]), "--model", str(model)])
    assert result.exit_code == 2
    assert "aebox-edge[live]" in result.stderr


def test_live_mode_with_an_unknown_device_exits_2(model, files, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "sounddevice", _fake_sounddevice(0))
    result = CliRunner().invoke(main, ["run", "--live", "-r", str(files["reference"]), "--model", str(model),
                                       "--output-device", "nope"])
    assert result.exit_code == 2 and "audio device" in result.stderr
