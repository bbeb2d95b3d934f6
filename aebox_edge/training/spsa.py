"""SPSA gradients through the runtime's own DSP (``ddsp_kernels``), in numpy.

Simultaneous perturbation stochastic approximation (Spall 1992) as a vector-Jacobian product, as Martinez Ramirez
et al. (2021) use it for black-box audio effects: for one item with parameters ``p``, upstream gradient ``dy`` and a
Rademacher vector ``delta``,

    g_i = dy . (f(p+) - f(p-)) / (p+_i - p-_i),   p+- = clip(p +- eps delta, 0, 1),

which is Spall's two-render estimate ``dy . (f(p + eps delta) - f(p - eps delta)) / (2 eps delta_i)`` wherever no
clipping happens (and, at the range ends, divides by the step actually taken, which keeps it unbiased for a linear
``f``). Renders of a batch run in parallel threads (scipy's filters and numpy release the GIL).
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ddsp_kernels import PARAM_SPEC, apply_chain


@functools.lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="aebox-render")


def render_batch(audio, p01, sample_rate: float) -> np.ndarray:
    """``ddsp_kernels.apply_chain`` per item: ``audio`` (batch, samples), ``p01`` (batch, 24) normalized;
    returns float32 (batch, samples). Items run in parallel threads."""
    audio = np.asarray(audio, dtype=np.float32)
    physical = PARAM_SPEC.to_physical(p01)
    items = [{name: float(v[b]) for name, v in physical.items()} for b in range(len(audio))]
    rendered = _pool().map(lambda b: apply_chain(audio[b], sample_rate, items[b]), range(len(audio)))
    return np.stack(list(rendered)).astype(np.float32, copy=False)


def spsa_vjp(audio, p01, dy, sample_rate: float, epsilon: float, rng: np.random.Generator) -> np.ndarray:
    """SPSA estimate of ``dy^T (d chain / d p01)`` per item: one Rademacher vector and two renders each;
    returns float32 (batch, 24)."""
    if not 0.0 < epsilon <= 0.5:
        raise ValueError(f"SPSA epsilon must be in (0, 0.5], got {epsilon}")
    p01 = np.asarray(p01, dtype=np.float64)
    delta = rng.choice(np.array([-1.0, 1.0]), size=p01.shape)
    plus = np.clip(p01 + epsilon * delta, 0.0, 1.0)
    minus = np.clip(p01 - epsilon * delta, 0.0, 1.0)
    audio = np.asarray(audio, dtype=np.float32)
    rendered = render_batch(np.concatenate([audio, audio]), np.concatenate([plus, minus]), sample_rate)
    n = len(audio)
    projection = np.sum(np.asarray(dy, dtype=np.float64) * (rendered[:n].astype(np.float64) - rendered[n:]), axis=1)
    return (projection[:, None] / (plus - minus)).astype(np.float32)
