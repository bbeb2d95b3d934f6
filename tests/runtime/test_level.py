"""The level stage at the end of the chain (runtime.level): the output's loudness follows the reference, not the
input's gain; the loudness matched is the downmix's, so a mono recording is matched to a wide stereo reference as
the evaluation hears them, and an out-of-phase one is not blown up; the total gain is capped and near-silence is not
raised; and the true-peak limiter keeps every output, in every subtype, at its ceiling (measured by an independent
8x oversampling)."""

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly
from support import music, write_audio

from aebox_edge.runtime import enhance_file
from aebox_edge.runtime import level as level_module
from aebox_edge.runtime.level import (CAP_MARGIN_DB, MAX_LIMITING_DB, RunningLevel, input_meter_needed,
                                      level_loudness, level_matched, level_stage)
from aebox_edge.runtime.track import array_blocks
from ddsp_kernels.limiter import CEILING_DBTP
from ddsp_kernels.loudness import MAX_BOOST_DB, integrated_loudness, mean_square_lufs
from ddsp_kernels.match import BandLevels

RATE = 44100
TOLERANCE_DB = 0.1  # the limiter's 4x true peak against 8x (tests/kernels/test_limiter.py)


def true_peak_db(audio) -> float:
    return float(20 * np.log10(np.max(np.abs(resample_poly(np.asarray(audio, np.float64), 8, 1, axis=0)))))


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
    assert level_loudness(y, RATE) == pytest.approx(level_loudness(ref, RATE), abs=0.1)
    assert summary["level_gain_db"] > 20.0


@pytest.mark.parametrize("level_db", [-65.0, -90.0])
def test_near_silent_input_is_not_raised_beyond_the_cap(enhancer, pair, level_db):
    """The cap is on the total: what the EQ adds counts (before, -65 dBFS came out 40 dB plus the EQ's boost
    louder); below the absolute gate the input is silence: no level gain."""
    out, x, reference = pair
    quiet = x * np.float32(10 ** (level_db / 20) / np.sqrt(np.mean(x ** 2)))
    path = write_audio(out / "near_silent.wav", quiet, RATE, "FLOAT")
    summary = enhance_file(enhancer, str(path), str(reference), str(out / "near_silent_out.wav"), force=True)
    y, _ = sf.read(out / "near_silent_out.wav")
    rise_db = 20 * np.log10(np.sqrt(np.mean(y ** 2)) / np.sqrt(np.mean(quiet.astype(np.float64) ** 2)))
    if level_db > -70.0:
        assert summary["level_gain_db"] > 30.0  # the reference is far louder: the cap binds
        assert integrated_loudness(y, RATE) - integrated_loudness(quiet, RATE) <= MAX_BOOST_DB + 0.05
    else:  # below the absolute gate: silence, no level gain, no EQ fitted to its noise
        assert summary["level_gain_db"] == 0.0 and summary["output_lufs_before"] is None
        assert abs(rise_db) <= 1.0


def test_a_mono_recording_is_matched_to_a_stereo_reference_as_its_downmix_sounds():
    """Dual mono against wide (decorrelated) stereo: BS.1770's channel sum would leave the dual-mono output's
    downmix 3 dB louder than the reference's; the level stage matches the downmixes. An out-of-phase input (one
    channel inverted: its downmix is silent) gets at most 10 dB more gain than uncorrelated channels, not the
    cap."""
    ref = music(6.0, RATE, 2, seed=1, level=0.3)
    ref[:, 1] = np.roll(ref[:, 1], RATE // 3)  # decorrelated channels
    mono = music(6.0, RATE, 1, seed=2, level=0.05)
    dual = np.repeat(mono, 2, axis=1)
    target = level_loudness(ref, RATE)
    for x in (mono, dual):
        y = level_stage(x, RATE, target, level_loudness(x, RATE))
        assert level_loudness(y, RATE) == pytest.approx(target, abs=0.1)
        assert level_loudness(y[:, :1], RATE) == pytest.approx(target, abs=0.1)  # a channel of it plays as loud
    inverted = dual * np.array([1.0, -1.0], np.float32)
    gains = [20 * np.log10(np.std(level_stage(x, RATE, target, level_loudness(x, RATE))) / np.std(x))
             for x in (inverted, np.stack([mono[:, 0], np.roll(mono[:, 0], RATE // 3)], axis=1))]
    assert gains[1] < gains[0] <= gains[1] + 10.5


def test_level_matched_streams_equal_one_gain():
    rng = np.random.default_rng(0)
    blocks = [rng.standard_normal((1000, 2)).astype(np.float32) * 0.01 for _ in range(30)]
    summary = {}
    out = np.concatenate(list(level_matched(iter(blocks), 24000, 2, -20.0, 777, summary)))
    whole = np.concatenate(blocks)
    assert out.shape == whole.shape and summary["limiter_max_reduction_db"] == 0.0  # aligned, nothing limited
    gain = out[np.abs(whole) > 1e-3] / whole[np.abs(whole) > 1e-3]
    assert np.ptp(gain) < 1e-5 * gain.mean()  # one gain for the whole stream
    assert level_loudness(out, 24000) == pytest.approx(-20.0, abs=0.05)


def test_running_level_converges_slews_and_holds_in_silence():
    rate = 24000
    level = RunningLevel(rate, 1, -20.0, window_s=3.0, slew_db_per_s=6.0)
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((rate * 12, 1)) * 0.01).astype(np.float32)  # about -43 LUFS: needs ~ +23 dB
    gains = []
    for start in range(0, len(x), 512):
        level.process(x[start:start + 512], x[start:start + 512])
        gains.append(level.gain_db)
    steps = np.abs(np.diff(gains))
    assert steps.max() <= 6.0 * 512 / rate + 1e-9  # slew limit
    assert gains[-1] == pytest.approx(-20.0 - integrated_loudness(x, rate), abs=0.5)
    held = level.gain_db
    for _ in range(100):
        level.process(np.zeros((512, 1), np.float32), np.zeros((512, 1), np.float32))
    # silence holds the gain instead of raising it (the 400 ms block that straddles the pause moves it a little)
    assert abs(level.gain_db - held) < 0.3


@pytest.fixture(scope="module")
def loud_reference(pair):
    """A dense, loud reference (about -5 LUFS): matching an input's loudness to it puts the input's peaks far above
    0 dBFS before the limiter."""
    out, _, _ = pair
    loud = np.tanh(8.0 * music(8.0, RATE, 2, seed=3, level=1.0)).astype(np.float32) * np.float32(0.99)
    return str(write_audio(out / "loud_ref.wav", loud, RATE, "FLOAT"))


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_no_subtype_exceeds_the_ceiling(enhancer, pair, loud_reference, subtype):
    """Before, float outputs went above 0 dBFS and integer ones were only kept at a -1 dBFS sample peak."""
    out, x, _ = pair
    path = write_audio(out / f"in_{subtype}.wav", x, RATE, subtype)
    summary = enhance_file(enhancer, str(path), loud_reference, str(out / f"out_{subtype}.wav"), force=True)
    y, _ = sf.read(out / f"out_{subtype}.wav")
    assert y.shape == x.shape  # the limiter's delay is removed
    assert true_peak_db(y) <= CEILING_DBTP + TOLERANCE_DB
    assert summary["limiter_max_reduction_db"] > 1.0  # the limiter did the work


@pytest.mark.parametrize("name", ["full-scale square", "+12 dBFS float"])
def test_hot_float_inputs_stay_under_the_ceiling(enhancer, pair, loud_reference, name):
    """The issue's cases: a full-scale square wave and a +12 dBFS float input (before: +0.24 and +1.03 dBFS)."""
    out, x, _ = pair
    t = np.arange(len(x)) / RATE
    hot = (np.sign(np.sin(2 * np.pi * 441 * t))[:, None] * np.ones((1, 2)) if name.startswith("full")
           else x / np.abs(x).max() * 10 ** (12 / 20)).astype(np.float32)
    path = write_audio(out / "hot.wav", hot, RATE, "FLOAT")
    enhance_file(enhancer, str(path), loud_reference, str(out / "hot_out.wav"), force=True)
    y, _ = sf.read(out / "hot_out.wav")
    assert true_peak_db(y) <= CEILING_DBTP + TOLERANCE_DB


@pytest.mark.parametrize("extension, subtype", [("flac", "PCM_24"), ("ogg", "VORBIS")])
def test_compressed_outputs_do_not_clip(enhancer, pair, loud_reference, extension, subtype):
    """Lossless FLAC keeps the ceiling; a lossy codec's own overshoot stays inside the 1 dB headroom."""
    out, x, _ = pair
    path = out / f"in.{extension}"
    sf.write(str(path), x, RATE, subtype=subtype)
    enhance_file(enhancer, str(path), loud_reference, str(out / f"out.{extension}"), force=True)
    y, _ = sf.read(out / f"out.{extension}")
    assert true_peak_db(y) <= (CEILING_DBTP + TOLERANCE_DB if extension == "flac" else 0.0)


def test_the_gain_leaves_the_limiter_only_transients(enhancer, pair, loud_reference):
    """The first stage lowers the gain so that the output's peak needs no more than MAX_LIMITING_DB of limiting: a
    quiet input with a click every 50 ms (2 % of the 10 ms frames), which matching the loud reference would put
    some 20 dB over the ceiling."""
    out, x, _ = pair
    x = x * np.float32(0.3)
    x[::RATE // 20] = 0.9
    path = write_audio(out / "clamp_in.wav", x, RATE, "FLOAT")
    summary = enhance_file(enhancer, str(path), loud_reference, str(out / "clamp_out.wav"), force=True)
    assert summary["level_peak_limited"]
    assert 1.0 < summary["limiter_max_reduction_db"] <= MAX_LIMITING_DB + 0.5


def test_a_single_click_does_not_lower_the_level(enhancer, pair):
    """One click (before: the loudest sample peak set the gain, so one thump made a whole song quiet) is left to
    the limiter: a quiet input with one knock (5 ms, within one of the stage's 10 ms frames) that matching the
    reference puts some 25 dB over the ceiling gets the whole loudness-matching gain, within the ceiling."""
    out, x, reference = pair
    x = x * np.float32(0.03)
    t = np.arange(round(0.005 * RATE)) / RATE
    x[RATE:RATE + len(t)] += (0.9 * np.hanning(len(t)) * np.sin(2 * np.pi * 3000.0 * t)).astype(np.float32)[:, None]
    path = write_audio(out / "click_in.wav", x, RATE, "FLOAT")
    summary = enhance_file(enhancer, str(path), str(reference), str(out / "click_out.wav"), force=True)
    y, _ = sf.read(out / "click_out.wav")
    assert not summary["level_peak_limited"]
    assert summary["level_gain_db"] == pytest.approx(summary["reference_lufs"] - summary["output_lufs_before"],
                                                     abs=0.02)
    assert summary["limiter_max_reduction_db"] > MAX_LIMITING_DB
    assert true_peak_db(y) <= CEILING_DBTP + TOLERANCE_DB


def test_frame_peaks_and_the_robust_peak():
    from aebox_edge.runtime.level import frame_peaks, level_peak

    x = np.zeros((1005, 2), np.float32)
    x[3, 1], x[1002, 0] = -0.5, 0.25
    assert frame_peaks(x, 10000).tolist() == [0.5] + [0.0] * 9 + [0.25]  # 100-sample frames, the last one short
    rng = np.random.default_rng(0)
    y = rng.uniform(-0.1, 0.1, 10 * 44100).astype(np.float32)
    y[5000] = 1.0  # one frame in 1000: above the 99.9th percentile
    assert level_peak(y, 44100) == pytest.approx(0.1, abs=0.01)
    y[::441] = 1.0  # every frame
    assert level_peak(y, 44100) == 1.0


def test_running_level_lets_a_knock_through_to_the_limiter():
    """Live, too, one knock (1 ms at 0.7) in a quiet recording does not pull the gain down for the window it stays
    in: the loudest sample would cap it at +14 dB, 3 dB below the loudness match; the knock's own energy moves the
    match by 0.5 dB."""
    rate = 24000
    level = RunningLevel(rate, 1, -20.0, window_s=10.0, slew_db_per_s=6.0)
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((rate * 12, 1)) * 0.01).astype(np.float32)  # needs +17 dB
    t = np.arange(round(0.001 * rate)) / rate
    x[8 * rate:8 * rate + len(t), 0] += (0.7 * np.hanning(len(t)) * np.sin(2 * np.pi * 3000.0 * t)).astype(np.float32)
    gains = []
    for start in range(0, len(x), 512):
        level.process(x[start:start + 512], x[start:start + 512])
        gains.append(level.gain_db)
    before, after = gains[8 * rate // 512 - 1], np.array(gains[8 * rate // 512:])
    assert before > 15.0 and after.min() > before - 1.0


def test_running_level_limits_live_and_reports_its_delay():
    rate = 24000
    level = RunningLevel(rate, 2, -5.0, window_s=3.0, slew_db_per_s=40.0)
    x = music(8.0, rate, 2, seed=4, level=0.3)
    out = np.concatenate([level.process(x[k:k + 256], x[k:k + 256]) for k in range(0, len(x), 256)])
    assert level.gain_db > 5.0  # the gain rose toward the loud reference
    assert true_peak_db(out[4 * rate:]) <= CEILING_DBTP + TOLERANCE_DB
    assert level.latency > 0 and not out[:level.latency].any()  # the look-ahead delays the output


def _odd_input(name: str) -> np.ndarray:
    """Inputs whose spectral loudness estimate is hardest on ``input_meter_needed``, 6 s at ``RATE``."""
    rng = np.random.default_rng(0)
    x = music(6.0, RATE, 2, seed=3, level=0.3).astype(np.float64)
    t = np.arange(len(x))[:, None] / RATE
    quiet_bed = 1e-3 * rng.standard_normal((len(x), 1))
    if name == "inverted":  # a near-silent downmix: the meter reads its floor
        return np.concatenate([x[:, :1], -x[:, :1]], axis=1)
    if name == "dc":  # a DC offset: the K-weighting removes it, a Hann frame leaks it
        return 0.01 * x + 0.2
    if name == "sub_bass":  # 20 Hz: where the K-weighting's high-pass is steepest
        return 0.5 * np.sin(2 * np.pi * 20.0 * t)
    if name == "burst":  # the edges of the meter's blocks weigh less than a sample mean does
        quiet_bed[:2205] += 0.8 * rng.standard_normal((2205, 1))
        return quiet_bed
    if name == "click_at_end":
        y = np.zeros((len(x), 1))
        y[-100:] = 0.9
        return y
    return x


@pytest.mark.parametrize("name", ["music", "inverted", "dc", "sub_bass", "burst", "click_at_end"])
def test_the_input_meter_is_skipped_only_where_the_cap_cannot_bind(name):
    """``run`` meters the input only for the total-gain cap: where ``input_meter_needed`` says no (here at the
    quietest reference it says no to), the meter's reading is within the cap of the reference, so the cap is idle.
    (Fails at ``CAP_MARGIN_DB`` 0: the sub-bass estimate reads 0.8 dB above the meter.)"""
    x = _odd_input(name)
    levels = BandLevels(RATE).add(x)
    estimate = float(mean_square_lufs(levels.k_weighted_mean_square()))
    reading = level_loudness(x, RATE)
    for reference_lufs in (estimate - CAP_MARGIN_DB + MAX_BOOST_DB, -14.0):
        if not input_meter_needed(levels, reference_lufs):
            assert reading >= reference_lufs - MAX_BOOST_DB
    assert input_meter_needed(levels, estimate - CAP_MARGIN_DB + MAX_BOOST_DB + 0.01)  # a louder reference: meter
    assert input_meter_needed(BandLevels(RATE).add(x[:RATE // 2]), -14.0)  # under a second: always metered


def test_run_without_the_input_meter_equals_run_with_it(enhancer, pair, monkeypatch):
    """Where the input's meter is skipped, ``run``'s output is the same, bit for bit, as with it."""
    out, x, reference = pair
    path = write_audio(out / "skip.wav", x, RATE, "FLOAT")
    reference_lufs = enhancer.reference(lambda n: array_blocks(sf.read(reference, dtype="float32")[0], n),
                                        RATE).match.loudness_lufs
    assert not input_meter_needed(BandLevels(RATE).add(x), reference_lufs)  # the skip is taken
    enhance_file(enhancer, str(path), str(reference), str(out / "skipped.wav"), force=True)
    monkeypatch.setattr(level_module, "CAP_MARGIN_DB", np.inf)  # the meter is always needed
    enhance_file(enhancer, str(path), str(reference), str(out / "metered.wav"), force=True)
    np.testing.assert_array_equal(sf.read(out / "skipped.wav")[0], sf.read(out / "metered.wav")[0])


def test_a_skipped_input_meter_leaves_no_cap_where_the_chain_cut_the_level(enhancer, tmp_path, monkeypatch):
    """A recording 30 dB below its reference whose chain output ends more than ``MAX_BOOST_DB`` below it (the EQ
    cuts the 3 kHz tone that makes most of its loudness by about 12 dB): the cap on the *total* gain cannot bind, the
    meter is skipped, and the output is the same, bit for bit, as with the meter. (The skip once left the cap on the
    chain's output instead: 40 dB, 1.6 dB short here; 8 dB short on a validation excerpt.)"""
    reference = music(8.0, RATE, 2, seed=1, level=0.9)
    reference_lufs = level_loudness(reference, RATE)
    x = music(8.0, RATE, 2, seed=2, level=0.3)
    x = x + 0.9 * np.sin(2 * np.pi * 3000.0 * np.arange(len(x)) / RATE)[:, None]
    x = (x * 10 ** ((reference_lufs - 30.0 - level_loudness(x, RATE)) / 20)).astype(np.float32)
    assert not input_meter_needed(BandLevels(RATE).add(x), reference_lufs)  # the skip is taken
    paths = [write_audio(tmp_path / name, a, RATE, "FLOAT") for name, a in (("ref.wav", reference), ("in.wav", x))]
    skipped = enhance_file(enhancer, str(paths[1]), str(paths[0]), str(tmp_path / "skipped.wav"))
    assert skipped["output_lufs_before"] < reference_lufs - MAX_BOOST_DB - 1.0  # measured: 41.6 dB below
    monkeypatch.setattr(level_module, "CAP_MARGIN_DB", np.inf)  # the meter is always needed
    metered = enhance_file(enhancer, str(paths[1]), str(paths[0]), str(tmp_path / "metered.wav"))
    assert skipped["level_gain_db"] == metered["level_gain_db"] > MAX_BOOST_DB + 1.0
    np.testing.assert_array_equal(sf.read(tmp_path / "skipped.wav")[0], sf.read(tmp_path / "metered.wav")[0])


def test_level_matched_caps_the_boost_over_its_output_unless_told_it_cannot_bind():
    """Without the input's meter ``level_matched`` limits the boost over the chain's output to ``MAX_BOOST_DB``;
    ``uncapped`` (the caller found that the total-gain cap cannot bind) lifts it; with the meter the cap is on the
    total gain."""
    blocks = [music(1.0, 24000, 2, seed=k, level=0.3) * np.float32(10 ** (-45 / 20)) for k in range(3)]
    loudness = level_loudness(np.concatenate(blocks), 24000)
    gains = {}
    for name, kwargs in (("capped", {}), ("uncapped", {"uncapped": True})):
        summary = {}
        list(level_matched(iter(blocks), 24000, 2, loudness + 50.0, 4000, summary, **kwargs))
        gains[name] = summary["level_gain_db"]
    assert gains == {"capped": MAX_BOOST_DB, "uncapped": pytest.approx(50.0, abs=0.01)}
    with pytest.raises(ValueError, match="exclude"):
        list(level_matched(iter(blocks), 24000, 2, -14.0, 4000, input_meter=level_module.level_meter(24000, 2),
                           uncapped=True))


def test_a_near_silent_input_gets_no_eq_fit():
    """Below the absolute gate the analysis fits no EQ to the noise (before: the fit matched its spectrum)."""
    from aebox_edge.runtime.matching import ReferenceMeter, analytic_fit
    from ddsp_kernels import PARAM_SPEC
    from ddsp_kernels.match import BandLevels

    rate = 24000
    ref = music(3.0, rate, 1, seed=1, level=0.5)
    meter = ReferenceMeter(rate, 1, rate)
    meter.add(ref, ref[:, 0])
    reference = meter.result()
    noise = np.random.default_rng(0).standard_normal(3 * rate)
    gains = {}
    for level_db in (-40.0, -90.0):
        fit = analytic_fit(BandLevels(rate).add(noise * 10 ** (level_db / 20)), reference)
        physical = PARAM_SPEC.to_physical(fit)
        gains[level_db] = np.array([v for k, v in physical.items() if k.endswith("_gain_db")])
    assert np.abs(gains[-40.0]).max() > 3.0  # noise above the gate is fitted like any spectrum
    np.testing.assert_allclose(gains[-90.0], 0.0, atol=0.5)


def test_level_matched_equals_the_in_memory_level_stage():
    """The two passes through the raw temporary file give what ``level_stage`` gives on the whole signal (one gain,
    then the limiter), limiting included, for blocks that do not divide the read-back block."""
    blocks = [music(0.3, 24000, 2, seed=k, level=0.4) for k in range(7)]
    blocks[3][100:140] *= 4.0  # transients over the ceiling after the gain
    summary = {}
    out = np.concatenate(list(level_matched(iter(blocks), 24000, 2, -9.0, 1777, summary)))
    assert summary["limiter_max_reduction_db"] > 0.5  # the limiter worked: the test can fail
    np.testing.assert_array_equal(out, level_stage(np.concatenate(blocks), 24000, -9.0))


def assert_delivered_alike(x, chain_input, rate, window_s, **level_matched_options):
    """The in-memory level stage brings the chain output ``x`` (stereo) to a -20 LUFS reference, the file stage
    (``level_matched`` with ``level_matched_options``) gives the same samples, and the live stage (fed ``x`` and
    the chain's input ``chain_input``) settles on the same gain within 0.5 dB."""
    out = level_stage(x, rate, -20.0, level_loudness(chain_input, rate))
    assert level_loudness(out, rate) == pytest.approx(-20.0, abs=0.05)
    streamed = np.concatenate(list(level_matched(array_blocks(x, 5000), rate, 2, -20.0, 3000,
                                                 **level_matched_options)))
    np.testing.assert_array_equal(streamed, out)
    live = RunningLevel(rate, 2, -20.0, window_s=window_s, slew_db_per_s=40.0)
    for start in range(0, len(x), 1200):
        live.process(x[start:start + 1200], chain_input[start:start + 1200])
    assert live.gain_db == pytest.approx(20.0 * np.log10(np.std(out) / np.std(x)), abs=0.5)


def test_a_quiet_chain_output_is_delivered_at_the_reference_loudness():
    """A chain output whose EQ left it near the absolute gate (its quieter half below -70 LUFS at its own level):
    files, memory and live all bring it to the reference's loudness as it reads once raised."""
    rate = 24000
    rng = np.random.default_rng(5)
    x = rng.standard_normal((rate * 24, 2))
    x *= 10.0 ** ((-66.0 - level_loudness(x, rate)) / 20.0)
    for start in range(2 * rate, len(x), 4 * rate):
        x[start:start + 2 * rate] *= 10.0 ** (-6.0 / 20.0)
    x = x.astype(np.float32)
    assert level_loudness(x * np.float32(10.0 ** (46.0 / 20.0)), rate) < -21.0  # one naive gain misses
    chain_input = x * np.float32(10.0 ** (30.0 / 20.0))  # the EQ cut 30 dB: the total-gain cap does not bind
    assert_delivered_alike(x, chain_input, rate, window_s=12.0, uncapped=True)


def test_a_chain_output_below_the_gate_from_a_sounding_input_is_raised():
    """An EQ cut can leave a quiet recording's chain output wholly below the absolute gate at its own level (it
    reads as silence there); the recording is not silent, so the level stage raises it to the reference (within the
    total-gain cap), in files, in memory and live; a near-silent recording is still left as it is."""
    rate = 24000
    x = np.random.default_rng(6).standard_normal((rate * 16, 2))
    x = (x * 10.0 ** ((-78.0 - level_loudness(x, rate)) / 20.0)).astype(np.float32)  # the chain's output
    recording = x * np.float32(10.0 ** (28.0 / 20.0))  # about -50 LUFS: the EQ took 28 dB off
    assert level_loudness(x, rate) == float("-inf")
    meter = level_module.level_meter(rate, 2)
    meter.process(recording)
    assert_delivered_alike(x, recording, rate, window_s=6.0, input_meter=meter)
    silent = x * np.float32(10.0 ** (-40.0 / 20.0))  # a near-silent recording (about -118 LUFS)
    np.testing.assert_array_equal(level_stage(x, rate, -20.0, level_loudness(silent, rate)), x)
