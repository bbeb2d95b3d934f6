"""ddsp_kernels.compressor on both paths of its detector: the compiled loop (``_compiled.c``'s ``detect``, where pip
built it) and the numpy scans."""

import importlib
import os
import shutil
import sysconfig

import numpy as np
import pytest

from ddsp_kernels import PARAM_SPEC, ballistics_coefficient, compressor, compressor_args, static_gain_db
from ddsp_kernels.compressor import CompressorState, compress_frames

module = importlib.import_module("ddsp_kernels.compressor")  # the package exports a function of the same name


@pytest.fixture(params=["compiled", "numpy"])
def path(request, monkeypatch):
    """Run the test on the compiled detector, then on the numpy one."""
    if request.param == "numpy":
        monkeypatch.setattr(module, "COMPILED", None)
    elif module.COMPILED is None:
        pytest.skip("the compiled detector is not built here (no C compiler or Python headers at install)")
    return request.param


def test_the_compiled_detector_is_built_where_it_can_be():
    """Where a C compiler and Python's headers exist, the install built the compiled detector and it is the one
    that runs (a broken build must not fall back to the slow path unnoticed)."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    headers = os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))
    if shutil.which(compiler) is None or not headers:
        pytest.skip("no C compiler or Python headers: the numpy path is the one that runs")
    assert module.COMPILED is not None


def reference_detector(level_db, threshold_db, ratio, knee_db, alpha_r, alpha_a):
    """Giannoulis et al. eq. 4 (via ``giannoulis_eq4``), eq. 17 and the attack one-pole, one sample at a time."""
    y1 = y_l = 0.0
    out = []
    for x in level_db:
        reduction = x - giannoulis_eq4(float(x), threshold_db, ratio, knee_db)
        y1 = max(reduction, alpha_r * y1 + (1 - alpha_r) * reduction)
        y_l = alpha_a * y_l + (1 - alpha_a) * y1
        out.append(-y_l)
    return np.array(out)


@pytest.mark.parametrize("knee_db", [0.0, 6.0])
def test_detector_equals_a_per_sample_loop(rng, path, knee_db):
    """The gain both paths apply is the per-sample recursion's, to 1e-4 dB (the numpy path's gain computer runs in
    float32), on a signal that moves in and out of compression, stereo, in blocks with carried state."""
    fs = 24000
    env = np.repeat(rng.uniform(0.01, 1.0, 40), 150)[:, None]
    x = (env * rng.standard_normal((6000, 2))).astype(np.float32)
    args = dict(threshold_db=-20.0, ratio=4.0, attack_ms=2.0, release_ms=60.0, knee_db=knee_db, makeup_db=0.0)
    state = CompressorState()
    y = np.concatenate([compress_frames(x[i:i + 1000], fs, state, **args) for i in range(0, 6000, 1000)])
    level = 20 * np.log10(np.maximum(np.abs(x).max(axis=1).astype(np.float64), 1e-6))
    expected = reference_detector(level, -20.0, 4.0, knee_db, ballistics_coefficient(60.0, fs),
                                  ballistics_coefficient(2.0, fs))
    loud = np.abs(x[:, 0]) > 1e-3
    gain_db = 20 * np.log10(y[loud, 0].astype(np.float64) / x[loud, 0])
    np.testing.assert_allclose(gain_db, expected[loud], atol=1e-4)
    assert expected.min() < -10.0  # the signal was compressed hard somewhere


@pytest.mark.parametrize("params", [dict(threshold_db=-30.0, ratio=8.0, attack_ms=0.5, release_ms=20.0, knee_db=0.0,
                                         makeup_db=3.0),
                                    dict(threshold_db=-12.0, ratio=2.0, attack_ms=30.0, release_ms=1000.0,
                                         knee_db=12.0, makeup_db=-2.0)])
def test_both_paths_agree(rng, params):
    """The compiled and the numpy detector give the same output to 2e-6 of full scale on 5 s of stereo float32 noise
    with a moving level, block by block with carried state, and end in the same state."""
    if module.COMPILED is None:
        pytest.skip("the compiled detector is not built here")
    fs = 48000
    x = (np.repeat(rng.uniform(0.0, 1.0, 100), 2400)[:, None] * rng.standard_normal((240000, 2))).astype(np.float32)
    outputs, states = [], []
    for compiled in (module.COMPILED, None):
        original, module.COMPILED = module.COMPILED, compiled
        try:
            state = CompressorState()
            outputs.append(np.concatenate([compress_frames(x[i:i + 12000], fs, state, **params)
                                           for i in range(0, len(x), 12000)]))
            states.append((state.y1, state.y_l))
        finally:
            module.COMPILED = original
    np.testing.assert_allclose(outputs[0], outputs[1], atol=2e-6, rtol=0)
    np.testing.assert_allclose(states[0], states[1], atol=1e-6)


@pytest.mark.parametrize("t,r,w,makeup", [(-20.0, 4.0, 0.0, 0.0), (-40.0, 20.0, 12.0, 6.0), (-3.0, 1.5, 2.0, -3.0)])
def test_compiled_gain_follows_the_static_curve_over_the_whole_range(t, r, w, makeup):
    """With instant ballistics (both coefficients 0) the compiled gain is the static curve's: its polynomial log2 and
    exp2 hold to 1e-5 dB over 180 dB of peaks, below the floor (-120 dBFS) and above full scale included."""
    if module.COMPILED is None:
        pytest.skip("the compiled detector is not built here")
    peak = np.geomspace(1e-9, 10.0, 20001).astype(np.float32)
    gain = np.empty_like(peak)
    module.COMPILED.detect(peak, gain, 1e-6, t, r, w, makeup, 0.0, 0.0, 0.0, 0.0)
    level = 20 * np.log10(np.maximum(peak.astype(np.float64), 1e-6))
    expected = np.array([giannoulis_eq4(x, t, r, w) for x in level]) - level + makeup
    np.testing.assert_allclose(20 * np.log10(gain.astype(np.float64)), expected, atol=1e-5)


def test_compiled_detector_refuses_mismatched_buffers():
    if module.COMPILED is None:
        pytest.skip("the compiled detector is not built here")
    args = (1e-6, -20.0, 4.0, 0.0, 0.0, 0.9, 0.9, 0.0, 0.0)
    with pytest.raises(ValueError, match="same length"):
        module.COMPILED.detect(np.zeros(8, np.float32), np.zeros(7, np.float32), *args)
    with pytest.raises(ValueError, match="float32"):
        module.COMPILED.detect(np.zeros(4, np.float16), np.zeros(2, np.float32), *args)
    with pytest.raises(ValueError, match="float32"):
        module.COMPILED.detect(np.zeros(4, np.float64), np.zeros(4, np.float32), *args)
    with pytest.raises(ValueError, match="contiguous"):
        module.COMPILED.detect(np.zeros(8, np.float32)[::2], np.zeros(4, np.float32), *args)
    with pytest.raises((TypeError, BufferError)):
        module.COMPILED.detect(np.zeros(4, np.float32), b"read-only", *args)


def comp_params(**kw):
    p = PARAM_SPEC.neutral()
    p.update(kw)
    return p


def giannoulis_eq4(x, t, r, w):
    """Giannoulis, Massberg & Reiss 2012, eq. 4 (output level), written region by region."""
    if 2 * (x - t) < -w:
        return x
    if w > 0 and 2 * abs(x - t) <= w:
        return x + (1 / r - 1) * (x - t + w / 2) ** 2 / (2 * w)
    return t + (x - t) / r


@pytest.mark.parametrize("t,r,w", [(-20.0, 4.0, 0.0), (-20.0, 4.0, 6.0), (-50.0, 20.0, 12.0), (-3.0, 1.5, 2.0)])
def test_static_curve_is_eq4(t, r, w):
    levels = np.linspace(-100.0, 10.0, 2201)
    expected = np.array([giannoulis_eq4(x, t, r, w) for x in levels]) - levels
    np.testing.assert_allclose(static_gain_db(levels, t, r, w), expected, atol=1e-9)
    np.testing.assert_allclose(static_gain_db(levels.astype(np.float32), t, r, w), expected, atol=1e-4)


def reduction_trajectory(attack_ms, release_ms, fs=24000):
    """DC level steps -20 dBFS -> 0 dBFS -> -20 dBFS through a hard-knee compressor (T -30 dB, R 4)."""
    n = fs  # 1 s per segment
    x = np.concatenate([np.full(n, 0.1), np.full(n, 1.0), np.full(2 * n, 0.1)])
    p = comp_params(comp_threshold_db=-30.0, comp_ratio=4.0, comp_knee_db=0.0, comp_attack_ms=attack_ms,
                    comp_release_ms=release_ms)
    gain_db = 20 * np.log10(compressor(x, fs, **compressor_args(p)) / x)
    return gain_db, n


def time_to_cover_90(g, start, before, after, fs):
    target = before + 0.9 * (after - before)
    seg = g[start:]
    idx = np.argmax(seg <= target) if after < before else np.argmax(seg >= target)
    return (idx + 1) / fs * 1e3


@pytest.mark.parametrize("attack_ms,release_ms", [(1.0, 50.0), (10.0, 200.0), (30.0, 600.0), (0.5, 1000.0)])
def test_attack_and_release_times_cover_90_percent(attack_ms, release_ms, path):
    fs = 24000
    g, n = reduction_trajectory(attack_ms, release_ms, fs)
    # steady reductions: -20 dBFS is over T by 10 dB -> -7.5 dB; 0 dBFS over by 30 dB -> -22.5 dB
    assert g[n - 1] == pytest.approx(-7.5, abs=1e-3)
    assert g[2 * n - 1] == pytest.approx(-22.5, abs=1e-3)
    assert time_to_cover_90(g, n, -7.5, -22.5, fs) == pytest.approx(attack_ms, rel=0.10)
    assert time_to_cover_90(g, 2 * n, -22.5, -7.5, fs) == pytest.approx(release_ms, rel=0.10)


def test_ratio_one_is_identity_and_makeup_is_exact(rng, path):
    x = (rng.standard_normal((24000, 2)) * 0.3).astype(np.float32)
    p = comp_params(comp_threshold_db=-60.0, comp_ratio=1.0, comp_knee_db=6.0, comp_attack_ms=0.1)
    np.testing.assert_allclose(compressor(x, 24000, **compressor_args(p)), x, atol=1e-6, rtol=0)
    p["comp_makeup_db"] = 6.0
    np.testing.assert_allclose(compressor(x, 24000, **compressor_args(p)), x * 10 ** (6 / 20), atol=1e-6, rtol=1e-6)


def test_linked_stereo_detection(rng, path):
    """The loudest channel drives both: a quiet channel next to a loud one is reduced by the same gain."""
    loud = rng.standard_normal(24000) * 0.5
    quiet = loud * 0.01
    p = comp_params(comp_threshold_db=-30.0, comp_ratio=8.0, comp_attack_ms=1.0, comp_release_ms=50.0)
    y = compressor(np.stack([loud, quiet], axis=1), 24000, **compressor_args(p))
    np.testing.assert_allclose(y[:, 1], y[:, 0] * 0.01, atol=1e-12)
    assert np.max(np.abs(compressor(quiet, 24000, **compressor_args(p)) - y[:, 1])) > 1e-3  # unlinked would differ


def test_ballistics_coefficient_90_percent():
    a = ballistics_coefficient(10.0, 48000)
    assert a ** 480 == pytest.approx(0.1)


def test_static_gain_of_a_scalar_level():
    assert float(static_gain_db(np.float64(-10.0), -20.0, 2.0, 0.0)) == pytest.approx(-5.0)
    assert float(static_gain_db(-10.0, -20.0, 2.0, 0.0)) == pytest.approx(-5.0)


@pytest.mark.parametrize("makeup_db", [0.0, 4.5])
def test_quiet_blocks_skip_the_detector_without_changing_the_output(rng, makeup_db, path):
    """A block whose peak stays below the knee, with the detector at rest, takes the short path (the makeup gain
    alone); block by block it must equal one pass of the general path over the whole signal, where a loud burst at
    the end sends every sample through the ballistics."""
    x = (rng.standard_normal((48000, 2)) * 0.01).astype(np.float32)  # about -40 dBFS, peaks below -23 dBFS
    x[-4800:] *= 40.0                                                  # the last 100 ms well above -20 dBFS
    args = dict(threshold_db=-20.0, ratio=4.0, attack_ms=5.0, release_ms=100.0, knee_db=6.0, makeup_db=makeup_db)
    whole = compress_frames(x, 48000, CompressorState(), **args)
    state, blocks = CompressorState(), []
    for start in range(0, len(x), 4800):
        blocks.append(compress_frames(x[start:start + 4800], 48000, state, **args))
        if start + 4800 < len(x) - 4800:
            assert state.y1 == state.y_l == 0.0  # quiet so far: the detector never moved
    np.testing.assert_array_equal(np.concatenate(blocks), whole)
    rms = [float(np.sqrt(np.mean(np.square(a[-2400:], dtype=np.float64)))) for a in (whole, x)]
    assert state.y1 > 0.0 and rms[0] < 0.7 * rms[1] * 10 ** (makeup_db / 20)  # and the burst was compressed
