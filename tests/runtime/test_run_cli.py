"""``aebox-edge run`` on files: outputs in the input's format at any rate and channel count, the parameter track,
and every bad input of the issue (exit 2 for bad input, 1 for a runtime failure, never a partial output file);
memory stays bounded on a long file."""

import ast
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from aebox_edge.cli import main
from support import REPO_ROOT, bad_audio_file, env, music, run_subprocess, write_audio


@pytest.fixture
def files(tmp_path):
    """A 3 s stereo 44.1 kHz 16-bit input and a 4 s mono 24-bit FLAC reference."""
    return {"input": write_audio(tmp_path / "in.wav", music(3.0, 44100, 2), 44100, "PCM_16"),
            "reference": write_audio(tmp_path / "ref.flac", music(4.0, 48000, 1, seed=1), 48000, "PCM_24")}


def run(model, *args):
    return CliRunner().invoke(main, ["run", *map(str, args), "--model", str(model)])


def leftovers(directory, keep=()):
    """Files in ``directory`` other than ``keep`` (a failed run must leave neither output nor temporary file)."""
    return sorted(p.name for p in directory.iterdir() if p.name not in keep)


def assert_bad_input(result, *words):
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert lines[-1].startswith("aebox-edge: error:"), result.stderr
    for word in words:
        assert word in lines[-1], lines[-1]


def test_run_writes_output_in_the_input_format_with_a_parameter_track(model, files, tmp_path):
    out = tmp_path / "out.flac"
    inp = write_audio(tmp_path / "in24.flac", music(3.0, 44100, 2), 44100, "PCM_24")
    result = run(model, inp, "-r", files["reference"], "-o", out, "--params-out", tmp_path / "p.json", "--hop", 0.5)
    assert result.exit_code == 0, result.output
    info = sf.info(str(out))
    assert (info.format, info.subtype, info.samplerate, info.channels, info.frames) == ("FLAC", "PCM_24", 44100, 2,
                                                                                        132300)
    assert "wrote" in result.stdout and "analysis window" in result.stdout
    track = json.loads((tmp_path / "p.json").read_text())
    # the hop is rounded to whole STFT hops (256 samples at 24 kHz) so that overlapping windows share frames
    assert track["windows"] == len(track["times_s"]) == 2 and track["hop_s"] == pytest.approx(0.5, abs=128 / 24000)
    assert set(track["params"]) >= {"low_shelf_gain_db", "comp_makeup_db"}
    assert len(track["raw_normalized"]) == 2 and track["reference_window"]["windows"] == 2
    assert leftovers(tmp_path, keep={"in.wav", "ref.flac", "in24.flac", "out.flac", "p.json"}) == []


def test_wav_output_of_a_flac_input_keeps_its_subtype(model, files, tmp_path):
    inp = write_audio(tmp_path / "in24.flac", music(3.0, 44100, 2), 44100, "PCM_24")
    assert run(model, inp, "-r", files["reference"], "-o", tmp_path / "out.wav").exit_code == 0
    assert (sf.info(str(tmp_path / "out.wav")).format, sf.info(str(tmp_path / "out.wav")).subtype) == ("WAV", "PCM_24")


@pytest.mark.parametrize("rate, channels, seconds", [(8000, 1, 3.0), (192000, 2, 3.0), (48000, 8, 2.0),
                                                     (22050, 1, 1 / 22050)],
                         ids=["8kHz", "192kHz", "8-channels", "1-sample"])
def test_any_rate_and_channel_count(model, files, tmp_path, rate, channels, seconds):
    x = music(seconds, rate, channels) if seconds > 0.001 else np.full((1, 1), 0.25, np.float32)
    inp = write_audio(tmp_path / "x.wav", x, rate, "FLOAT")
    result = run(model, inp, "-r", files["reference"], "-o", tmp_path / "y.wav")
    assert result.exit_code == 0, result.output
    y, y_rate = sf.read(str(tmp_path / "y.wav"), always_2d=True)
    assert y_rate == rate and y.shape == x.shape and np.all(np.isfinite(y))


def test_silent_input_gives_a_finite_output(model, files, tmp_path):
    inp = write_audio(tmp_path / "silence.wav", np.zeros((48000, 2), np.float32), 48000, "FLOAT")
    result = run(model, inp, "-r", files["reference"], "-o", tmp_path / "y.wav")
    assert result.exit_code == 0, result.output
    y, _ = sf.read(str(tmp_path / "y.wav"))
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) < 1e-6
    # its parameter track is standard JSON: the silent output's loudness is null, not -Infinity
    result = run(model, inp, "-r", files["reference"], "-o", tmp_path / "z.wav", "--params-out", tmp_path / "p.json")
    assert result.exit_code == 0, result.output
    track = json.loads((tmp_path / "p.json").read_text(), parse_constant=lambda name: pytest.fail(name))
    assert track["output_lufs_before"] is None and track["level_gain_db"] == 0.0


@pytest.mark.parametrize("live", [False, True])
def test_a_silent_reference_exits_2_without_output(model, files, tmp_path, live):
    """A reference below the absolute gate throughout has no level or spectrum to match: a bad input."""
    silent = write_audio(tmp_path / "silent_ref.wav", np.zeros((96000, 2), np.float32), 48000, "FLOAT")
    args = ["--simulate"] if live else []
    result = run(model, *args, files["input"], "-r", silent, "-o", tmp_path / "out.wav")
    assert_bad_input(result, str(silent), "silent")
    assert leftovers(tmp_path, keep={"in.wav", "ref.flac", "silent_ref.wav"}) == []


@pytest.mark.parametrize("role", ["input", "reference"])
@pytest.mark.parametrize("kind, words", [("missing", ["no such file"]), ("non_audio", ["not an audio file"]),
                                         ("empty", ["empty"]), ("nan", ["NaN or Inf"]), ("inf", ["NaN or Inf"])])
def test_bad_input_or_reference_exits_2_without_output(model, files, tmp_path, role, kind, words):
    bad = bad_audio_file(tmp_path, kind)
    args = {"input": files["input"], "reference": files["reference"], role: bad}
    result = run(model, args["input"], "-r", args["reference"], "-o", tmp_path / "out.wav")
    assert_bad_input(result, str(bad), *words)
    assert not (tmp_path / "out.wav").exists()
    assert leftovers(tmp_path, keep={"in.wav", "ref.flac", bad.name}) == []


def test_corrupt_model_exits_2(model, files, tmp_path):
    from aebox_edge.frontend import FRONT_ENDS
    from aebox_edge.runtime.metadata import build_metadata, write_metadata

    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(model.read_bytes()[:5000])
    write_metadata(corrupt, build_metadata(corrupt, front_end=FRONT_ENDS["edge"], quantization="int8",
                                           input_names=["input_features", "reference_features"],
                                           output_name="output_0", model_config="edge"))
    result = CliRunner().invoke(main, ["run", str(files["input"]), "-r", str(files["reference"]), "-o",
                                       str(tmp_path / "out.wav"), "--model", str(corrupt)])
    assert_bad_input(result, str(corrupt), "not a usable .tflite model")
    assert not (tmp_path / "out.wav").exists()


def test_model_without_metadata_exits_2(model, files, tmp_path):
    lone = tmp_path / "lone.tflite"
    lone.write_bytes(model.read_bytes())
    result = CliRunner().invoke(main, ["run", str(files["input"]), "-r", str(files["reference"]), "-o",
                                       str(tmp_path / "out.wav"), "--model", str(lone)])
    assert_bad_input(result, str(lone), "no metadata")


def test_output_in_a_missing_directory_exits_2(model, files, tmp_path):
    result = run(model, files["input"], "-r", files["reference"], "-o", tmp_path / "nowhere" / "out.wav")
    assert_bad_input(result, "output directory does not exist")
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("target", ["input", "reference"])
def test_output_equal_to_an_input_is_refused_even_with_force(model, files, target, force):
    before = files[target].read_bytes()
    result = run(model, files["input"], "-r", files["reference"], "-o", files[target], *(["--force"] if force else []))
    assert_bad_input(result, str(files[target]))
    assert files[target].read_bytes() == before
    assert leftovers(files[target].parent, keep={"in.wav", "ref.flac"}) == []


def test_existing_output_needs_force(model, files, tmp_path):
    out = tmp_path / "out.wav"
    out.write_bytes(b"keep me")
    assert_bad_input(run(model, files["input"], "-r", files["reference"], "-o", out), "already exists")
    assert out.read_bytes() == b"keep me"
    assert run(model, files["input"], "-r", files["reference"], "-o", out, "--force").exit_code == 0
    assert sf.info(str(out)).frames == 132300


def test_existing_params_out_needs_force(model, files, tmp_path):
    (tmp_path / "p.json").write_text("{}")
    result = run(model, files["input"], "-r", files["reference"], "-o", tmp_path / "out.wav", "--params-out",
                 tmp_path / "p.json")
    assert_bad_input(result, "p.json", "already exists")
    assert not (tmp_path / "out.wav").exists()


@pytest.mark.parametrize("args, words", [
    (["--hop", "3"], ["hop must be in"]),
    (["--hop", "0"], ["hop must be in"]),
    (["--realtime"], ["--realtime applies to --simulate"]),
    (["--live"], ["--live takes no INPUT"]),
])
def test_bad_options_exit_2(model, files, tmp_path, args, words):
    result = run(model, files["input"], "-r", files["reference"], "-o", tmp_path / "out.wav", *args)
    assert_bad_input(result, *words)
    assert not (tmp_path / "out.wav").exists()


def test_missing_output_option_exits_2(model, files):
    assert_bad_input(run(model, files["input"], "-r", files["reference"]), "-o OUTPUT")


def test_runtime_failure_exits_1_without_partial_output(model, files, tmp_path, monkeypatch):
    from ai_edge_litert.interpreter import Interpreter

    monkeypatch.setattr(Interpreter, "get_tensor", lambda self, i: np.full((1, 24), np.nan, np.float32))
    result = run(model, files["input"], "-r", files["reference"], "-o", tmp_path / "out.wav", "--params-out",
                 tmp_path / "p.json")
    assert result.exit_code == 1, result.output
    assert "non-finite parameters" in result.stderr
    assert leftovers(tmp_path, keep={"in.wav", "ref.flac"}) == []


def test_failure_while_writing_leaves_no_partial_output(model, files, tmp_path, monkeypatch):
    from ddsp_kernels import StreamingChain

    calls = {"n": 0}
    original = StreamingChain.process

    def failing(self, block):
        calls["n"] += 1
        if calls["n"] == 3:
            raise MemoryError("simulated failure in the middle of the file")
        return original(self, block)

    monkeypatch.setattr(StreamingChain, "process", failing)
    result = run(model, files["input"], "-r", files["reference"], "-o", tmp_path / "out.wav")
    assert result.exit_code == 1, result.output
    assert "internal error: MemoryError: simulated failure" in result.stderr.splitlines()[-1]
    assert leftovers(tmp_path, keep={"in.wav", "ref.flac"}) == []


def test_long_file_shows_progress(model, files, tmp_path):
    inp = write_audio(tmp_path / "long.wav", music(31.0, 8000), 8000, "PCM_16")
    result = run(model, inp, "-r", files["reference"], "-o", tmp_path / "out.wav")
    assert result.exit_code == 0, result.output
    assert "analysing, then processing" in result.stderr


def _write_long(path, seconds, rate=48000, channels=2):
    """A long 16-bit file written block by block (the test itself stays small too)."""
    block = music(10.0, rate, channels)
    with sf.SoundFile(str(path), "w", rate, channels, "PCM_16") as f:
        for k in range(int(np.ceil(seconds / 10.0))):
            f.write(np.roll(block, 997 * k, axis=0)[:int(min(10.0, seconds - 10.0 * k) * rate)])
    return path


_PEAK_RSS_SCRIPT = """
import sys
from aebox_edge.runtime.bench import rss_mb
from aebox_edge.cli import main
try:
    main(sys.argv[1:], prog_name="aebox-edge")
finally:
    print("PEAK_RSS_MB", rss_mb()["peak"], file=sys.stderr)
"""


def _peak_rss_mb(args):
    """Run the CLI in a fresh process; its own peak RSS in MB."""
    proc = subprocess.run([sys.executable, "-c", _PEAK_RSS_SCRIPT, *map(str, args)], cwd=REPO_ROOT, env=env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return float(proc.stderr.rsplit("PEAK_RSS_MB", 1)[1])


def test_memory_does_not_grow_with_the_file_length(model, files, tmp_path):
    """A 120 s 48 kHz stereo file (46 MB as float32) costs no more RSS than a 5 s one, within 25 MB."""
    rss = {}
    for seconds in (5, 120):
        inp = _write_long(tmp_path / f"in{seconds}.wav", seconds)
        rss[seconds] = _peak_rss_mb(["run", inp, "-r", files["reference"], "-o", tmp_path / f"out{seconds}.wav",
                                     "--model", model])
        assert sf.info(str(tmp_path / f"out{seconds}.wav")).frames == seconds * 48000
    assert rss[120] - rss[5] < 25, rss
    assert rss[120] < 300, rss


_IMPORTS_SCRIPT = """import sys
from aebox_edge.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
finally:
    print(sorted(m for m in sys.modules if m == "scipy" or m.startswith("scipy.")))
"""


def test_run_imports_no_scipy_signal(model, files, tmp_path):
    """The cold start: a file run (analysis, chain, level stage, write) imports of scipy only its compiled cascade
    (``ddsp_kernels.iir.COMPILED``) and what that module itself loads (scipy's package init and ``scipy._lib``),
    not the ``scipy.signal`` package (whose init pulls in scipy.stats and scipy.interpolate: 0.8 s here, seconds on
    a Pi)."""
    args = ["run", files["input"], "-r", files["reference"], "-o", tmp_path / "out.wav", "--model", model]
    proc = run_subprocess(["-c", _IMPORTS_SCRIPT, *map(str, args)])
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out.wav").exists()
    modules = ast.literal_eval(proc.stdout.strip().splitlines()[-1])
    assert "scipy.signal._sosfilt" in modules
    light = ("scipy", "scipy.__config__", "scipy.version", "scipy._cyutility", "scipy.signal._sosfilt")
    assert [m for m in modules if m not in light and not m.startswith(("scipy._lib", "scipy._distributor_init"))] \
        == [], modules



def test_run_uses_two_threads_where_there_are_two_cores(model, files, tmp_path, monkeypatch):
    """`run`'s default threads are ``RUN_THREADS``: two where the process may use two cores or more, else one
    (the parameter track reports them)."""
    import os

    from aebox_edge import defaults

    assert defaults.RUN_THREADS == min(2, defaults.usable_cpus())
    result = run(model, files["input"], "-r", files["reference"], "-o", tmp_path / "out.wav",
                 "--params-out", tmp_path / "p.json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "p.json").read_text())["threads"] == defaults.RUN_THREADS
    for cpus in ({0}, {0, 1, 2, 3}):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid, cpus=cpus: cpus, raising=False)
        assert defaults.usable_cpus() == len(cpus)
