"""ddsp_kernels.iir: the numpy cascade of second-order sections against scipy.signal.sosfilt."""

import numpy as np
import pytest
from scipy.signal import sosfilt as scipy_sosfilt

from ddsp_kernels import PARAM_SPEC, eq_bands, eq_sos
from ddsp_kernels.iir import BlockFilter, sosfilt
from ddsp_kernels.loudness import k_weighting_sos

# worst error relative to the output's peak over random EQs (the low shelf's poles come closest to z = 1 at high
# rates, where the block recurrence loses the most); float32 audio resolves 6e-8
TOLERANCE = {8000: 1e-8, 24000: 1e-8, 44100: 1e-7, 48000: 1e-7, 192000: 2e-5}


@pytest.mark.parametrize("fs", sorted(TOLERANCE))
@pytest.mark.parametrize("n", [1, 5, 64, 65, 1000, 30011])
def test_equals_scipy_sosfilt_with_state(rng, fs, n):
    for p01 in rng.random((3, 24)):
        sos = eq_sos(fs, eq_bands(PARAM_SPEC.to_physical(p01)))
        x = rng.standard_normal((n, 2))
        zi = 0.1 * rng.standard_normal((6, 2, 2))
        expected, expected_zf = scipy_sosfilt(sos, x, axis=0, zi=zi)
        y, zf = sosfilt(sos, x, zi)
        scale = max(np.max(np.abs(expected)), np.max(np.abs(expected_zf)))
        np.testing.assert_allclose(y, expected, atol=TOLERANCE[fs] * scale, rtol=0)
        np.testing.assert_allclose(zf, expected_zf, atol=TOLERANCE[fs] * scale, rtol=0)


def test_blocks_with_carried_state_equal_one_pass(rng):
    sos = k_weighting_sos(48000)
    f = BlockFilter(sos)
    x = rng.standard_normal((20000, 1))
    whole, zf = f.filter(x, np.zeros((2, 2, 1)))
    state, parts, pos = np.zeros((2, 2, 1)), [], 0
    while pos < len(x):
        size = int(rng.integers(1, 3000))
        y, state = f.filter(x[pos:pos + size], state)
        parts.append(y)
        pos += size
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-10)
    np.testing.assert_allclose(state, zf, atol=1e-10)


def test_fir_sections_and_an_impulse():
    """A section without poles (its state matrix is nilpotent) and the impulse response of a resonance."""
    fir = np.array([[0.5, 0.25, 0.125, 1.0, 0.0, 0.0]])
    x = np.zeros((200, 1))
    x[0] = 1.0
    y, _ = sosfilt(fir, x, np.zeros((1, 2, 1)))
    np.testing.assert_allclose(y[:4, 0], [0.5, 0.25, 0.125, 0.0], atol=1e-15)
    resonance = np.array([[1.0, 0.0, 0.0, 1.0, -1.8, 0.95]])
    y, _ = sosfilt(resonance, x, np.zeros((1, 2, 1)))
    expected, _ = scipy_sosfilt(resonance, x, axis=0, zi=np.zeros((1, 2, 1)))
    np.testing.assert_allclose(y, expected, atol=1e-12)
