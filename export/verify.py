"""Measurements of a converted analyser, with the LiteRT runtime only (no TensorFlow): its parameters (predicted by the
runtime's ``Enhancer`` in ``convert``) against the float Keras model's, its ops, delegation and speed.

- Parameter error in physical units, per parameter over held-out clips (mean, p95, max): dB for gains, threshold,
  knee and makeup; cents (1200 log2 of the ratio) for frequencies; percent of the float value for Q, ratio and times.
- Rendered-audio distance: MSD (``aebox_edge.metrics.mel_spectral_distance``) between the dirty input processed by
  ``ddsp_kernels.apply_chain`` with the float parameters and with the converted model's parameters.
- Ops (from the flatbuffer, before any delegate) and delegation: ``CompiledModel.is_fully_accelerated()`` of
  ai-edge-litert on the CPU accelerator (whose backend is XNNPACK), plus the number of XNNPACK partitions the
  classic ``Interpreter`` creates with its default delegate (1 when the whole graph is one delegated subgraph) and
  the ops that no partition covers.
- Invoke time of the ``Interpreter`` (1 thread, default XNNPACK delegate): median over a few runs.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections import Counter

import numpy as np

from aebox_edge.runtime import SIGNATURE_KEY
from ddsp_kernels import PARAM_SPEC, apply_chain

# Default limits on the p95 error of every parameter over the verification clips, per error unit.
DEFAULT_MAX_PARAM_ERROR = {"dB": 1.0, "cents": 50.0, "%": 10.0}


def error_unit(param) -> str:
    """The unit in which a parameter's error is measured: ``dB``, ``cents`` (frequencies) or ``%`` (the rest)."""
    if param.unit == "dB":
        return "dB"
    if param.unit == "Hz":
        return "cents"
    return "%"


def parse_max_param_error(text: str | None) -> dict[str, float]:
    """``"dB=1.5,cents=30,%=5"`` -> limits per error unit; units not named keep their default."""
    limits = dict(DEFAULT_MAX_PARAM_ERROR)
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        unit, sep, value = item.partition("=")
        unit = unit.strip()
        if unit.lower() == "db":
            unit = "dB"
        if not sep or unit not in limits:
            raise ValueError(f"bad limit {item!r}: expected UNIT=VALUE with UNIT one of {', '.join(limits)}")
        try:
            limits[unit] = float(value)
        except ValueError:
            raise ValueError(f"bad limit {item!r}: {value!r} is not a number") from None
        if not limits[unit] > 0:
            raise ValueError(f"bad limit {item!r}: must be > 0")
    return limits


def param_errors(p_float, p_test) -> dict[str, dict]:
    """Per parameter: ``unit``, ``mean``, ``p95`` and ``max`` of the error of ``p_test`` against ``p_float``
    (both normalized, shaped (n, 24)), in the parameter's error unit."""
    ref, test = PARAM_SPEC.to_physical(p_float), PARAM_SPEC.to_physical(p_test)
    out = {}
    for param in PARAM_SPEC.params:
        a, b = ref[param.name], test[param.name]
        unit = error_unit(param)
        if unit == "dB":
            err = np.abs(b - a)
        elif unit == "cents":
            err = 1200.0 * np.abs(np.log2(b / a))
        else:
            err = 100.0 * np.abs(b - a) / a
        out[param.name] = {"unit": unit, "mean": float(np.mean(err)), "p95": float(np.percentile(err, 95)),
                           "max": float(np.max(err))}
    return out


def over_limit(errors: dict[str, dict], limits: dict[str, float]) -> list[str]:
    """Names of the parameters whose p95 error exceeds its unit's limit."""
    return [name for name, e in errors.items() if not e["p95"] <= limits[e["unit"]]]


def rendered_msd(audio, p_float, p_test, sample_rate: int) -> dict[str, float]:
    """MSD between each clip of ``audio`` (n, samples) rendered with ``p_float`` and with ``p_test`` (n, 24)."""
    ref, test = PARAM_SPEC.to_physical(p_float), PARAM_SPEC.to_physical(p_test)
    from aebox_edge.metrics import mel_spectral_distance

    msd = []
    for i, x in enumerate(audio):
        y_ref = apply_chain(x, sample_rate, {k: v[i] for k, v in ref.items()})
        y_test = apply_chain(x, sample_rate, {k: v[i] for k, v in test.items()})
        msd.append(mel_spectral_distance(y_test, y_ref, sample_rate))
    return {"mean": float(np.mean(msd)), "p95": float(np.percentile(msd, 95)), "max": float(np.max(msd))}


def _interpreter(path, num_threads=1, delegates=True):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if delegates else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interpreter = Interpreter(model_path=str(path), num_threads=num_threads, experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
    return interpreter


def ops(path) -> list[str]:
    """Builtin op names of the model's main graph in execution order, before any delegate."""
    return [op["op_name"] for op in _interpreter(path, delegates=False)._get_ops_details()]


@contextlib.contextmanager
def _native_stderr_silenced():
    """Point file descriptor 2 at /dev/null for the duration (native libraries write there directly)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _undelegated_ops(interpreter) -> list[str]:
    """Ops that no XNNPACK partition covers. The Interpreter appends one DELEGATE node per partition after the
    original nodes; a partition covers every node reached walking back from its outputs to its inputs."""
    nodes = interpreter._get_ops_details()
    first_delegate = next((i for i, n in enumerate(nodes) if n["op_name"] == "DELEGATE"), len(nodes))
    producer = {int(t): n["index"] for n in nodes[:first_delegate] for t in n["outputs"]}
    covered = set()
    for partition in nodes[first_delegate:]:
        boundary = {int(t) for t in partition["inputs"]}
        stack = [int(t) for t in partition["outputs"]]
        while stack:
            tensor = stack.pop()
            node = producer.get(tensor)
            if tensor in boundary or node is None or node in covered:
                continue
            covered.add(node)
            stack.extend(int(t) for t in nodes[node]["inputs"] if t >= 0)
    return [n["op_name"] for n in nodes[:first_delegate] if n["index"] not in covered]


def delegation(path) -> dict:
    """Whether the model runs entirely on XNNPACK: ``fully_delegated`` (``CompiledModel.is_fully_accelerated()``
    with the CPU accelerator), ``xnnpack_partitions`` and ``not_delegated`` (ops left to the reference kernels) from
    the classic Interpreter with its default XNNPACK delegate, and ``ops`` (counts before delegation)."""
    from ai_edge_litert.compiled_model import CompiledModel, HardwareAccelerator

    interpreter = _interpreter(path)
    with _native_stderr_silenced():  # LiteRT logs ~25 INFO/WARNING lines (NPU and GPU plugin probing) per model
        fully = CompiledModel.from_file(str(path), hardware_accel=HardwareAccelerator.CPU).is_fully_accelerated()
    return {
        "fully_delegated": fully,
        "method": "ai_edge_litert CompiledModel.is_fully_accelerated() on the CPU accelerator (XNNPACK)",
        "xnnpack_partitions": sum(n["op_name"] == "DELEGATE" for n in interpreter._get_ops_details()),
        "not_delegated": _undelegated_ops(interpreter),
        "ops": dict(sorted(Counter(ops(path)).items())),
    }


def invoke_time_ms(path, inputs, references, input_names, runs=20, warmup=3, num_threads=1) -> dict[str, float]:
    """Median, min and max of ``Interpreter.invoke()`` (default XNNPACK delegate, ``num_threads``) in ms, on the
    first clip's features."""
    interpreter = _interpreter(path, num_threads)
    details = interpreter.get_signature_runner(SIGNATURE_KEY).get_input_details()
    for name, value in zip(input_names, (inputs[:1], references[:1])):
        interpreter.set_tensor(details[name]["index"], value)
    times = []
    for i in range(warmup + runs):
        start = time.perf_counter()
        interpreter.invoke()
        if i >= warmup:
            times.append(1000.0 * (time.perf_counter() - start))
    return {"median": float(np.median(times)), "min": float(np.min(times)), "max": float(np.max(times)),
            "runs": runs, "threads": num_threads}
