"""Issue 16: a careless or hostile user against every command. Nothing is lost (an input, the reference, a device, a
file the same command writes), and every mistake or environment failure is one ``aebox-edge: error:`` line with exit
code 2 before the long work starts: no traceback. Exit codes: 0 ok, 1 internal error, 2 bad input or refused,
128 + the signal when interrupted."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import click
import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from aebox_edge.cli import LAZY_COMMANDS, main
from support import REPO_ROOT, env, music, write_audio


@pytest.fixture
def files(tmp_path):
    """A 3 s stereo 44.1 kHz input, a 4 s mono 48 kHz reference."""
    return {"input": write_audio(tmp_path / "in.wav", music(3.0, 44100, 2), 44100, "PCM_16"),
            "reference": write_audio(tmp_path / "ref.flac", music(4.0, 48000, 1, seed=1), 48000, "PCM_24")}


@pytest.fixture
def no_analysis(monkeypatch):
    """Make the analysis fail loudly: a check that must come before the long work is proved to."""
    from aebox_edge.runtime.enhancer import Enhancer

    def refuse(*args, **kwargs):
        raise AssertionError("the analysis started before the check")

    monkeypatch.setattr(Enhancer, "reference", refuse)


def cli(*args, env_vars=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env_vars)


def run(model, *args):
    return cli("run", *args, "--model", model)


def listing(directory) -> list[str]:
    return sorted(p.name for p in Path(directory).iterdir())


def assert_error(result, *words, code=2):
    """Exit ``code``, exactly one ``aebox-edge: error:`` line holding ``words``, and no traceback."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit) or result.exception is None, result.exception
    lines = [line for line in result.stderr.splitlines() if line.startswith("aebox-edge: error:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert str(word) in lines[0], lines[0]


def assert_refused(result, args):
    """Exit 2 without a traceback: one ``aebox-edge: error:`` line, or click's usage error."""
    assert result.exit_code == 2, (args, result.output)
    assert "Traceback" not in result.output, (args, result.output)
    assert (result.stderr.count("aebox-edge: error:") == 1
            or result.stderr.splitlines()[-1].startswith("Error: ")), (args, result.stderr)


# --- 1. one output guard: never an input, never the reference, never two outputs on one file ------------------------

@pytest.mark.parametrize("mode", ["file", "simulate"])
def test_output_over_the_reference_is_refused_even_with_force(model, files, mode):
    before = files["reference"].read_bytes()
    result = run(model, files["input"], "-r", files["reference"], "-o", files["reference"], "--force",
                 *(["--simulate"] if mode == "simulate" else []))
    assert_error(result, files["reference"], "reference")
    assert files["reference"].read_bytes() == before
    assert listing(files["input"].parent) == ["in.wav", "ref.flac"]


def test_simulate_output_over_a_link_to_the_reference_is_refused(model, files, tmp_path):
    link = tmp_path / "link.flac"
    link.symlink_to(files["reference"])
    before = files["reference"].read_bytes()
    assert_error(run(model, files["input"], "-r", files["reference"], "-o", link, "--force", "--simulate"),
                 "reference")
    assert files["reference"].read_bytes() == before and link.is_symlink()


@pytest.mark.parametrize("same", ["equal", "spelled differently"])
def test_params_out_naming_the_output_is_refused(model, files, tmp_path, same):
    out = tmp_path / "out.wav"
    params = out if same == "equal" else tmp_path / "." / "out.wav"
    result = run(model, files["input"], "-r", files["reference"], "-o", out, "--params-out", params)
    assert_error(result, "--params-out and -o name the same file")
    assert not out.exists()


def test_check_outputs_is_the_one_guard(tmp_path):
    from aebox_edge.errors import PathError
    from aebox_edge.io.atomic import check_outputs

    src = tmp_path / "in.wav"
    src.write_bytes(b"x")
    check_outputs({"-o": tmp_path / "new.wav", "--params-out": None}, inputs={"input": src})
    for outputs, words in [({"-o": src}, "is the input file"),
                           ({"-o": tmp_path / "a", "--json": tmp_path / "a"}, "name the same file"),
                           ({"-o": tmp_path}, "is a directory"),
                           ({"-o": tmp_path / "missing" / "x.wav"}, "output directory does not exist"),
                           ({"-o": "/dev/null"}, "not a regular file")]:
        with pytest.raises(PathError, match=words):
            check_outputs(outputs, inputs={"input": src}, force=True)
    with pytest.raises(PathError, match="already exists"):
        check_outputs({"-o": src})
    assert listing(tmp_path) == ["in.wav"]


# --- 2. non-regular outputs are refused, not replaced ----------------------------------------------------------------

def test_output_naming_a_pipe_is_refused_not_replaced(model, files, tmp_path, no_analysis):
    fifo = tmp_path / "sink.wav"
    os.mkfifo(fifo)
    assert_error(run(model, files["input"], "-r", files["reference"], "-o", fifo, "--force"),
                 fifo, "not a regular file")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_output_naming_dev_null_is_refused(model, files, no_analysis):
    before = os.stat("/dev/null")
    assert_error(run(model, files["input"], "-r", files["reference"], "-o", "/dev/null", "--force"),
                 "/dev/null", "not a regular file")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and os.stat("/dev/null").st_ino == before.st_ino


# --- 3. data preview asks before replacing -------------------------------------------------------------------------

def test_preview_refuses_to_replace_files_without_force(tmp_path):
    data, out = tmp_path / "ds", tmp_path / "pv"
    assert cli("data", "synth", "--out", data, "--count", 2, "--workers", 1).exit_code == 0
    out.mkdir()
    (out / "target.wav").write_bytes(b"mine")
    result = cli("data", "preview", data, "--out", out)
    assert_error(result, out / "target.wav", "already exists")
    assert listing(out) == ["target.wav"] and (out / "target.wav").read_bytes() == b"mine"
    result = cli("data", "preview", data, "--out", out, "--force")
    assert result.exit_code == 0, result.output
    assert sf.info(str(out / "target.wav")).format == "WAV"


# --- 4. SIGTERM / SIGHUP clean up like Ctrl-C and exit 128 + the signal ----------------------------------------------

_SIGNAL_SCRIPT = """
import os, signal, sys, time
import click
from aebox_edge.cli import main
from aebox_edge.io.atomic import atomic_path

@main.command("hang")
@click.argument("path")
def hang(path):
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            fh.write("partial")
        os.kill(os.getpid(), signal.{name})
        time.sleep(30)

sys.argv = ["aebox-edge", "hang", sys.argv[1]]
main()
"""


@pytest.mark.parametrize("name, code", [("SIGINT", 130), ("SIGTERM", 143), ("SIGHUP", 129)])
def test_a_signal_during_a_write_removes_the_temporary_and_exits_128_plus_signal(tmp_path, name, code):
    proc = subprocess.run([sys.executable, "-c", _SIGNAL_SCRIPT.format(name=name), str(tmp_path / "out.txt")],
                          cwd=REPO_ROOT, env=env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.strip().startswith("aebox-edge: error: interrupted") and "Traceback" not in proc.stderr
    assert listing(tmp_path) == []


_SLOW_WRITER = """
import sys, time
from aebox_edge.io import audio
write = audio.AtomicAudioWriter.write
def slow(self, block):
    write(self, block)
    print("BLOCK WRITTEN", flush=True)  # the test signals now; the process waits for it, however loaded the box
    time.sleep(120)
audio.AtomicAudioWriter.write = slow
from aebox_edge.cli import main
sys.argv = ["aebox-edge", *sys.argv[1:]]
main()
"""


def test_sigterm_while_run_writes_its_output_leaves_nothing(model, files, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, "run", str(files["input"]), "-r",
                             str(files["reference"]), "-o", str(out_dir / "out.wav"), "--model", str(model)],
                            cwd=REPO_ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:  # the first block of the output is written: its temporary file is there
        if line.strip() == "BLOCK WRITTEN":
            break
    assert proc.poll() is None, proc.communicate()
    assert [p.stat().st_size > 0 for p in out_dir.iterdir()] == [True]
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr
    assert listing(out_dir) == []


# --- 5. a build that skips every file leaves no folder behind ------------------------------------------------------

def test_build_that_skips_every_file_leaves_no_out_folder(tmp_path):
    music_dir = tmp_path / "music"
    music_dir.mkdir()
    (music_dir / "a.wav").write_text("not audio")
    (music_dir / "b.flac").write_bytes(b"")
    out = tmp_path / "new" / "ds"
    result = cli("data", "build", "--music", music_dir, "--out", out, "--workers", 1)
    assert_error(result, "no usable audio")
    assert listing(tmp_path) == ["music"]


def test_build_into_an_existing_folder_keeps_the_folder_and_leaves_no_shards(tmp_path):
    music_dir, out = tmp_path / "music", tmp_path / "ds"
    music_dir.mkdir()
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (music_dir / "a.wav").write_text("not audio")
    assert_error(cli("data", "build", "--music", music_dir, "--out", out, "--workers", 1), "no usable audio")
    assert listing(out) == ["notes.txt"]


def test_a_refused_synth_keeps_the_dataset_already_there(tmp_path):
    out = tmp_path / "ds"
    assert cli("data", "synth", "--out", out, "--count", 2, "--workers", 1).exit_code == 0
    before = {name: (out / name).read_bytes() for name in listing(out)}
    assert_error(cli("data", "synth", "--out", out, "--count", 2, "--workers", 1), "already holds a dataset")
    assert {name: (out / name).read_bytes() for name in listing(out)} == before


# --- 6. output problems: one line, before the analysis ----------------------------------------------------------------

def test_output_name_ending_in_a_slash(model, files, tmp_path, no_analysis):
    assert_error(run(model, files["input"], "-r", files["reference"], "-o", f"{tmp_path}/out/"), "names a directory")


def test_a_255_byte_output_name_works_and_256_is_refused(model, files, tmp_path):
    longest = tmp_path / ("a" * 251 + ".wav")
    result = run(model, files["input"], "-r", files["reference"], "-o", longest)
    assert result.exit_code == 0, result.output
    assert sf.info(str(longest)).frames == 132300
    too_long = tmp_path / ("b" * 252 + ".wav")
    assert_error(run(model, files["input"], "-r", files["reference"], "-o", too_long), "256 bytes")


def test_temporary_names_are_short(tmp_path):
    from aebox_edge.io.atomic import atomic_path

    with atomic_path(tmp_path / ("c" * 255)) as tmp:
        assert len(os.path.basename(tmp)) < 32
        Path(tmp).write_bytes(b"x")
    assert listing(tmp_path) == ["c" * 255]


@pytest.mark.parametrize("code, words", [(errno.EROFS, "Read-only file system"), (errno.EACCES, "Permission denied")])
def test_a_directory_that_refuses_files_is_reported_before_the_analysis(model, files, tmp_path, monkeypatch,
                                                                        no_analysis, code, words):
    real = tempfile.mkstemp
    out_dir = tmp_path / "locked"
    out_dir.mkdir()

    def refuse(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == out_dir:
            raise OSError(code, os.strerror(code))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    assert_error(run(model, files["input"], "-r", files["reference"], "-o", out_dir / "out.wav"),
                 out_dir / "out.wav", words)
    assert listing(out_dir) == []


def test_an_unwritable_directory_as_an_unprivileged_user(model, files):
    """As root: the real thing, run as nobody (setpriv); as a user: a directory without write permission."""
    base = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        base.chmod(0o755)
        locked = base / "locked"
        locked.mkdir(mode=0o555)
        locked.chmod(0o555)
        inputs = [shutil.copy(p, base / p.name) for p in (files["input"], files["reference"], model,
                                                          model.with_suffix(".json"))]
        for p in inputs:
            os.chmod(p, 0o644)
        args = [sys.executable, "-m", "aebox_edge", "run", inputs[0], "-r", inputs[1], "-o", locked / "out.wav",
                "--model", inputs[2]]
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                pytest.skip("running as root without setpriv: cannot drop privileges")
            args = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *args]
        proc = subprocess.run([str(a) for a in args], cwd=REPO_ROOT, env={**env(), "HOME": str(base)},
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 2 and "ModuleNotFoundError" in proc.stderr:
            pytest.skip(f"the unprivileged user cannot read this checkout: {proc.stderr.splitlines()[-1]}")
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.splitlines() == [f"aebox-edge: error: {locked / 'out.wav'}: cannot create files in "
                                            f"{locked}: Permission denied"]
        assert listing(locked) == []
    finally:
        shutil.rmtree(base)


def test_a_full_disk_during_the_write_is_one_line_and_leaves_nothing(model, files, tmp_path, monkeypatch):
    real = sf.SoundFile.write
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    calls = {"n": 0}

    def fill_up(self, data):
        if str(self.name).startswith(str(out_dir)):  # the output's temporary file, not the level stage's
            calls["n"] += 1
            if calls["n"] == 3:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, data)

    monkeypatch.setattr(sf.SoundFile, "write", fill_up)
    assert_error(run(model, files["input"], "-r", files["reference"], "-o", out_dir / "out.wav"),
                 out_dir / "out.wav", "No space left on device")
    assert listing(out_dir) == []


def test_a_full_disk_when_libsndfile_writes_says_so(tmp_path, monkeypatch):
    from aebox_edge.errors import AudioError
    from aebox_edge.io import audio

    def system_error(self, data):
        raise sf.LibsndfileError(2)  # SFE_SYSTEM: what libsndfile reports for ENOSPC

    monkeypatch.setattr(sf.SoundFile, "write", system_error)
    monkeypatch.setattr(os, "statvfs", lambda path: os.statvfs_result((4096,) * 3 + (0,) * 7))
    with pytest.raises(AudioError, match="No space left on device"):
        audio.write(tmp_path / "x.wav", np.zeros((10, 1), np.float32), 8000)
    assert listing(tmp_path) == []


def test_a_full_disk_while_writing_json_is_one_line_and_leaves_nothing(model, files, tmp_path, monkeypatch):
    real = json.dump

    def fill_up(obj, fh, **kwargs):
        if "params" in obj:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(obj, fh, **kwargs)

    monkeypatch.setattr(json, "dump", fill_up)
    result = run(model, files["input"], "-r", files["reference"], "-o", tmp_path / "out.wav", "--params-out",
                 tmp_path / "p.json")
    assert_error(result, tmp_path / "p.json", "No space left on device")
    assert "p.json" not in listing(tmp_path) and not any(n.startswith(".") for n in listing(tmp_path))


@pytest.mark.parametrize("rate, channels, words", [(96000, 2, "up to 48000 Hz"), (48000, 6, "at most 2 channel")])
def test_mp3_limits_are_reported_before_the_analysis(model, files, tmp_path, no_analysis, rate, channels, words):
    inp = write_audio(tmp_path / "x.wav", music(1.0, rate, channels), rate, "PCM_16")
    assert_error(run(model, inp, "-r", files["reference"], "-o", tmp_path / "out.mp3"), "out.mp3", words)
    assert not (tmp_path / "out.mp3").exists()


@pytest.mark.parametrize("name, rate, channels, words", [
    ("x.ogg", 256000, 1, "up to 192000 Hz"),   # libsndfile's Vorbis encoder crashes the process there
    ("x.opus", 44100, 2, "Opus only supports sample rates"),
    ("x.flac", 48000, 9, "at most 8 channel"),
    ("x.flac", 768000, 1, "flac does not support this sample rate"),
])
def test_format_limits_are_checked_when_the_writer_is_made(tmp_path, name, rate, channels, words):
    from aebox_edge.errors import AudioError
    from aebox_edge.io.audio import AtomicAudioWriter

    with pytest.raises(AudioError, match=words):
        AtomicAudioWriter(tmp_path / name, rate, channels)
    assert listing(tmp_path) == []


# --- 7. model metadata of the wrong shape -----------------------------------------------------------------------------

@pytest.mark.parametrize("edit, words", [
    (lambda meta: [meta], "must be a JSON object, got a list"),
    (lambda meta: {k: v for k, v in meta.items() if k not in ("inputs", "output")}, "missing inputs, output"),
    (lambda meta: {**meta, "front_end": ["edge"]}, "front_end is a list, expected an object"),
    (lambda meta: {**meta, "inputs": []}, "non-empty list"),
])
def test_malformed_model_metadata_says_what_is_wrong(model, files, tmp_path, edit, words):
    bad = tmp_path / "bad.tflite"
    shutil.copy(model, bad)
    meta = json.loads(model.with_suffix(".json").read_text())
    (tmp_path / "bad.json").write_text(json.dumps(edit(meta)))
    assert_error(run(bad, files["input"], "-r", files["reference"], "-o", tmp_path / "out.wav"), "bad.json", words)
    assert_error(cli("bench", "--model", bad, "--num-runs", 1, "--warmup-runs", 0), "bad.json", words)


# --- 8. bench --json: its path is checked first -------------------------------------------------------------------------

@pytest.mark.parametrize("target, words", [("missing/b.json", "output directory does not exist"),
                                           ("dir/", "names a directory")])
def test_bench_json_path_is_checked_before_the_benchmark(tmp_path, monkeypatch, target, words):
    from aebox_edge.runtime import bench

    monkeypatch.setattr(bench, "run_bench", lambda *a, **k: pytest.fail("the benchmark ran before the check"))
    assert_error(cli("bench", "--json", f"{tmp_path}/{target}"), words)


# --- 9. non-finite option values are refused at parse time -----------------------------------------------------------

def _float_options():
    for name in sorted(LAZY_COMMANDS) + ["demo", "info"]:
        command = main.get_command(None, name)
        for sub in getattr(command, "commands", {"": command}).values():
            for param in sub.params:
                if isinstance(param.type, click.types.FloatParamType):
                    yield f"{name} {sub.name} {param.opts[-1]}", param


def test_every_float_option_refuses_nan_and_inf():
    options = list(_float_options())
    assert len(options) >= 12
    for label, param in options:
        for text in ("nan", "inf", "-inf", "NaN"):
            with pytest.raises(click.BadParameter, match="finite|range"):
                param.type.convert(text, param, None)
        with pytest.raises(click.BadParameter, match="finite"):
            param.type.convert("nan", param, None)


@pytest.mark.parametrize("option", ["--smoothing", "--hop", "--latency"])
def test_nan_option_exits_2_before_any_work(model, files, tmp_path, option, no_analysis):
    result = run(model, files["input"], "-r", files["reference"], "-o", tmp_path / "out.wav", option, "nan")
    assert result.exit_code == 2 and "finite" in result.output, result.output
    assert not (tmp_path / "out.wav").exists()


# --- 10 (the bound): sample rates outside 1 kHz .. 768 kHz are refused when audio is opened ----------------------------

def _wav_with_rate(path: Path, rate: int) -> Path:
    sf.write(str(path), np.zeros((64, 1), np.float32), 48000, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    data[24:28] = rate.to_bytes(4, "little")           # fmt chunk: sample rate
    data[28:32] = (2 * rate).to_bytes(4, "little")     # byte rate (mono PCM_16)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("rate", [100_000_007, 1_000_003, 999, 500])
def test_sample_rates_outside_the_bound_are_refused(tmp_path, rate):
    path = _wav_with_rate(tmp_path / "odd.wav", rate)
    assert sf.info(str(path)).samplerate == rate
    assert_error(cli("info", path), path, f"sample rate {rate} Hz is outside")


@pytest.mark.parametrize("rate", [1000, 768000])
def test_sample_rates_at_the_bound_are_accepted(tmp_path, rate):
    from aebox_edge.io import audio

    path = _wav_with_rate(tmp_path / "edge.wav", rate)
    assert audio.info(path).sample_rate == rate


# --- 11. no noise around the one error line ---------------------------------------------------------------------------

_MODULES_SCRIPT = """
import json, sys
import click
from aebox_edge.cli import main
try:
    code = main.main({args!r}, prog_name="aebox-edge", standalone_mode=False)
except SystemExit as exc:
    code = exc.code
except click.ClickException as exc:  # a usage error: click prints it in standalone mode
    code = exc.exit_code
    exc.show()
print(json.dumps({{"code": code, "tensorflow": "tensorflow" in sys.modules}}))
"""


def _modules_after(args):
    proc = subprocess.run([sys.executable, "-c", _MODULES_SCRIPT.format(args=[str(a) for a in args])],
                          cwd=REPO_ROOT, env=env(), capture_output=True, text=True, timeout=120)
    assert proc.stdout, (args, proc.stderr)
    return json.loads(proc.stdout.splitlines()[-1]), proc.stderr


def test_eval_and_export_check_paths_before_importing_tensorflow(tmp_path):
    pytest.importorskip("tensorflow")
    not_a_dataset = tmp_path / "empty"
    not_a_dataset.mkdir()
    keras_file = tmp_path / "m.keras"
    keras_file.write_bytes(b"not a model")
    cases = [
        ["eval", "--model", tmp_path / "missing.keras", "--data", not_a_dataset],
        ["eval", "--model", keras_file, "--data", not_a_dataset],
        ["eval", "--model", tmp_path / "m.txt", "--data", not_a_dataset],
        ["eval", "--model", keras_file, "--data", not_a_dataset, "--json", tmp_path / "no" / "r.json"],
        ["export", "--model", tmp_path / "missing"],
        ["export", "--model", keras_file, "--out", tmp_path / "x.onnx"],
        ["export", "--model", keras_file, "--out", tmp_path / "d.tflite"],
        ["export", "--model", keras_file, "--calibration-data", tmp_path / "none"],
    ]
    (tmp_path / "m.txt").write_text("x")
    (tmp_path / "d.tflite").mkdir()
    for args in cases:
        report, stderr = _modules_after(args)
        assert report == {"code": 2, "tensorflow": False}, (args, stderr)
        lines = stderr.splitlines()  # one project error line, or click's usage error (usage, hint, error)
        assert (len(lines) == 1 and lines[0].startswith("aebox-edge: error:")) or (
            len(lines) == 4 and lines[-1].startswith("Error: ")), (args, stderr)


def test_a_text_file_named_mp3_gives_the_decoders_reason_and_no_noise(tmp_path):
    fake = tmp_path / "song.mp3"
    fake.write_text("not audio\n" * 20)
    proc = subprocess.run([sys.executable, "-m", "aebox_edge", "info", str(fake)], cwd=REPO_ROOT, env=env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"aebox-edge: error: {fake}: not an audio file"), proc.stderr
    assert "Illegal Audio-MPEG-Header" in lines[0] and "does not exist" not in lines[0]


# --- 12. every extension writes its own format; .opus is Ogg/Opus -------------------------------------------------------

EXTENSIONS = {".wav": ("WAV", None), ".flac": ("FLAC", None), ".ogg": ("OGG", "VORBIS"), ".oga": ("OGG", "VORBIS"),
              ".opus": ("OGG", "OPUS"), ".mp3": ("MP3", "MPEG_LAYER_III"), ".aif": ("AIFF", None),
              ".aiff": ("AIFF", None), ".aifc": ("AIFF", None), ".au": ("AU", None), ".caf": ("CAF", None),
              ".w64": ("W64", None), ".rf64": ("RF64", None)}


@pytest.mark.parametrize("ext", sorted(EXTENSIONS))
def test_each_extension_round_trips_to_its_format(tmp_path, ext):
    from aebox_edge.io import audio

    like = write_audio(tmp_path / "like.wav", music(0.5, 48000, 2), 48000, "PCM_24")
    path = tmp_path / f"out{ext}"
    audio.write(path, music(0.5, 48000, 2), 48000, like=like)
    info = sf.info(str(path))
    fmt, subtype = EXTENSIONS[ext]
    assert info.format == fmt and (subtype is None or info.subtype == subtype), (info.format, info.subtype)
    assert (info.samplerate, info.channels) == (48000, 2)
    y, _ = audio.read(path)
    assert y.shape[1] == 2 and abs(len(y) - 24000) <= 2000  # lossy codecs pad to their frame size


def test_run_writes_opus_for_an_opus_name(model, files, tmp_path):
    inp = write_audio(tmp_path / "x48.wav", music(3.0, 48000, 2), 48000, "PCM_16")
    result = run(model, inp, "-r", files["reference"], "-o", tmp_path / "out.opus")
    assert result.exit_code == 0, result.output
    info = sf.info(str(tmp_path / "out.opus"))
    assert (info.format, info.subtype) == ("OGG", "OPUS")


# --- acceptance: internal errors are one line, their traceback on request ------------------------------------------------

def test_an_internal_error_is_one_line_with_exit_1_and_its_traceback_on_request(model, files, tmp_path, monkeypatch):
    from ddsp_kernels import StreamingChain

    def broken(self, block):
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(StreamingChain, "process", broken)
    args = [files["input"], "-r", files["reference"], "-o", tmp_path / "out.wav"]
    result = run(model, *args)
    assert_error(result, "internal error: ZeroDivisionError: simulated bug", "AEBOX_EDGE_DEBUG=1", code=1)
    result = cli("run", *args, "--model", model, env_vars={"AEBOX_EDGE_DEBUG": "1"})
    assert result.exit_code == 1 and isinstance(result.exception, ZeroDivisionError)
    assert listing(tmp_path) == ["in.wav", "ref.flac"]


def test_readme_documents_the_exit_codes_and_the_debug_switch():
    readme = (REPO_ROOT / "README.md").read_text()
    for word in ("Exit codes", "130", "143", "AEBOX_EDGE_DEBUG"):
        assert word in readme


# --- acceptance: no traceback for a user's mistake on any command --------------------------------------------------------

def test_no_traceback_for_mistakes_on_any_command(tmp_path):
    text = tmp_path / "t.wav"
    text.write_text("x")
    dataset = tmp_path / "ds"
    assert cli("data", "synth", "--out", dataset, "--count", 2, "--workers", 1).exit_code == 0
    cases = [
        ["info", tmp_path / "missing.wav"],
        ["info", text],
        ["run", text, "-r", text, "-o", tmp_path / "o.wav"],
        ["run", text, "--simulate", "-r", text, "-o", tmp_path / "o.wav"],
        ["bench", "--model", tmp_path / "missing.tflite"],
        ["bench", "--json", dataset],
        ["data", "synth", "--out", text, "--count", 1],
        ["data", "build", "--music", tmp_path / "nothing", "--out", tmp_path / "b"],
        ["data", "preview", dataset, "--out", text],
        ["data", "preview", dataset, "--index", 99, "--out", tmp_path / "pv"],
        ["eval", "--model", tmp_path / "missing", "--data", dataset],
        ["export", "--model", tmp_path / "missing"],
    ]
    for args in cases:
        assert_refused(cli(*args), args)
    assert not (tmp_path / "b").exists() and not (tmp_path / "pv").exists()


def test_train_mistakes_are_one_line(tmp_path):
    pytest.importorskip("tensorflow")
    not_a_dataset = tmp_path / "empty"
    not_a_dataset.mkdir()
    text = tmp_path / "run"
    text.write_text("x")
    for args in (["--data", not_a_dataset, "--out", tmp_path / "r"], ["--data", not_a_dataset, "--out", text]):
        assert_refused(cli("train", *args, "--epochs", 1), args)
