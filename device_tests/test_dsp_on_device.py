"""Device checks of the DSP kernels with only the runtime installed: the chain is finite, streaming equals
offline, and stage benchmarks on one 2.5 s analysis window (they measure; they never fail on time)."""

import numpy as np
import pytest

from ddsp_kernels import PARAM_SPEC, StreamingChain, apply_chain, compressor, compressor_args, eq_bands, parametric_eq

FS = 24000


@pytest.fixture(scope="module")
def window():
    rng = np.random.default_rng(0)
    return (0.3 * rng.standard_normal(60000)).astype(np.float32)


@pytest.fixture(scope="module")
def params():
    return PARAM_SPEC.to_physical(np.random.default_rng(1).random(24))


def test_runtime_imports_no_tensorflow():
    import sys

    import aebox_edge.cli  # noqa: F401

    assert "tensorflow" not in sys.modules


def test_streaming_equals_offline_on_device(window, params):
    chain = StreamingChain(FS, params)
    streamed = np.concatenate([chain.process(window[i:i + 256]) for i in range(0, len(window), 256)])
    offline = apply_chain(window, FS, params)
    assert np.all(np.isfinite(offline))
    np.testing.assert_allclose(streamed, offline, atol=1e-5)


@pytest.mark.parametrize("stage", ["eq", "compressor", "chain"])
def test_bench_stage(benchmark, stage, window, params):
    run = {"eq": lambda: parametric_eq(window, FS, eq_bands(params)),
           "compressor": lambda: compressor(window, FS, **compressor_args(params)),
           "chain": lambda: apply_chain(window, FS, params)}[stage]
    assert np.all(np.isfinite(benchmark(run)))
