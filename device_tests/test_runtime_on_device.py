"""Device checks of the runtime with only the runtime installed (no TensorFlow): golden parameters of the shipped
model, stage benchmarks of one analysis window, the acceptance check (end-to-end p95 <= 90 ms) and a simulated live
run at the default block size without a missed deadline.

The model is the shipped one (``aebox_edge.runtime.analyser.default_model_path``; ``AEBOX_EDGE_MODEL=PATH`` selects
another); without one every test here is skipped with the reason. Tests marked ``timing`` assert on wall-clock time and
are skipped under CPU emulation (see conftest.py).
"""

import aebox_edge  # noqa: F401 - pins BLAS to one thread before numpy loads (an unpinned OpenBLAS is ~10x slower)

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from aebox_edge.defaults import BENCH_TARGET_MS as TARGET_MS
from aebox_edge.defaults import BLOCKSIZE
from aebox_edge.runtime.bench import STAGES, bench_clips, end_to_end, measure
from aebox_edge.errors import InputError
from aebox_edge.runtime.live import simulate
from aebox_edge.runtime.analyser import default_model_path
from aebox_edge.runtime.enhancer import Enhancer
from ddsp_kernels import PARAM_SPEC, compressor, compressor_args, eq_bands, parametric_eq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import golden  # noqa: E402


@pytest.fixture(scope="module")
def model_path():
    try:
        return default_model_path()
    except InputError as exc:
        pytest.skip(f"no shipped model yet ({exc}); set AEBOX_EDGE_MODEL=PATH.tflite to test another")


@pytest.fixture(scope="module")
def enhancer(model_path):
    return Enhancer(model_path)


@pytest.fixture(scope="module")
def clips():
    return bench_clips(0)


def test_runtime_path_imports_no_tensorflow(model_path):
    script = f"""
import sys
from aebox_edge.runtime import bench, cli, enhance, live
from aebox_edge.runtime import Enhancer
import numpy as np
e = Enhancer({model_path!r})
e.predict_params(np.zeros(60000, np.float32), np.zeros(60000, np.float32))
print("HEAVY", sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")), e.backend.name)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout


def test_golden_parameters(enhancer, model_path):
    data = golden.load_golden(model_path)
    if data is None:
        pytest.skip(f"no {golden.golden_path(model_path)}; write it with: python device_tests/golden.py {model_path}")
    assert str(data["sha256"]) == enhancer.metadata["sha256"], "the golden file belongs to another model"
    tolerance = float(data["tolerance"])
    for k, (pair, expected) in enumerate(zip(data["audio"], data["params"])):
        got = golden.predict(enhancer, pair)
        worst = int(np.argmax(np.abs(got - expected)))
        assert np.abs(got - expected).max() <= tolerance, (
            f"clip {k}: {PARAM_SPEC.names[worst]} differs by {abs(got[worst] - expected[worst]):.4f} normalized "
            f"(tolerance {tolerance})")


@pytest.mark.parametrize("stage", STAGES)
def test_bench_runtime_stage(benchmark, enhancer, clips, stage):
    x, reference = clips
    rate = enhancer.analysis_rate
    inputs = enhancer.prepare(x, reference, rate)
    params = PARAM_SPEC.to_physical(enhancer.predict(*inputs))
    run = {
        "features": lambda: enhancer.prepare(x, reference, rate),
        "invoke": lambda: enhancer.predict(*inputs),
        "EQ": lambda: parametric_eq(x, rate, eq_bands(params)),
        "compressor": lambda: compressor(x, rate, **compressor_args(params)),
        "end-to-end": lambda: end_to_end(enhancer, x, reference),
    }[stage]
    benchmark(run)


@pytest.mark.timing
def test_end_to_end_p95_within_target(enhancer, clips):
    result = measure(enhancer, *clips, num_runs=100, warmup_runs=5)
    p95 = result["stages"]["end-to-end"]["p95"]
    assert p95 <= TARGET_MS, f"end-to-end p95 {p95:.1f} ms > {TARGET_MS} ms ({result['stages']})"


@pytest.mark.timing
def test_simulated_live_run_meets_every_deadline(enhancer, tmp_path):
    from aebox_edge.data.music import synthesize

    rate = 48000
    for name, seed in (("in", 0), ("ref", 1)):
        music, _ = synthesize(np.random.default_rng(seed), duration_s=5.0, sample_rate=rate)
        music = 0.5 * np.asarray(music, np.float32) / max(1e-9, float(np.max(np.abs(music))))
        sf.write(str(tmp_path / f"{name}.wav"), np.stack([music, np.roll(music, 11)], axis=1), rate)
    stats = simulate(enhancer, str(tmp_path / "ref.wav"), str(tmp_path / "in.wav"), str(tmp_path / "out.wav"),
                     blocksize=BLOCKSIZE, realtime=True)
    assert stats["analyses"] >= 1
    assert stats["missed_deadlines"] == 0, (
        f"{stats['missed_deadlines']} of {stats['blocks']} blocks missed their deadline ({stats['latency_s']} s "
        f"after arrival); callback max {stats['callback_ms_max']} ms, analysis max {stats['analysis_ms_max']} ms")
