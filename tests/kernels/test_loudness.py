"""BS.1770 loudness and the level stage (ddsp_kernels.loudness)."""

import numpy as np
import pytest

from ddsp_kernels import iir
from ddsp_kernels.loudness import (DOWNMIX_FLOOR_DB, MAX_BOOST_DB, LoudnessMeter, delivered_loudness,
                                   integrated_loudness, k_weighting_sos, match_gain_db)


def test_k_weighting_reproduces_the_48k_table_of_bs1770():
    sos = k_weighting_sos(48000)
    np.testing.assert_allclose(sos[0], [1.53512485958697, -2.69169618940638, 1.19839281085285, 1.0,
                                        -1.69065929318241, 0.73248077421585], atol=1e-8)
    np.testing.assert_allclose(sos[1], [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621], atol=1e-8)


@pytest.mark.parametrize("path", ["compiled", "scipy", "numpy"])
@pytest.mark.parametrize("sr", [8000, 44100, 48000, 96000])
def test_integrated_loudness_equals_pyloudnorm(sr, path, monkeypatch):
    """On every path of the K-weighting (the pipelined cascade for float32 audio and scipy's for float64, where
    they load; scipy's for both; the numpy one), float64 and float32 audio, plain and as the level stage meters it
    (the downmix, floored)."""
    pyloudnorm = pytest.importorskip("pyloudnorm")
    if path != "compiled":
        monkeypatch.setattr(iir, "PIPELINED", None)
    if path == "numpy":
        monkeypatch.setattr(iir, "COMPILED", None)
    rng = np.random.default_rng(sr)
    # a level ramp and a silent stretch, so that both gates act
    x = rng.standard_normal((sr * 6, 2)) * np.linspace(0.001, 0.3, sr * 6)[:, None]
    x[sr:2 * sr] = 0.0
    meter = pyloudnorm.Meter(sr, filter_class="DeMan")
    expected = meter.integrated_loudness(x)
    assert integrated_loudness(x, sr) == pytest.approx(expected, abs=1e-6)
    assert integrated_loudness(x.astype(np.float32), sr) == pytest.approx(expected, abs=1e-5)
    downmix = meter.integrated_loudness(x.mean(axis=1))
    assert integrated_loudness(x, sr, downmix=True, floored=True) == pytest.approx(downmix, abs=1e-6)


def test_streaming_meter_equals_one_call():
    sr = 24000
    x = np.random.default_rng(1).standard_normal((sr * 3, 1)) * 0.1
    meter = LoudnessMeter(sr, 1)
    for start in range(0, len(x), 777):
        meter.process(x[start:start + 777])
    assert meter.integrated() == pytest.approx(integrated_loudness(x, sr), abs=1e-9)
    assert meter.short_term() == pytest.approx(meter.integrated(), abs=0.5)  # steady noise


@pytest.mark.parametrize("sr", [24000, 44100, 192000])
def test_float32_audio_meters_as_float64_does(sr):
    """Float32 blocks are K-weighted in float32 (the within-chunk convolution): every 100 ms mean square within
    1e-7 (relative) of the float64 meter's on the same samples, the integrated loudness within 1e-6 LU."""
    rng = np.random.default_rng(sr)
    x = (rng.standard_normal((sr * 3, 2)) * np.linspace(0.001, 0.5, sr * 3)[:, None]).astype(np.float32)
    single, double = LoudnessMeter(sr, 2), LoudnessMeter(sr, 2)
    for start in range(0, len(x), 4410):
        single.process(x[start:start + 4410])
        double.process(x[start:start + 4410].astype(np.float64))
    a, b = np.asarray(single._steps), np.asarray(double._steps)
    assert a.size == b.size == 30
    np.testing.assert_allclose(a, b, rtol=1e-7, atol=0)
    assert single.integrated() == pytest.approx(double.integrated(), abs=1e-6)


def test_silence_is_minus_infinity_and_never_raised():
    assert integrated_loudness(np.zeros(48000), 48000) == float("-inf")
    quiet = np.random.default_rng(2).standard_normal(48000) * 10 ** (-90 / 20)  # about -90 dBFS
    assert integrated_loudness(quiet, 48000) == float("-inf")
    assert match_gain_db(integrated_loudness(quiet, 48000), -14.0) == 0.0


def test_gain_is_capped():
    assert match_gain_db(-65.0, -9.0) == MAX_BOOST_DB
    assert match_gain_db(-20.0, -14.0) == pytest.approx(6.0)
    assert match_gain_db(-5.0, -60.0, max_cut_db=30.0) == -30.0


def test_the_cap_is_on_the_total_gain_given_the_input():
    # the EQ already raised a -65 LUFS input to -60: the level gain may add 35 dB, not 40
    assert match_gain_db(-60.0, -9.0, input_lufs=-65.0) == MAX_BOOST_DB - 5.0
    assert match_gain_db(-70.0, -9.0, input_lufs=-65.0) == MAX_BOOST_DB + 5.0  # the chain cut: the total counts
    assert match_gain_db(-20.0, -14.0, input_lufs=-22.0) == pytest.approx(6.0)  # far from the cap: unchanged
    assert match_gain_db(-50.0, -9.0, input_lufs=float("-inf")) == 0.0  # a silent input is never raised
    assert match_gain_db(-10.0, -9.0, input_lufs=-60.0) == MAX_BOOST_DB - 50.0  # the cap wins over the cut


def test_meter_rejects_a_channel_change():
    meter = LoudnessMeter(48000, 2)
    with pytest.raises(ValueError, match="channels|shaped"):
        meter.process(np.zeros((100, 1)))


@pytest.mark.parametrize("sr", [44100, 48000])
def test_downmix_loudness(sr):
    """The downmix (mean of the channels): a mono signal and the same as dual mono read alike, 3.01 dB below dual
    mono's channel sum; uncorrelated channels read 6.02 dB below their channel sum; out-of-phase channels (whose
    downmix is silent) read as silence, and floored ``DOWNMIX_FLOOR_DB`` below uncorrelated ones. Blocks of any
    size give the one-pass reading."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(4 * sr) * 0.05
    dual = np.stack([x, x], axis=1)
    wide = np.stack([x, rng.standard_normal(4 * sr) * 0.05], axis=1)
    out_of_phase = np.stack([x, -x], axis=1)
    mono = integrated_loudness(x, sr)
    assert integrated_loudness(x, sr, downmix=True) == pytest.approx(mono, abs=1e-9)
    assert integrated_loudness(out_of_phase, sr, downmix=True) == float("-inf")
    assert integrated_loudness(dual, sr, downmix=True) == pytest.approx(mono, abs=1e-6)
    assert integrated_loudness(dual, sr) - mono == pytest.approx(10 * np.log10(2), abs=1e-6)
    assert integrated_loudness(wide, sr) - integrated_loudness(wide, sr, downmix=True) == pytest.approx(
        20 * np.log10(2), abs=0.05)
    assert integrated_loudness(out_of_phase, sr, downmix=True, floored=True) == pytest.approx(
        integrated_loudness(out_of_phase, sr) - 20 * np.log10(2) + DOWNMIX_FLOOR_DB, abs=1e-6)
    assert integrated_loudness(wide, sr, downmix=True, floored=True) == pytest.approx(
        integrated_loudness(wide, sr, downmix=True), abs=0.05)  # the floor binds where channels cancel only
    meter = LoudnessMeter(sr, 2, downmix=True, floored=True)
    for start in range(0, len(wide), 3001):
        meter.process(wide[start:start + 3001])
    assert meter.integrated() == pytest.approx(integrated_loudness(wide, sr, downmix=True, floored=True), abs=1e-9)


def half_gated(sr: int, seconds: int = 20) -> np.ndarray:
    """Noise alternating every 2 s between about -66 and -72 LUFS: at its own level the absolute gate (-70 LUFS)
    drops the quiet half; raised by 40 dB or more it keeps it (within 10 LU of the mean, the relative gate does too)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal(sr * seconds)
    loud = integrated_loudness(x, sr)
    x *= 10.0 ** ((-66.0 - loud) / 20.0)
    for start in range(2 * sr, len(x), 4 * sr):
        x[start:start + 2 * sr] *= 10.0 ** (-6.0 / 20.0)
    return x


def test_a_reading_after_a_gain_gates_at_that_level():
    sr = 48000
    x = half_gated(sr)
    meter = LoudnessMeter(sr)
    meter.process(x)
    for gain_db in (0.0, 10.0, 45.0, -3.0):
        assert meter.integrated(gain_db) == pytest.approx(integrated_loudness(x * 10.0 ** (gain_db / 20.0), sr),
                                                          abs=1e-9)
    assert meter.integrated(45.0) - 45.0 < meter.integrated() - 1.0  # the quiet half counts once raised


def test_the_delivered_loudness_brings_a_quiet_signal_to_its_target():
    """One gain from the reading at the signal's own level leaves a signal whose quieter blocks sit below the
    absolute gate more than 1 LU under its target once raised; the delivered loudness's gain lands on it."""
    sr = 48000
    x = half_gated(sr)
    meter = LoudnessMeter(sr)
    meter.process(x)
    naive = -20.0 - meter.integrated()
    assert integrated_loudness(x * 10.0 ** (naive / 20.0), sr) < -21.0  # the test can fail
    gain = -20.0 - delivered_loudness(meter.integrated, -20.0)
    assert integrated_loudness(x * 10.0 ** (gain / 20.0), sr) == pytest.approx(-20.0, abs=1e-6)


def test_the_delivered_loudness_is_the_reading_where_the_gate_keeps_the_same_blocks():
    sr = 48000
    meter = LoudnessMeter(sr)
    meter.process(np.random.default_rng(3).standard_normal(sr * 5) * 0.05)  # steady, far above the gate
    assert delivered_loudness(meter.integrated, -14.0) == meter.integrated()
    assert delivered_loudness(meter.integrated, float("-inf")) == meter.integrated()
    silent = LoudnessMeter(sr)
    silent.process(np.zeros(sr))
    assert delivered_loudness(silent.integrated, -14.0) == float("-inf")  # silence is never raised


def test_a_signal_wholly_below_the_gate_is_delivered_at_its_target():
    """Every block of a -80 LUFS signal is below the absolute gate at its own level (it reads -inf, as silence
    does), but it is not silence: raised, it is metered like any other."""
    sr = 48000
    x = np.random.default_rng(4).standard_normal(sr * 5)
    x *= 10.0 ** ((-80.0 - integrated_loudness(x, sr)) / 20.0)
    meter = LoudnessMeter(sr)
    meter.process(x)
    assert meter.integrated() == float("-inf")
    gain = -20.0 - delivered_loudness(meter.integrated, -20.0)
    assert gain == pytest.approx(60.0, abs=0.01)
    assert integrated_loudness(x * 10.0 ** (gain / 20.0), sr) == pytest.approx(-20.0, abs=1e-6)
