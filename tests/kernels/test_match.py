"""The analytic EQ match (ddsp_kernels.match)."""

import numpy as np
import pytest

from ddsp_kernels import EQ_BANDS, PARAM_SPEC, apply_chain
from ddsp_kernels.match import (BAND_CENTRES_HZ, BandLevels, analytic_params, band_levels_db, combine,
                                eq_response_db, spectral_difference_db)
from ddsp_kernels import match

SR = 24000


def _pink(n, seed):
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    spectrum[1:] /= np.sqrt(f[1:])
    x = np.fft.irfft(spectrum, n)
    return x / np.abs(x).max() * 0.5


def _eq_params(gains):
    p = PARAM_SPEC.neutral()
    for band, g in zip(EQ_BANDS, gains):
        p[f"{band}_gain_db"] = g
    return p


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_undoes_a_known_eq(seed):
    rng = np.random.default_rng(seed)
    x = _pink(SR * 3, seed)
    y = apply_chain(x, SR, _eq_params(rng.uniform(-12, 12, 6)))
    diff = spectral_difference_db(band_levels_db(x, SR), band_levels_db(y, SR))
    fitted = apply_chain(x, SR, PARAM_SPEC.to_physical(analytic_params(diff, SR)))
    after = spectral_difference_db(band_levels_db(fitted, SR), band_levels_db(y, SR))
    assert np.sqrt(np.mean(after ** 2)) < 0.35 * np.sqrt(np.mean(diff ** 2))


def test_identical_signals_give_the_flat_eq():
    x = _pink(SR * 2, 5)
    levels = band_levels_db(x, SR)
    p = analytic_params(spectral_difference_db(levels, levels), SR)
    gains = PARAM_SPEC.to_physical(p)
    assert max(abs(float(gains[f"{b}_gain_db"])) for b in EQ_BANDS) < 0.01


def test_response_matches_the_filters():
    from scipy.signal import sosfreqz

    from ddsp_kernels import eq_bands, eq_sos

    p01 = np.random.default_rng(3).uniform(0.1, 0.9, 24)
    physical = PARAM_SPEC.to_physical(p01)
    eq01 = np.concatenate([[p01[PARAM_SPEC.index(f"{b}_{k}")] for k in ("gain_db", "freq_hz", "q")]
                           for b in EQ_BANDS])
    _, h = sosfreqz(eq_sos(SR, eq_bands(physical)), worN=np.asarray(BAND_CENTRES_HZ), fs=SR)
    np.testing.assert_allclose(eq_response_db(eq01, SR), 20 * np.log10(np.abs(h)), atol=1e-6)


def test_batched_fit_equals_one_by_one():
    rng = np.random.default_rng(4)
    diffs = rng.uniform(-6, 6, (3, len(BAND_CENTRES_HZ)))
    together = analytic_params(diffs, SR)
    for d, row in zip(diffs, together):
        np.testing.assert_allclose(analytic_params(d, SR), row, atol=1e-6)  # batched LAPACK rounding


def test_combine_is_identity_at_zero_and_bounded():
    a = np.random.default_rng(5).uniform(0.05, 0.95, 24)
    np.testing.assert_allclose(combine(a, np.zeros(24)), a, atol=1e-12)
    p = combine(a, np.full(24, 50.0))
    assert np.all((p > 0.99) & (p <= 1.0))


def test_band_levels_reject_empty_audio():
    with pytest.raises(ValueError, match="empty"):
        band_levels_db(np.zeros(0), SR)


def _moments(x, sr=SR):
    from ddsp_kernels.match import BandLevels, moment_sums, spectral_moments

    return spectral_moments(moment_sums(BandLevels(sr).add(x).spectra(), sr)[1])


def test_spectral_moments_of_known_signals():
    t = np.arange(SR * 2) / SR
    centroid, _ = _moments(np.sin(2 * np.pi * 3000.0 * t))
    assert abs(centroid - 3000.0) < 60.0  # one 1/12-octave group wide at most
    # a 40 Hz tone carries plain energy that K-weighting (a 38 Hz high-pass) mostly removes; 3 kHz gets its shelf
    _, low = _moments(np.sin(2 * np.pi * 40.0 * t))
    _, high = _moments(np.sin(2 * np.pi * 3000.0 * t))
    assert low > 2.0 and -4.5 < high < -3.0
    from ddsp_kernels.match import BandLevels

    spectra = BandLevels(SR).add(_pink(SR, 3)).spectra()
    assert spectra.shape == (2, 4096 // 2 + 1) and abs(spectra[1].sum() - 1.0) < 1e-9  # frames count alike


@pytest.mark.parametrize("weight, most", [(None, 0.99), (3.0, 0.6)])
def test_fit_with_spectra_matches_the_moments_the_curve_alone_misses(weight, most, monkeypatch):
    """A duller input (its top octaves cut, as a phone's low-pass does) keeps a centroid far below the
    reference's under the curve-only fit; the moment residual pulls it toward the reference's, the more so the
    larger its weight (the shipped weight, then a larger one: measured 0.97 and 0.51 of the curve-only error)."""
    import ddsp_kernels.match as match
    from scipy.signal import butter, sosfilt

    if weight is not None:
        monkeypatch.setattr(match, "CENTROID_WEIGHT", weight)
    ref = _pink(SR * 3, 5)
    x = sosfilt(butter(4, 3000.0, fs=SR, output="sos"), _pink(SR * 3, 6)) + 1e-4 * _pink(SR * 3, 7)
    a, b = match.BandLevels(SR).add(x), match.BandLevels(SR).add(ref)
    diff = spectral_difference_db(a.levels_db(), b.levels_db(), match.FIT_LIMIT_DB)
    target, _ = _moments(ref)
    errors = {}
    for name, p01 in {"curve": analytic_params(diff, SR),
                      "moments": analytic_params(diff, SR, a.spectra(), b.spectra())}.items():
        y = apply_chain(x, SR, PARAM_SPEC.to_physical(p01))
        errors[name] = abs(_moments(y)[0] - target)
    assert errors["moments"] < most * errors["curve"], errors


def test_batched_fit_with_spectra_equals_one_by_one():
    from ddsp_kernels.match import BandLevels

    levels = [BandLevels(SR).add(_pink(SR * 2, s)) for s in range(4)]
    diffs = np.stack([spectral_difference_db(levels[i].levels_db(), levels[i + 2].levels_db()) for i in (0, 1)])
    spectra = [np.stack([levels[i + k].spectra() for i in (0, 1)]) for k in (0, 2)]
    batched = analytic_params(diffs, SR, *spectra)
    single = [analytic_params(diffs[i], SR, spectra[0][i], spectra[1][i]) for i in (0, 1)]
    np.testing.assert_allclose(batched, np.stack(single), atol=1e-6)


def test_band_level_spectra_equal_welch_by_definition():
    """``BandLevels.spectra`` (its sums as products) equals the definition frame by frame: the mean ``|rfft|^2``
    of Hann frames of ``N_FFT`` at 50 % overlap per block, and the mean of each frame's magnitude over its sum
    (a silent frame counts as zeros), to 1e-12 relative."""
    from ddsp_kernels.match import N_FFT, BandLevels

    x = np.concatenate([_pink(SR, 1), np.zeros(3 * N_FFT)])  # the silent frames must not divide by zero
    blocks = [x[:9000], x[9000:]]
    power, shape, frames = 0.0, 0.0, 0
    for block in blocks:
        for start in range(0, len(block) - N_FFT + 1, N_FFT // 2):
            magnitude = np.abs(np.fft.rfft(block[start:start + N_FFT] * np.hanning(N_FFT)))
            power = power + magnitude ** 2
            shape = shape + (magnitude / magnitude.sum() if magnitude.sum() > 0 else 0.0)
            frames += 1
    levels = BandLevels(SR)
    for block in blocks:
        levels.add(block)
    np.testing.assert_allclose(levels.spectra(), np.stack([power, shape]) / frames, rtol=1e-12, atol=0)


def test_levels_without_spectra_equal_and_refuse_spectra():
    from ddsp_kernels.match import BandLevels

    x = _pink(SR * 2, 8)
    full, lean = BandLevels(SR).add(x), BandLevels(SR, spectra=False).add(x)
    np.testing.assert_allclose(lean.levels_db(), full.levels_db(), atol=1e-9)
    with pytest.raises(ValueError, match="no spectra"):
        lean.spectra()


@pytest.mark.parametrize("rate", [24000, 44100])
def test_k_weighted_mean_square_estimates_the_filtered_signal(rate):
    """``BandLevels.k_weighted_mean_square`` against the K-weighted signal's mean square (scipy's ``sosfilt`` of
    BS.1770's filter): within 0.3 dB for noise and for a tone in each of the filter's regions; a DC offset, which the
    filter removes, is left out."""
    from scipy.signal import sosfilt

    from ddsp_kernels.loudness import k_weighting_sos

    rng = np.random.default_rng(0)
    t = np.arange(5 * rate) / rate
    for x in (rng.standard_normal(5 * rate), np.sin(2 * np.pi * 60.0 * t), np.sin(2 * np.pi * 5000.0 * t),
              rng.standard_normal(5 * rate) * np.sin(np.pi * t / 5.0)):
        truth = np.mean(sosfilt(k_weighting_sos(rate), x) ** 2)
        for signal in (x, x + 1.0):
            estimate = BandLevels(rate).add(np.stack([signal, signal], axis=1)).k_weighted_mean_square()
            assert 10 * np.log10(estimate / truth) == pytest.approx(0.0, abs=0.3)
    assert BandLevels(rate).add(np.zeros(rate)).k_weighted_mean_square() == 0.0


def test_power_response_equals_the_complex_response():
    """``sos_power_response`` (the real, sin^2 form the fit evaluates) is ``|sos_response|^2``, also near 0 Hz, where
    a narrow low shelf's poles come close to z = 1, and at every rate."""
    from ddsp_kernels.biquads import power_basis, sos_power_response, sos_response

    rng = np.random.default_rng(7)
    for rate in (8000, 24000, 44100, 192000):
        eq01 = rng.random((40, 18))
        sos = match._normalized_sos(eq01, rate)
        freqs = np.geomspace(1.0, rate / 2, 400)
        exact = np.abs(sos_response(sos, freqs, rate)) ** 2
        np.testing.assert_allclose(sos_power_response(sos, power_basis(freqs, rate)), exact, rtol=1e-7)


def test_band_integrated_response_is_the_measured_band_level_change():
    """What the fit's refinement draws with: the change of the input's band levels that an EQ makes, read from the
    input's long-term power and the EQ's |H|^2 at the bins, equals the change measured on the filtered signal (within
    the Hann frames' leakage); the response at the band centres misreads a band next to a narrow peak by decibels."""
    from ddsp_kernels import eq_bands, parametric_eq

    rate = 44100
    x = np.random.default_rng(3).standard_normal(rate * 6)
    p01 = PARAM_SPEC.to_normalized(PARAM_SPEC.neutral())
    p01[PARAM_SPEC.index("peak2_gain_db")] = PARAM_SPEC["peak2_gain_db"].to_normalized(18.0)
    p01[PARAM_SPEC.index("peak2_q")] = PARAM_SPEC["peak2_q"].to_normalized(8.0)
    p01[PARAM_SPEC.index("peak2_freq_hz")] = PARAM_SPEC["peak2_freq_hz"].to_normalized(1130.0)  # near a band edge
    y = parametric_eq(x, rate, eq_bands(PARAM_SPEC.to_physical(p01)))
    measured = BandLevels(rate).add(y).levels_db() - BandLevels(rate).add(x).levels_db()
    eq01 = p01[match._EQ_INDEX]
    band = match._BandIntegration(BandLevels(rate).add(x).power(), rate)
    sos = match._normalized_sos(eq01[None], rate)
    integrated = band.response_db(np.prod(band.power(sos), axis=-2), eq_response_db(eq01[None], rate))[0]
    centre = eq_response_db(eq01, rate)
    inside = band.inside
    np.testing.assert_allclose(integrated[inside], measured[inside], atol=0.1)
    assert np.abs(centre - measured)[inside].max() > 3.0


def test_refinement_lowers_the_band_integrated_error_of_the_centre_fit(monkeypatch):
    """The fit's second stage starts from the first's result and keeps only steps that lower the cost measured with
    the band-integrated response: its band levels end closer to the reference's than the first stage's did."""
    rate = 24000
    rng = np.random.default_rng(11)
    x = _pink(rate * 3, 2)
    y = apply_chain(x, rate, _eq_params(rng.uniform(-12, 12, 6)) | {"peak3_q": 9.0, "peak3_gain_db": -15.0})
    a, b = BandLevels(rate).add(x), BandLevels(rate).add(y)
    diff = spectral_difference_db(a.levels_db(), b.levels_db(), match.FIT_LIMIT_DB)

    def band_error(p01):
        fitted = apply_chain(x, rate, PARAM_SPEC.to_physical(p01))
        after = spectral_difference_db(band_levels_db(fitted, rate), b.levels_db())
        return float(np.sqrt(np.mean(match.BAND_WEIGHTS * after ** 2)))

    refined = analytic_params(diff, rate, a.spectra(), b.spectra())
    first_stage_only = match._levenberg_marquardt
    calls = []

    def once(theta, *args):
        calls.append(1)
        return first_stage_only(theta, *args) if len(calls) == 1 else theta

    monkeypatch.setattr(match, "_levenberg_marquardt", once)
    centre = analytic_params(diff, rate, a.spectra(), b.spectra())
    assert len(calls) == 2 and not np.allclose(refined, centre)
    assert band_error(refined) < band_error(centre)
