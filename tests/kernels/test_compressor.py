import numpy as np
import pytest

from ddsp_kernels import PARAM_SPEC, ballistics_coefficient, compressor, compressor_args, static_gain_db


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
def test_attack_and_release_times_cover_90_percent(attack_ms, release_ms):
    fs = 24000
    g, n = reduction_trajectory(attack_ms, release_ms, fs)
    # steady reductions: -20 dBFS is over T by 10 dB -> -7.5 dB; 0 dBFS over by 30 dB -> -22.5 dB
    assert g[n - 1] == pytest.approx(-7.5, abs=1e-3)
    assert g[2 * n - 1] == pytest.approx(-22.5, abs=1e-3)
    assert time_to_cover_90(g, n, -7.5, -22.5, fs) == pytest.approx(attack_ms, rel=0.10)
    assert time_to_cover_90(g, 2 * n, -22.5, -7.5, fs) == pytest.approx(release_ms, rel=0.10)


def test_ratio_one_is_identity_and_makeup_is_exact(rng):
    x = (rng.standard_normal((24000, 2)) * 0.3).astype(np.float32)
    p = comp_params(comp_threshold_db=-60.0, comp_ratio=1.0, comp_knee_db=6.0, comp_attack_ms=0.1)
    np.testing.assert_allclose(compressor(x, 24000, **compressor_args(p)), x, atol=1e-6, rtol=0)
    p["comp_makeup_db"] = 6.0
    np.testing.assert_allclose(compressor(x, 24000, **compressor_args(p)), x * 10 ** (6 / 20), atol=1e-6, rtol=1e-6)


def test_linked_stereo_detection(rng):
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
def test_quiet_blocks_skip_the_detector_without_changing_the_output(rng, makeup_db):
    """A block whose peak stays below the knee, with the detector at rest, takes the short path (the makeup gain
    alone); block by block it must equal one pass of the general path over the whole signal, where a loud burst at
    the end sends every sample through the ballistics."""
    from ddsp_kernels.compressor import CompressorState, compress_frames

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
