"""runtime.pipeline: the worker-thread stage of the whole-file passes, and `run --threads 2` equal to one thread."""

import threading

import numpy as np
import pytest
import soundfile as sf

from aebox_edge.runtime.enhance import enhance_file
from aebox_edge.runtime.pipeline import overlapped, prefetch
from support import music, write_audio


def test_prefetch_keeps_order_and_runs_in_another_thread():
    threads = []

    def items():
        for i in range(50):
            threads.append(threading.get_ident())
            yield i

    assert list(prefetch(items(), depth=3)) == list(range(50))
    assert set(threads) == {threads[0]} and threads[0] != threading.get_ident()
    assert overlapped(range(3), 1) == range(3)  # one thread: the items themselves


def test_prefetch_raises_the_workers_exception():
    def items():
        yield 1
        raise ValueError("broken block")

    with pytest.raises(ValueError, match="broken block"):
        list(prefetch(items()))


def test_prefetch_stops_the_worker_when_the_caller_stops():
    produced = []

    def items():
        for i in range(10**6):
            produced.append(i)
            yield i

    it = prefetch(items(), depth=2)
    assert next(it) == 0
    it.close()  # joins the worker
    assert len(produced) <= 5


def test_two_threads_write_the_same_file(model, tmp_path):
    from aebox_edge.runtime import Enhancer

    inp = write_audio(tmp_path / "in.wav", music(7.0, 44100, 2), 44100, "PCM_16")
    ref = write_audio(tmp_path / "ref.wav", music(4.0, 44100, 2, seed=1), 44100, "PCM_16")
    outs = []
    for threads in (1, 2):
        out = tmp_path / f"out{threads}.wav"
        enhance_file(Enhancer(model, num_threads=threads), str(inp), str(ref), str(out))
        outs.append(sf.read(str(out))[0])
    np.testing.assert_array_equal(outs[0], outs[1])
