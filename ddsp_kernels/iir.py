"""Cascades of second-order sections: ``BlockFilter(sos).filter(x, zi)`` computes what ``scipy.signal.sosfilt``
computes along axis 0 (same state layout, transposed direct form II), without importing ``scipy.signal``, whose
package init pulls in ``scipy.stats`` and ``scipy.interpolate`` (0.8 s here, seconds on a Pi).

Three paths compute it, the first that applies:

- :data:`PIPELINED`, float32 audio and at most ``PIPELINED_SECTIONS`` sections, where pip built the optional
  extension (``_compiled.c``'s ``cascade``): the sections pipelined over the samples so that one step's sections
  and channels run as one vector loop, in float64, the same operations as scipy's (the same result to the bit here,
  no fused multiply-adds); the output float32. On a 4-minute stereo song at 44.1 kHz the EQ's six sections took
  0.11 s against 0.36 s for scipy's cascade with its float64 copies, the K-weighting of both channels 0.06 s
  against 0.23 s.
- :data:`COMPILED`, scipy's compiled cascade where it loads (its extension module ``scipy.signal._sosfilt``,
  loaded from its file without that package init, 20 ms, and checked against the per-sample recurrence on a short
  signal): in float64, about twice as fast as the numpy path on 0.25 s blocks of stereo at 44.1 kHz (0.19 against
  0.35-0.40 ms for the K-weighting, 0.31 against 0.56-0.66 ms for the EQ's six sections) and with nothing to build
  per coefficient set. The module is scipy's private one: where it is missing, or its signature changed so that the
  check fails, the numpy path runs.
- The numpy path, a linear-algebra form without a per-sample loop, exact in exact arithmetic. In float64 it agrees
  with ``scipy.signal.sosfilt`` within 1e-8 of the output's peak at 24 kHz, 1e-7 at 44.1/48 kHz and 2e-5 at
  192 kHz, where the low shelf's poles come closest to z = 1 and the block recurrence loses more than the per-sample
  one (tests/kernels/test_iir.py); float32 audio resolves 6e-8.

The cascade is one linear state-space system ``z' = A z + B x``, ``y = C z + D x`` of order ``2 x sections``, its
state the sections' transposed-direct-form-II memories. The signal is cut into chunks of ``CHUNK`` samples; within a
chunk the output is the zero-state response (a lower-triangular Toeplitz matrix of the impulse response) plus the
zero-input response of the chunk's initial state (``C A^n``), and the chunk moves the state by ``z -> A^L z + sum_k
A^(L-1-k) B x[k]`` (block-state filtering: Burrus, "Block realization of digital filters", IEEE Trans. Audio
Electroacoust. 20(4), 1972). The initial states of all chunks follow from that linear recurrence in two levels: within
groups of ``GROUP`` chunks from a zero state by one matrix product (a block-Toeplitz matrix of the powers of ``A^L``),
across groups by a parallel prefix (Hillis & Steele 1986: log2(groups) products), then each group's start moved on to
its chunks. So the whole signal is a few matrix products, about ``CHUNK + 2 order + (GROUP + 1) order^2 / CHUNK``
multiply-adds per sample (108 for the EQ), in BLAS; for float32 audio the Toeplitz product runs in float32 (nothing
recurs in it), everything that moves the state in float64. Matrix entries that would be subnormal are flushed to zero
(x86 computes on subnormals some 100 times slower).
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import os
import sys

import numpy as np

CHUNK = 64
GROUP = 8
_TINY = 1e-150    # matrix entries below this (float64) or _TINY32 (float32 copies) are 0: they add < 1e-150 of a state
_TINY32 = 1e-30


def state_space(sos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """``(A, B, C, D)`` of a cascade of sections ``[b0, b1, b2, 1, a1, a2]`` (sections, 6), its state ordered as
    ``scipy.signal.sosfilt``'s ``zi`` (section by section, then the two memories).

    Section ``s`` gets ``u_s = g_s z + e_s x`` and gives ``y_s = b0 u_s + z1_s`` (the next section's input), so
    ``e_s = prod_{j<s} b0_j`` and ``g_s`` holds ``prod_{k<j<s} b0_j`` at the first memory of every earlier section
    ``k``; its memories move by ``z1' = b1 u - a1 y + z2`` and ``z2' = b2 u - a2 y``."""
    sos = np.asarray(sos, dtype=np.float64)
    sections = len(sos)
    order = 2 * sections
    b1, b2, a1, a2 = (sos[:, k][:, None] for k in (1, 2, 4, 5))
    gains = sos[:, 0].tolist()
    g_rows, e = [[0.0] * sections], [1.0]  # g_s at the first memories (its only non-zero entries), e_s
    for s in range(sections):
        g_rows.append([v * gains[s] for v in g_rows[-1][:s]] + [1.0] + [0.0] * (sections - s - 1))
        e.append(e[-1] * gains[s])
    g = np.zeros((sections + 1, order))  # row s: g_s; the last row is C
    g[:, 0::2] = g_rows
    e = np.array(e)                       # the last one is D
    a = np.empty((order, order))
    a[0::2] = b1 * g[:-1] - a1 * g[1:]
    a[1::2] = b2 * g[:-1] - a2 * g[1:]
    a[np.arange(0, order, 2), np.arange(1, order, 2)] += 1.0
    b = np.empty(order)
    b[0::2] = b1[:, 0] * e[:-1] - a1[:, 0] * e[1:]
    b[1::2] = b2[:, 0] * e[:-1] - a2[:, 0] * e[1:]
    return a, b, g[-1].copy(), float(e[-1])


def _recurrence(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cascade's transposed-direct-form-II recurrence, one sample at a time in Python, on 1-D ``x`` from ``zi``
    (sections, 2): the output and the final state; for checking the compiled cascade on a few samples."""
    z, y = np.array(zi, dtype=np.float64), np.array(x, dtype=np.float64)
    for n in range(len(y)):
        for s, (b0, b1, b2, _, a1, a2) in enumerate(sos):
            u = y[n]
            y[n] = b0 * u + z[s, 0]
            z[s] = b1 * u - a1 * y[n] + z[s, 1], b2 * u - a2 * y[n]
    return y, z


def _load_compiled():
    """scipy's compiled cascade ``_sosfilt(sos, x, zi)`` (filters ``x`` (signals, samples) and ``zi`` (signals,
    sections, 2), float64 and C-contiguous, in place), its module loaded from its file without running
    ``scipy.signal``'s package init (and registered under its name, so that a later ``import scipy.signal`` uses
    it); None where it is missing, does not load or does not match :func:`_recurrence` (output and final state) on
    two short signals."""
    name = "scipy.signal._sosfilt"
    try:
        module = sys.modules.get(name)
        if module is None:
            scipy = importlib.util.find_spec("scipy")
            folder = os.path.join(scipy.submodule_search_locations[0], "signal")
            path = next(p for p in (os.path.join(folder, "_sosfilt" + suffix)
                                    for suffix in importlib.machinery.EXTENSION_SUFFIXES) if os.path.exists(p))
            loader = importlib.machinery.ExtensionFileLoader(name, path)
            module = importlib.util.module_from_spec(importlib.util.spec_from_file_location(name, path, loader=loader))
            loader.exec_module(module)
            sys.modules[name] = module
        run = module._sosfilt
        sos = np.array([[0.5, 0.2, 0.1, 1.0, -0.6, 0.08], [1.0, -0.3, 0.2, 1.0, 0.1, 0.05]])
        x = np.array([[1.0, -0.5, 0.25, 0.0, 2.0, 0.0, 0.0, -1.0], [0.0, 0.3, -0.7, 1.0, 0.0, 0.5, -0.2, 0.1]])
        zi = np.array([[[0.1, -0.2], [0.3, 0.05]], [[-0.4, 0.0], [0.2, -0.1]]])
        y, z = x.copy(), zi.copy()
        run(sos, y, z)
        expected = [_recurrence(sos, row, state) for row, state in zip(x, zi)]
        if all(np.allclose(got, want, rtol=1e-12, atol=1e-12)
               for c, (y_c, z_c) in enumerate(expected) for got, want in ((y[c], y_c), (z[c], z_c))):
            return run
    except Exception:  # anything that keeps scipy's private module from loading or running: the numpy path
        pass
    return None


COMPILED = _load_compiled()

try:
    from ._compiled import cascade as PIPELINED
except ImportError:  # not built (no C compiler at install): scipy's cascade or the numpy path
    PIPELINED = None
PIPELINED_SECTIONS = 6  # the most sections the pipelined cascade takes (_compiled.c's MAX_SECTIONS)


class BlockFilter:
    """One cascade (``sos``, (sections, 6), ``a0 = 1``); ``filter(x, zi)`` runs it by the first path that applies
    (see the module's docstring; the numpy path's chunk matrices are built on first use; ``compiled=False`` asks for
    the numpy path). Build once per coefficient set."""

    def __init__(self, sos: np.ndarray, chunk: int = CHUNK, group: int = GROUP, compiled: bool = True):
        self.sos = np.ascontiguousarray(sos, dtype=np.float64)
        self.compiled = compiled and COMPILED is not None
        self.pipelined = compiled
        self.chunk, self.group = chunk, group
        self._built = False

    def _build(self) -> None:
        """The numpy path's chunk matrices."""
        chunk, group = self.chunk, self.group
        a, b, c, d = state_space(self.sos)
        order = a.shape[0]
        self.order = order
        self._a = a
        observe = _orbit(c, a, chunk)                           # (chunk, order): row n is C A^n
        impulse = _orbit(b, a.T, chunk)                         # (chunk, order): row n is (A^n B)^T
        self._observe_t = np.ascontiguousarray(observe.T)
        h = np.concatenate([[d], observe[:-1] @ b])            # impulse response h[0] = D, h[m] = C A^(m-1) B
        self._toeplitz_t = np.concatenate([np.zeros(chunk - 1), h])[_toeplitz_index(chunk)]  # row j: h[i - j]
        self._toeplitz_t32 = _single(self._toeplitz_t)
        self._inject_t = impulse[::-1].copy()                  # (chunk, order): row k is (A^(L-1-k) B)^T
        self._tail = {chunk: _matrix_power(a, chunk).T}         # (A^r)^T of the last chunk's length r, as needed
        # the chunk recurrence s' = s M + u on row vectors, M = (A^L)^T, and its powers M^0 .. M^group
        steps = _orbit(np.eye(order), self._tail[chunk], group + 1).reshape(group + 1, order, order)
        self._spread = steps[:group].transpose(1, 0, 2).reshape(order, group * order)  # [M^0 .. M^(G-1)]
        lag = np.arange(group)[None, :] - np.arange(group)[:, None]
        blocks = np.concatenate([steps[:group], np.zeros((1, order, order))])[np.where(lag >= 0, lag, group)]
        self._within = blocks.transpose(0, 2, 1, 3).reshape(group * order, group * order)  # block (i, j): M^(j-i)
        self._prefix = [_flushed(steps[group], _TINY)]        # (M^G)^(2^j), as the scan over groups needs them
        self._built = True

    def filter(self, x: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Filter (samples, channels) along axis 0 from the state ``zi`` (sections, 2, channels); returns the output
        (float32 for float32 ``x``, else float64) and the final state (the layout of ``zi``, float64). The state
        always moves in float64; the compiled paths filter in float64 throughout, the numpy path runs the
        within-chunk products of float32 audio in float32 (their error stays at float32's resolution: nothing
        recurs in them). None changes ``x`` or ``zi``."""
        if self._pipelined(x):
            return self._pipelined_filter(x, zi)
        y, zf = self._filter_rows(x, zi)
        return _interleaved(y, np.float32 if x.dtype == np.float32 else np.float64), zf

    def _pipelined(self, x: np.ndarray) -> bool:
        return (self.pipelined and PIPELINED is not None and x.dtype == np.float32 and x.ndim == 2
                and len(self.sos) <= PIPELINED_SECTIONS)

    def _pipelined_filter(self, x: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.ascontiguousarray(x)
        y = np.empty_like(x)
        z = np.array(zi, dtype=np.float64, order="C")
        PIPELINED(self.sos, x, y, z)
        return y, z

    def _filter_rows(self, x: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What scipy's cascade and the numpy path compute for :meth:`filter`, one row per channel (channels,
        samples): float64, or float32 from the numpy path for float32 ``x``."""
        if self.compiled:
            y = np.array(x.T, dtype=np.float64, order="C")                     # (channels, samples), a copy
            z = np.array(zi.transpose(2, 0, 1), dtype=np.float64, order="C")  # (channels, sections, 2), a copy
            COMPILED(self.sos, y, z)
            return y, z.transpose(1, 2, 0)
        if not self._built:
            self._build()
        n, channels = x.shape
        L, G, order = self.chunk, self.group, self.order
        chunks = max(1, -(-n // L))
        groups = -(-chunks // G)
        single = x.dtype == np.float32
        xc = np.zeros((channels, groups * G * L), np.float32 if single else np.float64)
        xc[:, :n] = x.T
        xc = xc.reshape(channels, groups * G, L)
        # each chunk's input moves the state by u = sum_k x[k] A^(L-1-k) B; within a group of G chunks, from a
        # zero state at the group's start, the states after its chunks are one product (block (i, j): M^(j-i))
        inject = xc @ self._inject_t                            # in float64 (the state moves in float64)
        local = inject.reshape(channels, groups, G * order) @ self._within
        # the states at the groups' starts: z[g + 1] = z[g] M^G + local[g, last]; a parallel prefix over groups
        z = np.empty((channels, groups + 1, order))
        z[:, 0] = zi.reshape(order, channels).T
        z[:, 1:] = local[:, :, -order:]
        step = 1
        while step <= groups:
            j = step.bit_length() - 1
            if j == len(self._prefix):
                self._prefix.append(_flushed(self._prefix[-1] @ self._prefix[-1], _TINY))
            z[:, step:] += z[:, :-step] @ self._prefix[j]
            step *= 2
        # the state at each chunk's start: its group's start moved on, plus what the group's earlier chunks added
        starts = z[:, :groups] @ self._spread
        starts[:, :, order:] += local[:, :, :-order]
        starts = starts.reshape(channels, groups * G, order)[:, :chunks]
        y = xc[:, :chunks] @ (self._toeplitz_t32 if single else self._toeplitz_t)
        np.add(y, starts @ self._observe_t, out=y, casting="unsafe")  # the zero-input response in float64
        y = y.reshape(channels, chunks * L)[:, :n]
        r = n - (chunks - 1) * L                                # samples in the last chunk
        if r not in self._tail:
            self._tail[r] = _matrix_power(self._a, r).T
        last = starts[:, -1] @ self._tail[r] + xc[:, chunks - 1, :r] @ self._inject_t[L - r:]
        return y, last.T.reshape(zi.shape)


def _interleaved(y: np.ndarray, dtype) -> np.ndarray:
    """(channels, samples) as a C-ordered (samples, channels) array of ``dtype``, copied one channel at a time
    (numpy's own copy of the transposed view walks the samples two values at a time: 0.23 ms for a 0.25 s stereo
    block at 44.1 kHz, 0.013 ms like this), so that the chain's later steps work on plain rows instead of that view
    (the streaming chain's block: 0.85 against 0.89 ms median, three runs in turn)."""
    out = np.empty(y.shape[::-1], dtype)
    for c, channel in enumerate(y):
        out[:, c] = channel
    return out


def _flushed(m: np.ndarray, tiny: float) -> np.ndarray:
    """``m`` with the entries below ``tiny`` in magnitude set to 0: a decaying filter's high matrix powers
    underflow toward subnormal numbers, on which x86 arithmetic is some 100 times slower, and contribute nothing."""
    return np.where(np.abs(m) < tiny, 0.0, m)


def _single(m: np.ndarray) -> np.ndarray:
    """A float32 copy of a float64 matrix without subnormal entries (those below ``_TINY32`` become 0)."""
    return _flushed(m, _TINY32).astype(np.float32)


def _orbit(v: np.ndarray, a: np.ndarray, count: int) -> np.ndarray:
    """``v a^n`` for n = 0 .. count - 1, stacked on a new first axis (v a vector or a matrix, a square), by
    doubling: the first m rows times a^m give the next m (log2(count) products)."""
    out = np.empty((count,) + v.shape)
    out[0] = v
    power, m = a, 1
    while m < count:
        k = min(m, count - m)
        np.matmul(out[:k], power, out=out[m:m + k])
        if m + k < count:
            power = power @ power
        m += k
    return out


def _matrix_power(a: np.ndarray, n: int) -> np.ndarray:
    """``a^n`` by repeated squaring (n >= 0)."""
    result, power = np.eye(a.shape[0]), a
    while n:
        if n & 1:
            result = result @ power
        n >>= 1
        if n:
            power = power @ power
    return result


@functools.lru_cache(maxsize=8)
def _toeplitz_index(chunk: int) -> np.ndarray:
    """Index of ``[0] * (chunk - 1) + h`` that gives the transposed lower-triangular Toeplitz matrix of ``h``."""
    idx = np.arange(chunk)
    index = np.clip(idx[None, :] - idx[:, None], -chunk + 1, None) + chunk - 1
    index.flags.writeable = False
    return index

