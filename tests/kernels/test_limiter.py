"""The true-peak limiter (ddsp_kernels.limiter), on both paths of its interpolation (the compiled one where pip
built it, and numpy's): outputs stay under the ceiling as an independent 8x oversampling measures it, nothing
changes below the ceiling, streaming equals offline, and a steady tone gets a steady gain."""

import numpy as np
import pytest
from scipy.signal import resample_poly
from support import music

from ddsp_kernels import limiter as module
from ddsp_kernels.limiter import CEILING_DBTP, HALF_TAPS, TruePeakLimiter, true_peak_limit


@pytest.fixture(autouse=True, params=["compiled", "numpy"])
def path(request, monkeypatch):
    """Every test on the compiled interpolation, then on the numpy one."""
    if request.param == "numpy":
        monkeypatch.setattr(module, "COMPILED", None)
    elif module.COMPILED is None:
        pytest.skip("the optional extension is not built here (no C compiler or Python headers at install)")
    return request.param

RATE = 48000
# what the limiter's 4x true peak can miss, against scipy's 8x polyphase resampler (the oversampling grid's
# under-read and the two interpolators' ripple): measured 0.035-0.06 dB on these signals
TOLERANCE_DB = 0.1


def true_peak_db(audio, up: int = 8) -> float:
    """True peak (dBTP) by scipy's polyphase resampler: independent of the limiter's own interpolator."""
    return float(20 * np.log10(np.max(np.abs(resample_poly(np.asarray(audio, np.float64), up, 1, axis=0)))))


def stream(limiter: TruePeakLimiter, x: np.ndarray, sizes) -> np.ndarray:
    """``x`` through ``limiter`` in blocks of ``sizes`` (cycled), then its flush: the delayed output."""
    out, start, k = [], 0, 0
    while start < len(x):
        out.append(limiter.process(x[start:start + sizes[k % len(sizes)]]))
        start += sizes[k % len(sizes)]
        k += 1
    out.append(limiter.flush().astype(x.dtype))
    return np.concatenate(out)


def square(seconds=1.0, f=441.0):
    t = np.arange(int(seconds * RATE)) / RATE
    return np.sign(np.sin(2 * np.pi * f * t + 0.1)).astype(np.float32)


SIGNALS = {
    "full-scale square": lambda: square(),
    "+12 dBFS float": lambda: music(1.0, RATE, 2, seed=2, level=10 ** (12 / 20)),
    "loud music": lambda: np.tanh(3 * music(1.0, RATE, 2, seed=3, level=1.0)) * np.float32(1.4),
}


@pytest.mark.parametrize("name", SIGNALS)
def test_output_true_peak_stays_at_the_ceiling(name):
    x = SIGNALS[name]()
    assert true_peak_db(x) > CEILING_DBTP + 1.0  # the input is well over: the test can fail
    y = true_peak_limit(x, RATE)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert true_peak_db(y) <= CEILING_DBTP + TOLERANCE_DB
    assert true_peak_db(y, up=16) <= CEILING_DBTP + TOLERANCE_DB


def test_transparent_below_the_ceiling():
    x = music(1.0, RATE, 2, seed=4, level=0.5)  # true peak about -6 dBTP
    np.testing.assert_array_equal(true_peak_limit(x, RATE), x)
    limiter = TruePeakLimiter(RATE, 2)
    y = stream(limiter, x, [100, 3000, 1])
    np.testing.assert_array_equal(y[limiter.latency:], x)  # the input, delayed by the look-ahead
    assert not y[:limiter.latency].any() and limiter.max_reduction_db == 0.0


def test_streaming_equals_offline_for_random_blocks():
    rng = np.random.default_rng(0)
    x = np.concatenate([music(0.6, RATE, 2, seed=5, level=3.0), music(0.6, RATE, 2, seed=6, level=0.2)])
    offline = true_peak_limit(x, RATE)
    for _ in range(3):
        limiter = TruePeakLimiter(RATE, 2)
        y = stream(limiter, x, list(rng.integers(1, 9000, 40)))
        np.testing.assert_array_equal(y[limiter.latency:], offline)


@pytest.mark.parametrize("freq", [40.0, 100.0, 1000.0])
def test_steady_tone_gets_a_steady_gain(freq):
    """No pumping or ripple: after the attack, a steady loud tone is scaled by one constant gain that puts its
    peak at the ceiling."""
    t = np.arange(RATE) / RATE
    x = (2.0 * np.sin(2 * np.pi * freq * t)).astype(np.float64)  # +6 dBFS
    y = true_peak_limit(x, RATE)
    settled = slice(RATE // 4, None)
    big = np.abs(x[settled]) > 0.5
    gain_db = 20 * np.log10(y[settled][big] / x[settled][big])
    assert np.ptp(gain_db) < 1e-6
    assert gain_db.mean() == pytest.approx(CEILING_DBTP - 20 * np.log10(2.0), abs=0.01)


def test_a_click_is_caught_ahead_and_released():
    x = np.full(2 * RATE, 0.1)
    x[RATE // 2] = 4.0  # +12 dBFS for one sample: 13 dB of reduction, back under 1e-6 dB in 0.73 s
    limiter = TruePeakLimiter(RATE, 1)
    y = true_peak_limit(x, RATE)
    assert true_peak_db(y) <= CEILING_DBTP + TOLERANCE_DB
    gain = y / x
    before = RATE // 2 - limiter.lookahead - HALF_TAPS  # the interpolated click rings this far
    assert gain[before - 1] == 1.0 and gain[RATE // 2 - limiter.lookahead // 2] < 1.0  # the attack starts ahead
    assert gain[RATE // 2 + int(0.1 * RATE)] < 1.0  # then the release takes its time
    assert np.all(gain[-RATE // 2:] == 1.0)  # and ends exactly


@pytest.mark.parametrize("kwargs", [dict(sample_rate=0), dict(channels=0), dict(lookahead_ms=0.0),
                                    dict(release_ms=-1.0), dict(hold_ms=1.0, lookahead_ms=5.0),
                                    dict(ceiling_db=float("nan"))])
def test_bad_settings_raise(kwargs):
    args = {"sample_rate": RATE, **kwargs}
    with pytest.raises(ValueError):
        TruePeakLimiter(args.pop("sample_rate"), **args)


def test_channel_count_is_checked():
    limiter = TruePeakLimiter(RATE, 2)
    with pytest.raises(ValueError, match="channels|samples"):
        limiter.process(np.zeros((10, 3), np.float32))


@pytest.mark.parametrize("n, size", [(1, 1), (10, 3), (961, 961), (5000, 961), (4096, 64)])
def test_sliding_max_equals_scipy(n, size):
    from scipy.ndimage import maximum_filter1d

    from ddsp_kernels.signal import sliding_max

    x = np.random.default_rng(n).standard_normal(n)
    expected = maximum_filter1d(x, size)[size // 2:size // 2 + n - size + 1]
    np.testing.assert_array_equal(sliding_max(x, size), expected)


@pytest.mark.parametrize("level", [0.3, 1.5])
def test_interpolating_only_near_loud_samples_changes_nothing(level):
    """The phases are computed only where the L1 bound says they can exceed the ceiling (gathered where that is
    a few samples, at 0.3; for all of a block where it is many, at 1.5): quiet or loud music with a few clicks
    gives the same output as a limiter that interpolates every sample (bound disabled)."""
    x = music(1.0, RATE, 2, seed=7, level=level)
    x[[5000, 5001, 20000, 33333]] = np.float32(1.5)  # a few samples well over the ceiling
    gated, everywhere = TruePeakLimiter(RATE, 2), TruePeakLimiter(RATE, 2)
    everywhere._taps_l1 = 1e30  # every sample's phases are computed (silence too)
    y = stream(gated, x, [4410, 777])
    assert gated.max_reduction_db > 1.0  # the clicks are limited: the test can fail
    np.testing.assert_allclose(y, stream(everywhere, x, [4410, 777]), rtol=0, atol=1e-6)
    assert gated.max_reduction_db == pytest.approx(everywhere.max_reduction_db, abs=1e-6)


def test_both_paths_limit_alike(monkeypatch, path):
    """The compiled interpolation gives the numpy path's gains (its sums in another order) on loud music in odd
    blocks."""
    if path == "numpy":
        pytest.skip("compares the compiled path with the numpy one")
    x = np.tanh(3 * music(1.0, RATE, 2, seed=8, level=1.0)) * np.float32(1.4)
    compiled = TruePeakLimiter(RATE, 2)
    y = stream(compiled, x, [4410, 777, 1])
    monkeypatch.setattr(module, "COMPILED", None)
    numpy = TruePeakLimiter(RATE, 2)
    expected = stream(numpy, x, [4410, 777, 1])
    assert numpy.max_reduction_db > 3.0  # well limited: the test can fail
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-6)
    assert compiled.max_reduction_db == pytest.approx(numpy.max_reduction_db, abs=1e-5)


def test_the_compiled_true_peak_equals_the_phase_products(path):
    """Every output is the largest absolute phase (taps times its own window) over the channels, or the peak given
    in; bad buffers are refused."""
    if path == "numpy":
        pytest.skip("a test of the compiled kernel")
    rng = np.random.default_rng(1)
    phases = TruePeakLimiter(RATE, 3)._phase_matrix
    taps = phases.shape[1]
    for n in (1, 255, 256, 257, 1000):
        x = rng.standard_normal((n + taps - 1, 3)).astype(np.float32)
        peak = np.abs(rng.standard_normal(n)).astype(np.float32) * 2.0
        expected = peak.copy()
        for c in range(3):
            windows = np.lib.stride_tricks.sliding_window_view(x[:, c].astype(np.float64), taps)
            np.maximum(expected, np.abs(phases.astype(np.float64) @ windows.T).max(axis=0), out=expected)
        module.COMPILED.true_peak(x, phases, peak)
        np.testing.assert_allclose(peak, expected, rtol=1e-6)
    for bad in ((x[1:], phases, peak), (x.astype(np.float64), phases, peak), (x, phases.astype(np.float64), peak),
                (x, phases, peak[:, None]), (x[::2], phases, peak[:(len(x) + 1) // 2 - taps + 1])):
        with pytest.raises(ValueError):
            module.COMPILED.true_peak(*bad)


def test_the_compiled_gain_refuses_bad_buffers(path):
    if path == "numpy":
        pytest.skip("a test of the compiled kernel")
    peak, history, averaged, gain = np.ones(16), np.zeros(8), np.zeros(4, np.int64), np.empty(16)
    args = (1.0, 0.99, 1e-6, 2.0 ** 40, 0.0)
    v, reduced = module.COMPILED.limiter_gain(peak * 2.0, history, averaged, gain, *args)
    assert reduced and v > 0 and np.all(gain <= 0)
    for bad in ((peak, history, averaged, gain[:8]), (peak, history, averaged.astype(np.int32), gain),
                (peak.astype(np.float32), history, averaged, gain), (peak, history[:0], averaged, gain),
                (peak, history, averaged[:0], gain), (peak[::2], history, averaged, gain[:8])):
        with pytest.raises(ValueError):
            module.COMPILED.limiter_gain(*bad, *args)


def test_the_compiled_gain_equals_the_numpy_gain(monkeypatch, path):
    """Given the same true peaks (over the ceiling, then a quiet stretch that the release and the moving average
    run out in, then over again), in blocks of odd sizes, the compiled gain computer gives the numpy path's gains."""
    if path == "numpy":
        pytest.skip("compares the compiled path with the numpy one")
    rng = np.random.default_rng(3)
    peaks = [np.abs(rng.standard_normal(n)) * 1.3 for n in (4410, 777, 1, 30000, 4410)]
    peaks[3][:] = 0.1
    gains = {}
    for name in ("compiled", "numpy"):
        if name == "numpy":
            monkeypatch.setattr(module, "COMPILED", None)
        limiter = TruePeakLimiter(RATE, 2)
        blocks = [limiter._gain_db(p) for p in peaks]
        assert blocks[3] is not None and blocks[4] is not None  # the release runs into the quiet block
        gains[name] = np.concatenate([np.zeros(len(p)) if g is None else g for p, g in zip(peaks, blocks)])
    assert gains["numpy"].min() < -10.0 and gains["numpy"][-1] < 0.0  # the test can fail
    np.testing.assert_allclose(gains["compiled"], gains["numpy"], rtol=0, atol=1e-10)
