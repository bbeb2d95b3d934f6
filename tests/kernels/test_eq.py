"""The EQ against the RBJ closed form (analog prototypes + bilinear warping) and against pedalboard."""

import numpy as np
import pytest
from scipy.signal import sosfreqz

from ddsp_kernels import MAX_FREQ_RATIO, PARAM_SPEC, eq_bands, eq_sos, parametric_eq, rbj_sos
from ddsp_kernels.biquads import rbj_bank


def analog_prototype_db(kind, f, f0, gain_db, q, fs):
    """RBJ cookbook analog prototypes H(s) evaluated at s = j tan(w/2) / tan(w0/2) (the bilinear transform
    with the cookbook's prewarping), in dB."""
    f0 = np.minimum(f0, MAX_FREQ_RATIO * fs)
    amp = 10 ** (gain_db / 40)
    s = 1j * np.tan(np.pi * f / fs) / np.tan(np.pi * f0 / fs)
    if kind == "peak":
        h = (s**2 + s * amp / q + 1) / (s**2 + s / (amp * q) + 1)
    elif kind == "low_shelf":
        h = amp * (s**2 + np.sqrt(amp) / q * s + amp) / (amp * s**2 + np.sqrt(amp) / q * s + 1)
    else:
        h = amp * (amp * s**2 + np.sqrt(amp) / q * s + 1) / (s**2 + np.sqrt(amp) / q * s + amp)
    return 20 * np.log10(np.abs(h))


def closed_form_db(params, f, fs):
    total = 0.0
    for kind, freq_hz, gain_db, q in eq_bands(params):
        total = total + analog_prototype_db(kind, f, freq_hz[..., None], gain_db[..., None], q[..., None], fs)
    return total


@pytest.mark.parametrize("fs", [24000, 44100, 48000])
def test_eq_response_equals_rbj_closed_form(fs, rng):
    params = PARAM_SPEC.to_physical(rng.random((1000, 24)))
    f = np.geomspace(20.0, MAX_FREQ_RATIO * fs, 300)
    sos = eq_sos(fs, eq_bands(params))  # (1000, 6, 6)
    ours = np.stack([20 * np.log10(np.abs(sosfreqz(s, worN=f, fs=fs)[1])) for s in sos])
    np.testing.assert_allclose(ours, closed_form_db(params, f, fs), atol=0.01)


@pytest.mark.parametrize("kinds", [("low_shelf", "peak", "peak", "peak", "peak", "high_shelf"),
                                   ("peak", "high_shelf", "peak", "low_shelf", "low_shelf"), ("high_shelf",)])
def test_bank_designs_each_band_as_rbj_sos_does(kinds, rng):
    # one pass over a bank of mixed kinds (any order; shelves and peaks gathered apart): every band bit for bit
    # the section rbj_sos designs for it, broadcast over a batch
    shape = (7, 3, len(kinds))
    freq, gain, q = rng.uniform(10, 30000, shape), rng.uniform(-24, 24, shape), rng.uniform(0.1, 10, shape)
    bank = rbj_bank(kinds, freq, gain, q, 48000)
    assert bank.shape == shape + (6,)
    for i, kind in enumerate(kinds):
        np.testing.assert_array_equal(bank[..., i, :], rbj_sos(kind, freq[..., i], gain[..., i], q[..., i], 48000))
    np.testing.assert_array_equal(rbj_bank(kinds, freq[0, 0], 3.0, 0.7, 48000)[0], rbj_sos(kinds[0], freq[0, 0, 0],
                                                                                         3.0, 0.7, 48000))


def test_bank_rejects_unknown_kinds_and_wrong_band_counts():
    with pytest.raises(ValueError, match="unknown biquad kind 'notch'"):
        rbj_bank(("peak", "notch"), [1000.0, 2000.0], 0.0, 1.0, 48000)
    with pytest.raises(ValueError, match="shaped"):
        rbj_bank(("peak", "peak"), [1000.0, 2000.0, 3000.0], 0.0, 1.0, 48000)


def test_parametric_eq_filters_with_those_sections(rng):
    from scipy.signal import sosfilt

    fs = 44100
    params = PARAM_SPEC.to_physical(rng.random(24))
    x = rng.standard_normal((4096, 2))
    bands = eq_bands(params)
    expected = sosfilt(eq_sos(fs, bands), x, axis=0)
    np.testing.assert_allclose(parametric_eq(x, fs, bands), expected, atol=1e-7 * np.max(np.abs(expected)))


@pytest.mark.parametrize("fs", [44100, 48000])
def test_eq_matches_pedalboard(fs, rng):
    """pedalboard (JUCE IIR, float32) is a peer, not the reference: below ~150 Hz its float32 filters drift from
    the exact RBJ response (measured: 1.3 dB at 20 Hz, Q 10, while ours is within 0.01 dB of the closed form), so
    the comparison keeps the lowest band at >= 150 Hz and covers every other setting and 20 Hz..0.45 fs."""
    pedalboard = pytest.importorskip("pedalboard")
    n = 1 << 17
    impulse = np.zeros(n, dtype=np.float32)
    impulse[0] = 1.0
    f = np.fft.rfftfreq(n, 1 / fs)
    keep = (f >= 20) & (f <= MAX_FREQ_RATIO * fs)
    for p01 in rng.random((20, 24)):
        params = {k: float(v) for k, v in PARAM_SPEC.to_physical(p01).items()}
        params["low_shelf_freq_hz"] = max(params["low_shelf_freq_hz"], 150.0)
        kinds = {"low_shelf": pedalboard.LowShelfFilter, "peak": pedalboard.PeakFilter,
                 "high_shelf": pedalboard.HighShelfFilter}
        filters = [kinds[kind](cutoff_frequency_hz=freq_hz, gain_db=gain_db, q=q)
                   for kind, freq_hz, gain_db, q in eq_bands(params)]
        theirs = pedalboard.Pedalboard(filters)(impulse, fs)
        ours = parametric_eq(impulse, fs, eq_bands(params))
        db = [20 * np.log10(np.abs(np.fft.rfft(h.astype(np.float64)))[keep]) for h in (ours, theirs)]
        np.testing.assert_allclose(db[0], db[1], atol=0.1)


def test_bands_above_045_fs_are_clamped():
    params = PARAM_SPEC.neutral()
    params.update(peak4_gain_db=12.0, peak4_freq_hz=10800.0, peak4_q=2.0)
    fs = 16000
    clamped = dict(params, peak4_freq_hz=MAX_FREQ_RATIO * fs)
    np.testing.assert_allclose(eq_sos(fs, eq_bands(params)), eq_sos(fs, eq_bands(clamped)))
    assert np.all(np.isfinite(eq_sos(8000, eq_bands(params))))
