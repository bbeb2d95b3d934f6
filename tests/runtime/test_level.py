"""The level stage at the end of the chain (runtime.level): the output's loudness follows the reference, not the
input's gain, and silence or near-silence is never raised by more than the cap."""

import numpy as np
import pytest
import soundfile as sf
from support import music, write_audio

from aebox_edge.runtime import enhance_file
from aebox_edge.runtime.level import RunningLevel, level_matched
from ddsp_kernels.loudness import MAX_BOOST_DB, integrated_loudness

RATE = 44100


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    out = tmp_path_factory.mktemp("level")
    reference = write_audio(out / "ref.wav", music(8.0, RATE, 2, seed=1, level=0.5), RATE, "FLOAT")
    return out, music(8.0, RATE, 2, seed=2, level=0.3), reference


@pytest.mark.parametrize("gain_db", [-20.0, 20.0])
def test_output_loudness_ignores_the_input_gain(enhancer, pair, gain_db):
    out, x, reference = pair
    loudness = []
    for g in (0.0, gain_db):
        path = write_audio(out / f"in{g:+.0f}.wav", x * np.float32(10 ** (g / 20)), RATE, "FLOAT")
        enhance_file(enhancer, str(path), str(reference), str(out / f"out{g:+.0f}.wav"), force=True)
        y, _ = sf.read(out / f"out{g:+.0f}.wav")
        loudness.append(integrated_loudness(y, RATE))
    assert abs(loudness[1] - loudness[0]) <= 0.5


def test_output_matches_the_reference_loudness(enhancer, pair):
    out, x, reference = pair
    path = write_audio(out / "quiet.wav", x * np.float32(0.05), RATE, "FLOAT")
    summary = enhance_file(enhancer, str(path), str(reference), str(out / "quiet_out.wav"), force=True)
    y, _ = sf.read(out / "quiet_out.wav")
    ref, _ = sf.read(reference)
    assert integrated_loudness(y, RATE) == pytest.approx(integrated_loudness(ref, RATE), abs=0.1)
    assert summary["level_gain_db"] > 20.0


@pytest.mark.parametrize("level_db", [-65.0, -100.0])
def test_near_silent_input_is_not_raised_beyond_the_cap(enhancer, pair, level_db):
    out, x, reference = pair
    quiet = x * np.float32(10 ** (level_db / 20) / np.sqrt(np.mean(x ** 2)))
    path = write_audio(out / "near_silent.wav", quiet, RATE, "FLOAT")
    summary = enhance_file(enhancer, str(path), str(reference), str(out / "near_silent_out.wav"), force=True)
    y, _ = sf.read(out / "near_silent_out.wav")
    assert summary["level_gain_db"] <= MAX_BOOST_DB
    rise_db = 20 * np.log10(np.sqrt(np.mean(y ** 2)) / np.sqrt(np.mean(quiet.astype(np.float64) ** 2)))
    assert rise_db <= MAX_BOOST_DB + 6.0  # the cap, plus what the EQ may add
    if level_db <= -100.0:  # below the absolute gate: silence, left at 0 dB
        assert summary["level_gain_db"] == 0.0


def test_level_matched_streams_equal_one_gain():
    rng = np.random.default_rng(0)
    blocks = [rng.standard_normal((1000, 2)).astype(np.float32) * 0.01 for _ in range(30)]
    summary = {}
    out = np.concatenate(list(level_matched(iter(blocks), 24000, 2, -20.0, 777, summary)))
    whole = np.concatenate(blocks)
    gain = out[np.abs(whole) > 1e-3] / whole[np.abs(whole) > 1e-3]
    assert np.ptp(gain) < 1e-5 * gain.mean()  # one gain for the whole stream
    assert integrated_loudness(out, 24000) == pytest.approx(-20.0, abs=0.05)


def test_running_level_converges_slews_and_holds_in_silence():
    rate = 24000
    level = RunningLevel(rate, 1, -20.0, window_s=3.0, slew_db_per_s=6.0)
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((rate * 12, 1)) * 0.01).astype(np.float32)  # about -43 LUFS: needs ~ +23 dB
    gains = []
    for start in range(0, len(x), 512):
        level.process(x[start:start + 512])
        gains.append(level.gain_db)
    steps = np.abs(np.diff(gains))
    assert steps.max() <= 6.0 * 512 / rate + 1e-9  # slew limit
    assert gains[-1] == pytest.approx(-20.0 - integrated_loudness(x, rate), abs=0.5)
    held = level.gain_db
    for _ in range(100):
        level.process(np.zeros((512, 1), np.float32))
    # silence holds the gain instead of raising it (the 400 ms block that straddles the pause moves it a little)
    assert abs(level.gain_db - held) < 0.3


def test_integer_outputs_are_not_clipped_by_the_level_stage(enhancer, pair):
    out, x, _ = pair
    # a dense, loud reference (about -5 LUFS): matching the input's loudness to it puts the input's peaks above 0 dBFS
    loud = np.tanh(8.0 * music(8.0, RATE, 2, seed=3, level=1.0)).astype(np.float32) * np.float32(0.99)
    reference = str(write_audio(out / "loud_ref.wav", loud, RATE, "FLOAT"))
    runs = {}
    for subtype in ("PCM_16", "FLOAT"):
        path = write_audio(out / f"in_{subtype}.wav", x, RATE, subtype)
        runs[subtype] = enhance_file(enhancer, str(path), reference, str(out / f"out_{subtype}.wav"), force=True)
    assert runs["FLOAT"]["output_peak_dbfs"] > 0.0 and not runs["FLOAT"]["level_peak_limited"]  # float: no ceiling
    assert runs["PCM_16"]["level_peak_limited"] and runs["PCM_16"]["level_gain_db"] < runs["FLOAT"]["level_gain_db"]
    y, _ = sf.read(out / "out_PCM_16.wav")
    assert 20 * np.log10(np.max(np.abs(y))) <= -1.0 + 0.01
