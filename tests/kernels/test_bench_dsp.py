"""DSP benchmarks on 60,000 samples (2.5 s at 24 kHz): EQ, compressor, chain, and pedalboard's EQ + compressor
chain on the same audio in the same run (group "chain"): ``apply_chain`` designs and builds its filters on every
call, the streaming chain (as ``run`` uses it) is built once, as pedalboard's board is; with the true-peak limiter
that ends the level stage on that audio (peaks below its ceiling: the usual case after the level gain) and on it
12 dB louder (limiting throughout: its worst case). They measure; they never fail on time. The process runs with
the allocator settings every ``aebox-edge`` command sets (``runtime.allocator``), as the chain runs in ``run``;
pedalboard's board runs in the same process."""

import numpy as np
import pytest

from aebox_edge.runtime.allocator import tune_allocator
from ddsp_kernels import PARAM_SPEC, StreamingChain, apply_chain, compressor, compressor_args, eq_bands, parametric_eq
from ddsp_kernels.limiter import CEILING_DBTP, true_peak_limit

FS = 24000


@pytest.fixture(scope="module", autouse=True)
def command_allocator():
    tune_allocator()


@pytest.fixture(scope="module")
def audio():
    rng = np.random.default_rng(0)
    t = np.arange(60000) / FS
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 2 * t)) + 0.05 * rng.standard_normal(60000)
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def params():
    p = {k: float(v) for k, v in PARAM_SPEC.to_physical(np.random.default_rng(1).random(24)).items()}
    p.update(comp_threshold_db=-24.0, comp_ratio=4.0, comp_attack_ms=5.0, comp_release_ms=100.0, comp_knee_db=0.0)
    return p


@pytest.mark.benchmark(group="kernels")
def test_bench_eq(benchmark, audio, params):
    assert np.all(np.isfinite(benchmark(parametric_eq, audio, FS, eq_bands(params))))


@pytest.mark.benchmark(group="kernels")
def test_bench_compressor(benchmark, audio, params):
    assert np.all(np.isfinite(benchmark(compressor, audio, FS, **compressor_args(params))))


@pytest.mark.benchmark(group="chain")
def test_bench_chain(benchmark, audio, params):
    assert np.all(np.isfinite(benchmark(apply_chain, audio, FS, params)))


@pytest.mark.benchmark(group="chain")
def test_bench_streaming_chain(benchmark, audio, params):
    chain = StreamingChain(FS, params)
    expected = apply_chain(audio, FS, params)
    np.testing.assert_allclose(chain.process(audio), expected, atol=1e-5 * np.abs(expected).max())
    assert np.all(np.isfinite(benchmark(chain.process, audio)))


@pytest.mark.benchmark(group="chain")
def test_bench_pedalboard_chain(benchmark, audio, params):
    pedalboard = pytest.importorskip("pedalboard")
    kinds = {"low_shelf": pedalboard.LowShelfFilter, "peak": pedalboard.PeakFilter,
             "high_shelf": pedalboard.HighShelfFilter}
    filters = [kinds[kind](freq_hz, gain_db, q) for kind, freq_hz, gain_db, q in eq_bands(params)]
    board = pedalboard.Pedalboard(filters + [pedalboard.Compressor(
        params["comp_threshold_db"], params["comp_ratio"], params["comp_attack_ms"], params["comp_release_ms"])])
    assert np.all(np.isfinite(benchmark(board, audio, FS)))


@pytest.mark.benchmark(group="chain")
def test_bench_limiter_below_ceiling(benchmark, audio):
    assert 20 * np.log10(np.abs(audio).max()) < CEILING_DBTP  # the limiter computes its true peaks, reduces nothing
    np.testing.assert_array_equal(benchmark(true_peak_limit, audio, FS), audio)


@pytest.mark.benchmark(group="chain")
def test_bench_limiter_limiting(benchmark, audio):
    loud = audio * np.float32(4.0)
    out = benchmark(true_peak_limit, loud, FS)
    assert np.abs(out).max() <= 10 ** (CEILING_DBTP / 20) + 1e-6 < np.abs(loud).max()
