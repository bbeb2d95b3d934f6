"""ddsp_kernels.iir: both paths of the cascade of second-order sections (scipy's compiled one, loaded without
``scipy.signal``'s package init, and the numpy block recurrence) against scipy.signal.sosfilt."""

import subprocess
import sys

import numpy as np
import pytest
from scipy.signal import sosfilt as scipy_sosfilt

from ddsp_kernels import PARAM_SPEC, eq_bands, eq_sos, iir
from ddsp_kernels.iir import BlockFilter
from ddsp_kernels.loudness import k_weighting_sos

PATHS = [pytest.param(True, id="compiled"), pytest.param(False, id="numpy")]


def sosfilt(sos, x, zi, compiled):
    return BlockFilter(sos, compiled=compiled).filter(x, zi)


def test_the_compiled_cascade_loads_without_scipy_signal():
    """Here (scipy installed) the compiled path is the one that runs, and loading it imports no ``scipy.signal``
    package init (whose imports cost 0.8 s here)."""
    assert iir.COMPILED is not None
    script = ("import sys, ddsp_kernels.iir as m; assert m.COMPILED is not None; "
              "print(sorted(k for k in sys.modules if k.startswith('scipy.signal')))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['scipy.signal._sosfilt']"


def test_the_load_check_rejects_a_wrong_cascade(monkeypatch):
    """A compiled module that does not compute the recurrence (e.g. a changed signature) is not used."""
    module = sys.modules["scipy.signal._sosfilt"]
    monkeypatch.setattr(module, "_sosfilt", lambda sos, x, zi: None)
    assert iir._load_compiled() is None
    monkeypatch.setattr(module, "_sosfilt", lambda sos, x, zi: x.__imul__(2.0))
    assert iir._load_compiled() is None

    def output_right_state_left(sos, x, zi):
        for row, state in zip(x, zi):
            row[:] = iir._recurrence(sos, row, state)[0]
    monkeypatch.setattr(module, "_sosfilt", output_right_state_left)
    assert iir._load_compiled() is None

# worst error relative to the output's peak over random EQs (the low shelf's poles come closest to z = 1 at high
# rates, where the block recurrence loses the most); float32 audio resolves 6e-8
TOLERANCE = {8000: 1e-8, 24000: 1e-8, 44100: 1e-7, 48000: 1e-7, 192000: 2e-5}


@pytest.mark.parametrize("compiled", PATHS)
@pytest.mark.parametrize("fs", sorted(TOLERANCE))
@pytest.mark.parametrize("n", [1, 5, 64, 65, 1000, 30011])
def test_equals_scipy_sosfilt_with_state(rng, fs, n, compiled):
    for p01 in rng.random((3, 24)):
        sos = eq_sos(fs, eq_bands(PARAM_SPEC.to_physical(p01)))
        x = rng.standard_normal((n, 2))
        zi = 0.1 * rng.standard_normal((6, 2, 2))
        expected, expected_zf = scipy_sosfilt(sos, x, axis=0, zi=zi)
        x0, zi0 = x.copy(), zi.copy()
        y, zf = sosfilt(sos, x, zi, compiled)
        np.testing.assert_array_equal(x, x0)  # inputs unchanged
        np.testing.assert_array_equal(zi, zi0)
        scale = max(np.max(np.abs(expected)), np.max(np.abs(expected_zf)))
        np.testing.assert_allclose(y, expected, atol=TOLERANCE[fs] * scale, rtol=0)
        np.testing.assert_allclose(zf, expected_zf, atol=TOLERANCE[fs] * scale, rtol=0)


@pytest.mark.parametrize("compiled", PATHS)
def test_blocks_with_carried_state_equal_one_pass(rng, compiled):
    sos = k_weighting_sos(48000)
    f = BlockFilter(sos, compiled=compiled)
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


@pytest.mark.parametrize("compiled", PATHS)
def test_fir_sections_and_an_impulse(compiled):
    """A section without poles (its state matrix is nilpotent) and the impulse response of a resonance."""
    fir = np.array([[0.5, 0.25, 0.125, 1.0, 0.0, 0.0]])
    x = np.zeros((200, 1))
    x[0] = 1.0
    y, _ = sosfilt(fir, x, np.zeros((1, 2, 1)), compiled)
    np.testing.assert_allclose(y[:4, 0], [0.5, 0.25, 0.125, 0.0], atol=1e-15)
    resonance = np.array([[1.0, 0.0, 0.0, 1.0, -1.8, 0.95]])
    y, _ = sosfilt(resonance, x, np.zeros((1, 2, 1)), compiled)
    expected, _ = scipy_sosfilt(resonance, x, axis=0, zi=np.zeros((1, 2, 1)))
    np.testing.assert_allclose(y, expected, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_both_paths_agree_and_keep_the_dtype(rng, dtype):
    """The two paths give the same output in the input's dtype, interleaved or one row per channel."""
    sos = eq_sos(44100, eq_bands(PARAM_SPEC.to_physical(rng.random(24))))
    x = rng.standard_normal((11025, 2)).astype(dtype)
    zi = 0.1 * rng.standard_normal((6, 2, 2))
    fast, slow = BlockFilter(sos), BlockFilter(sos, compiled=False)
    (y, zf), (y2, zf2) = fast.filter(x, zi), slow.filter(x, zi)
    assert y.dtype == y2.dtype == dtype and y.shape == x.shape and y.flags.c_contiguous
    scale = np.max(np.abs(y2))
    np.testing.assert_allclose(y, y2, atol=(2e-7 if dtype == np.float32 else 1e-7) * scale, rtol=0)
    np.testing.assert_allclose(zf, zf2, atol=1e-7 * scale, rtol=0)
    rows, _ = fast.filter_channels(x, zi)
    np.testing.assert_array_equal(rows.T.astype(dtype), y)
