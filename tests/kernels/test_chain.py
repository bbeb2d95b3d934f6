import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ddsp_kernels import (PARAM_SPEC, StreamingChain, apply_chain, compressor, compressor_args, eq_bands, eq_sos,
                          parametric_eq)

RATES = [8000, 24000, 44100, 48000, 192000]


def square(n, fs, f=440.0):
    return np.sign(np.sin(2 * np.pi * f * np.arange(n) / fs) + 1e-12)


def special_inputs(n, fs):
    impulse = np.zeros(n)
    impulse[0] = 1.0
    return {"silence": np.zeros(n), "impulse": impulse, "square": square(n, fs), "one_sample": np.ones(1)}


@settings(max_examples=60, deadline=None)
@given(p01=arrays(np.float64, 24, elements=st.floats(0.0, 1.0)), fs=st.sampled_from(RATES),
       kind=st.sampled_from(["silence", "impulse", "square", "one_sample"]),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_finite_outputs_and_stable_poles(p01, fs, kind, dtype):
    params = PARAM_SPEC.to_physical(p01)
    sos = eq_sos(fs, eq_bands(params))
    poles = np.concatenate([np.roots(s[3:]) for s in sos])
    assert np.all(np.abs(poles) < 1.0)
    x = special_inputs(2048, fs)[kind].astype(dtype)
    for y in (parametric_eq(x, fs, eq_bands(params)), compressor(x, fs, **compressor_args(params)),
              apply_chain(x, fs, params)):
        assert y.dtype == dtype and y.shape == x.shape
        assert np.all(np.isfinite(y))


def test_chain_mapping_is_the_kernels_with_their_own_arguments(rng):
    params = PARAM_SPEC.to_physical(rng.random(24))
    x = rng.standard_normal((6000, 2)) * 0.3
    expected = compressor(parametric_eq(x, 44100, eq_bands(params)), 44100, **compressor_args(params))
    np.testing.assert_array_equal(apply_chain(x, 44100, params), expected)


def test_float32_and_float64_agree(rng):
    params = PARAM_SPEC.to_physical(rng.random(24))
    x = rng.standard_normal((6000, 2)) * 0.3
    y64 = apply_chain(x, 44100, params)
    y32 = apply_chain(x.astype(np.float32), 44100, params)
    assert y32.dtype == np.float32 and y64.dtype == np.float64
    np.testing.assert_allclose(y32, y64, atol=1e-4 * np.max(np.abs(y64)))


@pytest.mark.parametrize("channels", [1, 2])
def test_streaming_equals_offline(channels, rng):
    fs = 24000
    x = (rng.standard_normal((3 * fs, channels)) * 0.3).astype(np.float32)
    for p01 in rng.random((4, 24)):
        params = PARAM_SPEC.to_physical(p01)
        offline = apply_chain(x, fs, params)
        chain = StreamingChain(fs, params, channels=channels)
        out, pos = [], 0
        while pos < len(x):
            size = int(rng.integers(1, 4097))
            out.append(chain.process(x[pos:pos + size]))
            pos += size
        np.testing.assert_allclose(np.concatenate(out), offline, atol=1e-5, rtol=0)


def hf_energy(y, fs, start, length, cutoff=8000.0):
    seg = y[start:start + length] * np.hanning(length)
    spec = np.abs(np.fft.rfft(seg)) ** 2
    return spec[np.fft.rfftfreq(length, 1 / fs) > cutoff].sum()


def click_db(p_from, p_to, floor_db, *, floor_of_window=False, on_jump=None):
    """A 440 Hz sine at 24 kHz through the chain with every parameter jumping from ``p_from`` to ``p_to`` at 1 s:
    the energy above 8 kHz in a window around the jump over the steady state's (the louder of before and after),
    in dB, both floored at ``floor_db`` of the whole output's energy (of the window after the jump with
    ``floor_of_window``). ``on_jump(chain)`` is called right after the change."""
    fs, block = 24000, 256
    x = (0.5 * np.sin(2 * np.pi * 440 * np.arange(3 * fs) / fs)).astype(np.float32)
    chain = StreamingChain(fs, PARAM_SPEC.to_physical(np.full(24, p_from)))
    jump = fs // block * block
    out = []
    for pos in range(0, len(x), block):
        if pos == jump:
            chain.set_params(PARAM_SPEC.to_physical(np.full(24, p_to)))
            if on_jump is not None:
                on_jump(chain)
        out.append(chain.process(x[pos:pos + block]))
    y = np.concatenate(out).astype(np.float64)
    win = 2048
    floor = 10 ** (floor_db / 10) * np.sum((y[jump:jump + win] if floor_of_window else y) ** 2)
    around = max(hf_energy(y, fs, jump - win // 4, win), hf_energy(y, fs, jump, win), floor)
    steady = max(hf_energy(y, fs, jump - fs // 2, win), hf_energy(y, fs, jump + fs, win), floor)
    return 10 * np.log10(around / steady)


@pytest.mark.parametrize("p_from,p_to", [(0.2, 0.8), (0.8, 0.2), (0.0, 1.0), (1.0, 0.0), (0.3, 0.9)])
def test_no_click_on_parameter_jump(p_from, p_to):
    """Every parameter jumps at 1 s: the energy above 8 kHz around the jump stays within 3 dB of the steady-state
    output's, above a -140 dB floor."""
    assert click_db(p_from, p_to, -140.0) <= 3.0


def test_hard_switch_would_click():
    """The same measurement detects the click of switching parameters without the cross-fade."""
    fs, block = 24000, 256
    x = (0.5 * np.sin(2 * np.pi * 440 * np.arange(3 * fs) / fs)).astype(np.float32)
    chain = StreamingChain(fs, PARAM_SPEC.to_physical(np.full(24, 0.2)), ramp_ms=1e-3)
    jump = fs // block * block
    out = []
    for pos in range(0, len(x), block):
        if pos == jump:
            chain.set_params(PARAM_SPEC.to_physical(np.full(24, 0.8)))
        out.append(chain.process(x[pos:pos + block]))
    y = np.concatenate(out).astype(np.float64)
    floor = 1e-14 * np.sum(y**2)
    around = max(hf_energy(y, fs, jump - 512, 2048), floor)
    steady = max(hf_energy(y, fs, jump - fs // 2, 2048), hf_energy(y, fs, jump + fs, 2048), floor)
    assert 10 * np.log10(around / steady) > 3.0


def test_change_during_fade_starts_after_it(rng):
    fs = 24000
    a, b, c = (PARAM_SPEC.to_physical(rng.random(24)) for _ in range(3))
    chain = StreamingChain(fs, a, ramp_ms=10.0)
    chain.set_params(b)
    chain.process(np.zeros(10, dtype=np.float32))
    chain.set_params(c)
    assert chain.params == {k: float(v) for k, v in c.items()}
    chain.process(np.zeros(fs, dtype=np.float32))  # the first fade ends inside this block
    chain.process(np.zeros(fs, dtype=np.float32))  # the pending change fades in here
    x = (rng.standard_normal(fs) * 0.3).astype(np.float32)
    fresh = StreamingChain(fs, c)
    fresh.process(np.zeros(fs, dtype=np.float32))
    np.testing.assert_allclose(chain.process(x), fresh.process(x), atol=1e-5)


def _render_steps(direct_step, step, seconds=4.0, fs=44100, block=11025):
    """A 2-channel bass + noise signal through a chain whose 24 parameters all move by ``step`` (normalized, random
    signs) every ``block`` frames; returns the output and the frames of the updates."""
    rng = np.random.default_rng(0)
    n = int(seconds * fs)
    t = np.arange(n) / fs
    x = (0.2 * np.sin(2 * np.pi * 110 * t)[:, None] + 0.1 * rng.standard_normal((n, 2))).astype(np.float32)
    p = np.full(24, 0.5)
    chain = StreamingChain(fs, PARAM_SPEC.to_physical(p), channels=2, direct_step=direct_step)
    out = []
    for pos in range(0, n, block):
        if pos:
            p = np.clip(p + step * rng.choice([-1.0, 1.0], 24), 0.0, 1.0)
            chain.set_params(PARAM_SPEC.to_physical(p))
            # a small change starts from the old state (no warm-up); a warmed-up one from its own
            assert np.array_equal(chain._voice.zi, chain._fading.zi) == (direct_step > 0)
        out.append(chain.process(x[pos:pos + block]))
    return np.concatenate(out).astype(np.float64), list(range(block, n, block))


def test_small_steps_without_warm_up_equal_warmed_up_ones():
    """Small steps (up to DIRECT_STEP) cross-faded from the old state against the warm-up + cross-fade of each:
    from 50 ms after an update the outputs are equal (below -100 dB of the peak); during those 50 ms they differ by
    less than the step itself does (below -40 dB of the peak at DIRECT_STEP: a 0.48 dB gain step changes the
    signal by 0.055, -25 dB)."""
    from ddsp_kernels.chain import DIRECT_STEP

    fs = 44100
    direct, updates = _render_steps(DIRECT_STEP, 0.99 * DIRECT_STEP, fs=fs)
    faded, _ = _render_steps(0.0, 0.99 * DIRECT_STEP, fs=fs)
    settled = np.ones(len(direct), bool)
    for u in updates:
        settled[u:u + int(0.05 * fs)] = False
    peak = np.max(np.abs(faded))
    error = np.abs(direct - faded)
    assert 20 * np.log10(np.max(error[settled]) / peak) < -100.0
    assert 20 * np.log10(np.max(error) / peak) < -40.0


@pytest.mark.parametrize("p_from", [0.2, 0.5, 0.8])
def test_no_click_on_a_small_step(p_from):
    """The click measurement on a step of DIRECT_STEP (no warm-up: the new voice starts from the old state), with
    the floor at -90 dB of the window's energy (a pure sine has next to no energy above 8 kHz to compare with; what
    the cross-fade from the old state leaves there is at -94 dB)."""
    from ddsp_kernels.chain import DIRECT_STEP

    def same_state(chain):
        assert np.array_equal(chain._voice.zi, chain._fading.zi)

    assert click_db(p_from, p_from + 0.99 * DIRECT_STEP, -90.0, floor_of_window=True, on_jump=same_state) <= 3.0
