"""The evaluation's non-neural Baseline: average-spectrum EQ match + loudness match (numpy/scipy only)."""

import numpy as np
import pytest

from aebox_edge.evaluation.baseline import average_spectrum_eq, loudness_match, match_reference
from ddsp_kernels import PARAM_SPEC, eq_bands, parametric_eq

SR = 24000


def _music_like(rng, n):
    t = np.arange(n) / SR
    x = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((110, 220, 440, 880, 1760, 3520), 1))
    x = x * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t)) + 0.05 * rng.standard_normal(n)
    return (0.3 * x / np.max(np.abs(x))).astype(np.float32)


def _band_db(x, lo, hi):
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / SR)
    return 10 * np.log10(spectrum[(f >= lo) & (f < hi)].sum())


def test_average_spectrum_eq_undoes_a_tilt(rng):
    reference = _music_like(rng, 2 * SR)
    params = {**PARAM_SPEC.neutral(), "high_shelf_gain_db": -15.0, "high_shelf_freq_hz": 3000.0,
              "low_shelf_gain_db": 9.0, "low_shelf_freq_hz": 150.0}
    dirty = parametric_eq(reference, SR, eq_bands(params))
    out = average_spectrum_eq(dirty, reference, SR)
    assert out.shape == dirty.shape and out.dtype == np.float32
    for lo, hi in ((50, 150), (4000, 10000)):
        before = abs(_band_db(dirty, lo, hi) - _band_db(reference, lo, hi))
        after = abs(_band_db(out, lo, hi) - _band_db(reference, lo, hi))
        assert before > 6 and after < 1.5


def test_loudness_match_and_stereo(rng):
    pyloudnorm = pytest.importorskip("pyloudnorm")
    reference = _music_like(rng, 2 * SR)
    quiet = np.stack([reference, 0.5 * reference], axis=1) * 0.1
    out = match_reference(quiet, reference, SR)
    assert out.shape == quiet.shape
    meter = pyloudnorm.Meter(SR)
    assert abs(meter.integrated_loudness(out.astype(np.float64))
               - meter.integrated_loudness(reference.astype(np.float64))) < 0.1


def test_loudness_match_leaves_short_or_silent_audio(rng):
    short = _music_like(rng, SR // 4)
    np.testing.assert_array_equal(loudness_match(short, 2 * short, SR), short)
    silent = np.zeros(SR, np.float32)
    np.testing.assert_array_equal(loudness_match(silent, _music_like(rng, SR), SR), silent)
