"""ddsp_kernels.iir: the three paths of the cascade of second-order sections (the pipelined one of the optional
extension, for float32 audio; scipy's compiled one, loaded without ``scipy.signal``'s package init; the numpy block
recurrence) against scipy.signal.sosfilt."""

import platform
import subprocess
import sys

import numpy as np
import pytest
from scipy.signal import sosfilt as scipy_sosfilt

from ddsp_kernels import PARAM_SPEC, eq_bands, eq_sos, iir
from ddsp_kernels.iir import BlockFilter
from ddsp_kernels.loudness import k_weighting_sos

PATHS = ["pipelined", "scipy", "numpy"]
# float32 output rounding (half an ulp, 6e-8 of the value; twice that where the compiler fuses multiply-adds)
FLOAT32 = 1.2e-7


@pytest.fixture(params=PATHS)
def path(request, monkeypatch):
    """Each path in turn: the pipelined one (float32 audio), scipy's compiled one, the numpy one."""
    if request.param == "pipelined" and iir.PIPELINED is None:
        pytest.skip("the optional extension is not built here (no C compiler or Python headers at install)")
    if request.param != "pipelined":
        monkeypatch.setattr(iir, "PIPELINED", None)
    return request.param


def block_filter(sos, path):
    return BlockFilter(sos, compiled=path != "numpy")


def audio(x, path):
    """``x`` as the path takes it: float32 for the pipelined path."""
    return x.astype(np.float32) if path == "pipelined" else x


def sosfilt(sos, x, zi, path):
    f = block_filter(sos, path)
    assert f._pipelined(x) == (path == "pipelined")
    return f.filter(x, zi)


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


@pytest.mark.parametrize("fs", sorted(TOLERANCE))
@pytest.mark.parametrize("n", [1, 5, 64, 65, 1000, 30011])
@pytest.mark.parametrize("channels", [2, 3])
def test_equals_scipy_sosfilt_with_state(rng, fs, n, channels, path):
    """Six sections (the EQ) on stereo and on three channels (a pair and a single one on the pipelined path)."""
    for p01 in rng.random((3, 24)):
        sos = eq_sos(fs, eq_bands(PARAM_SPEC.to_physical(p01)))
        x = audio(rng.standard_normal((n, channels)), path)
        zi = 0.1 * rng.standard_normal((6, 2, channels))
        expected, expected_zf = scipy_sosfilt(sos, x.astype(np.float64), axis=0, zi=zi)
        x0, zi0 = x.copy(), zi.copy()
        y, zf = sosfilt(sos, x, zi, path)
        np.testing.assert_array_equal(x, x0)  # inputs unchanged
        np.testing.assert_array_equal(zi, zi0)
        assert y.dtype == x.dtype and zf.dtype == np.float64
        scale = max(np.max(np.abs(expected)), np.max(np.abs(expected_zf)))
        tolerance = FLOAT32 if path == "pipelined" else TOLERANCE[fs]
        np.testing.assert_allclose(y, expected, atol=tolerance * scale, rtol=0)
        np.testing.assert_allclose(zf, expected_zf, atol=(1e-12 if path == "pipelined" else TOLERANCE[fs]) * scale,
                                   rtol=0)


@pytest.mark.parametrize("sections", [1, 2, 3, 4, 5, 6, 7])
def test_every_section_count(rng, sections, path):
    """The pipelined path has one kernel per section count up to six; seven go to scipy's cascade."""
    sos = eq_sos(48000, eq_bands(PARAM_SPEC.to_physical(rng.random(24))))
    sos = np.concatenate([sos, sos])[:sections]
    x = audio(rng.standard_normal((4000, 2)), path)
    zi = 0.1 * rng.standard_normal((sections, 2, 2))
    f = block_filter(sos, path)
    assert f._pipelined(x) == (path == "pipelined" and sections <= iir.PIPELINED_SECTIONS)
    y, zf = f.filter(x, zi)
    expected, expected_zf = scipy_sosfilt(sos, x.astype(np.float64), axis=0, zi=zi)
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(y, expected, atol=(FLOAT32 if x.dtype == np.float32 else 1e-7) * scale, rtol=0)
    np.testing.assert_allclose(zf, expected_zf, atol=1e-7 * scale, rtol=0)


def test_the_pipelined_cascade_refuses_bad_buffers():
    if iir.PIPELINED is None:
        pytest.skip("the optional extension is not built here")
    sos, x = k_weighting_sos(48000), np.zeros((16, 2), np.float32)
    y, zi = np.empty_like(x), np.zeros((2, 2, 2))
    iir.PIPELINED(sos, x, y, zi)
    for bad in ((sos, x.astype(np.float64), y, zi), (sos, x, y[:8], zi), (sos, x, y, zi[:1]),
                (sos, x, y, np.zeros((2, 2, 1))), (sos[:, :5].copy(), x, y, zi), (sos.astype(np.float32), x, y, zi),
                (sos, x[::2], y[::2], zi), (np.concatenate([sos] * 4), x, y, np.zeros((8, 2, 2))),
                (sos, x.ravel(), y.ravel(), zi)):
        with pytest.raises(ValueError):
            iir.PIPELINED(*bad)
    with pytest.raises((BufferError, TypeError)):
        iir.PIPELINED(sos, x, b"read-only", zi)


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="the subnormal flush is x86's MXCSR")
def test_the_pipelined_cascade_flushes_subnormals_in_silence(rng):
    """A state decaying through digital silence reaches subnormal numbers (scipy's cascade ends 10 s of it with
    them), on which x86 computes some 100 times slower; the pipelined kernel flushes them to zero, and its output
    still equals scipy's to float32's resolution."""
    if iir.PIPELINED is None:
        pytest.skip("the optional extension is not built here")
    sos = k_weighting_sos(48000)
    x = np.zeros((480000, 2), np.float32)
    x[:100] = rng.standard_normal((100, 2))
    expected, expected_zf = scipy_sosfilt(sos, x.astype(np.float64), axis=0, zi=np.zeros((2, 2, 2)))
    tiny = np.finfo(np.float64).tiny
    assert np.any((expected_zf != 0) & (np.abs(expected_zf) < tiny))
    y, zf = BlockFilter(sos).filter(x, np.zeros((2, 2, 2)))
    assert not np.any((zf != 0) & (np.abs(zf) < tiny))
    np.testing.assert_allclose(y, expected, atol=FLOAT32 * np.max(np.abs(expected)), rtol=0)


def test_blocks_with_carried_state_equal_one_pass(rng, path):
    sos = k_weighting_sos(48000)
    f = block_filter(sos, path)
    x = audio(rng.standard_normal((20000, 1)), path)
    whole, zf = f.filter(x, np.zeros((2, 2, 1)))
    state, parts, pos = np.zeros((2, 2, 1)), [], 0
    while pos < len(x):
        size = int(rng.integers(1, 3000))
        y, state = f.filter(x[pos:pos + size], state)
        parts.append(y)
        pos += size
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-10)
    np.testing.assert_allclose(state, zf, atol=1e-10)


def test_fir_sections_and_an_impulse(path):
    """A section without poles (its state matrix is nilpotent) and the impulse response of a resonance."""
    fir = np.array([[0.5, 0.25, 0.125, 1.0, 0.0, 0.0]])
    x = np.zeros((200, 1))
    x[0] = 1.0
    x = audio(x, path)
    y, _ = sosfilt(fir, x, np.zeros((1, 2, 1)), path)
    np.testing.assert_allclose(y[:4, 0], [0.5, 0.25, 0.125, 0.0], atol=1e-15)
    resonance = np.array([[1.0, 0.0, 0.0, 1.0, -1.8, 0.95]])
    y, _ = sosfilt(resonance, x, np.zeros((1, 2, 1)), path)
    expected, _ = scipy_sosfilt(resonance, x.astype(np.float64), axis=0, zi=np.zeros((1, 2, 1)))
    np.testing.assert_allclose(y, expected, atol=1e-12 if path != "pipelined" else FLOAT32 * np.max(np.abs(expected)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_both_paths_agree_and_keep_the_dtype(rng, dtype):
    """The fastest path and the numpy one give the same output in the input's dtype, interleaved and C-ordered."""
    sos = eq_sos(44100, eq_bands(PARAM_SPEC.to_physical(rng.random(24))))
    x = rng.standard_normal((11025, 2)).astype(dtype)
    zi = 0.1 * rng.standard_normal((6, 2, 2))
    fast, slow = BlockFilter(sos), BlockFilter(sos, compiled=False)
    (y, zf), (y2, zf2) = fast.filter(x, zi), slow.filter(x, zi)
    assert y.dtype == y2.dtype == dtype and y.shape == x.shape and y.flags.c_contiguous
    scale = np.max(np.abs(y2))
    np.testing.assert_allclose(y, y2, atol=(2e-7 if dtype == np.float32 else 1e-7) * scale, rtol=0)
    np.testing.assert_allclose(zf, zf2, atol=1e-7 * scale, rtol=0)
