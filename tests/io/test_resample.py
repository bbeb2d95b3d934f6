"""aebox_edge.io.resample: the streaming polyphase resampler (the one resampler of the package)."""

import numpy as np
import pytest
from scipy.signal import resample_poly

from aebox_edge.io.resample import MAX_FACTOR, Resampler, polyphase_matrix, ratio, resample

RATES = [(44100, 24000), (48000, 24000), (22050, 24000), (8000, 24000), (96000, 24000), (24000, 44100)]


@pytest.mark.parametrize("orig, target", RATES)
def test_whole_signal_equals_resample_poly(rng, orig, target):
    """The filter and the alignment are resample_poly's defaults: the same output up to float32 rounding."""
    x = rng.standard_normal(orig // 4 + 13).astype(np.float32)
    up, down = ratio(orig, target)
    expected = resample_poly(x.astype(np.float64), up, down)
    y = resample(x, orig, target)
    assert y.shape == expected.shape and y.dtype == np.float32
    np.testing.assert_allclose(y, expected, atol=5e-6)


@pytest.mark.parametrize("orig, target", RATES + [(1000003, 24000)])
@pytest.mark.parametrize("block", [1, 777, 100000])
def test_streaming_equals_whole(rng, orig, target, block):
    x = rng.standard_normal(orig // 8 + 5).astype(np.float32)
    r = Resampler(orig, target)
    streamed = np.concatenate([r.process(x[i:i + block]) for i in range(0, len(x), block)] + [r.flush()])
    np.testing.assert_allclose(streamed, resample(x, orig, target), atol=1e-6)


def test_length_and_a_short_signal(rng):
    for n in (1, 2, 146, 147, 148):
        assert len(resample(np.ones(n, np.float32), 44100, 24000)) == -(-n * 80 // 147)


@pytest.mark.parametrize("orig", [1000003, 100003, 44101, 7919, 648325])
def test_filter_size_does_not_depend_on_prime_factors(orig):
    """A rate with no common factor with 24 kHz is approximated: up and down stay bounded, and so does the
    polyphase matrix (it would need max(up, down) ~ 1e6 otherwise)."""
    up, down = ratio(orig, 24000)
    assert max(up, down) <= MAX_FACTOR
    assert abs(up / down - 24000 / orig) / (24000 / orig) < 5e-4  # the worst case from 1 kHz to 768 kHz
    matrix, _ = polyphase_matrix(up, down)
    assert matrix.nbytes <= 8 * 2**20


def test_filter_is_built_once_per_rate_pair():
    polyphase_matrix.cache_clear()
    Resampler(44100, 24000)
    Resampler(44100, 24000)
    assert polyphase_matrix.cache_info().misses == 1 and polyphase_matrix.cache_info().hits == 1


def test_approximated_rate_keeps_frequency(rng):
    """1,000,003 Hz -> 24 kHz through the approximated ratio: a 1 kHz tone stays at 1 kHz (3 ppm off)."""
    orig = 1000003
    x = np.sin(2 * np.pi * 1000 * np.arange(orig) / orig).astype(np.float32)
    y = resample(x, orig, 24000)[2400:-2400]
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    assert np.argmax(spectrum) * 24000 / len(y) == pytest.approx(1000, abs=2)
