"""What the LiteRT interpreter makes of a converted analyser (ai-edge-litert only, no TensorFlow), used by the
export's verification and by ``aebox-edge bench``:

- ops: builtin op names of the flatbuffer's main graph, before any delegate;
- delegation: ``CompiledModel.is_fully_accelerated()`` on the CPU accelerator (whose backend is XNNPACK), plus the
  number of XNNPACK partitions the classic ``Interpreter`` creates with its default delegate (1 when the whole graph
  is one delegated subgraph) and the ops that no partition covers;
- invoke time of the ``Interpreter`` (default XNNPACK delegate): median over a few runs.
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np

from ..io.native import native_stderr
from .analyser import SIGNATURE_KEY


def _interpreter(path, num_threads=1, delegates=True):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if delegates else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interpreter = Interpreter(model_path=str(path), num_threads=num_threads, experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
    return interpreter


def ops(path) -> list[str]:
    """Builtin op names of the model's main graph in execution order, before any delegate."""
    return [op["op_name"] for op in _interpreter(path, delegates=False)._get_ops_details()]


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
    with native_stderr():  # LiteRT logs ~25 INFO/WARNING lines (NPU and GPU plugin probing) per model
        fully = CompiledModel.from_file(str(path), hardware_accel=HardwareAccelerator.CPU).is_fully_accelerated()
    return {
        "fully_delegated": fully,
        "method": "ai_edge_litert CompiledModel.is_fully_accelerated() on the CPU accelerator (XNNPACK)",
        "xnnpack_partitions": sum(n["op_name"] == "DELEGATE" for n in interpreter._get_ops_details()),
        "not_delegated": _undelegated_ops(interpreter),
        "ops": dict(sorted(Counter(ops(path)).items())),
    }


def invoke_time_ms(path, arrays, input_names, runs=20, warmup=3, num_threads=1) -> dict[str, float]:
    """Median, min and max of ``Interpreter.invoke()`` (default XNNPACK delegate, ``num_threads``) in ms, with the
    batch-1 input ``arrays`` set in the order of ``input_names``."""
    interpreter = _interpreter(path, num_threads)
    details = interpreter.get_signature_runner(SIGNATURE_KEY).get_input_details()
    for name, value in zip(input_names, arrays):
        interpreter.set_tensor(details[name]["index"], value)
    times = []
    for i in range(warmup + runs):
        start = time.perf_counter()
        interpreter.invoke()
        if i >= warmup:
            times.append(1000.0 * (time.perf_counter() - start))
    return {"median": float(np.median(times)), "min": float(np.min(times)), "max": float(np.max(times)),
            "runs": runs, "threads": num_threads}
