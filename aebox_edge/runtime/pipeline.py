"""A second core for the whole-file passes: one stage of a pass runs in a worker thread while the caller works on
what it produced (numpy, soundfile, the resampler's matrix products and the interpreter's invoke release the GIL).

``aebox-edge run --threads N`` with N >= 2 overlaps decoding, mixing, resampling and measuring the input with the
log-mels and invokes of the analysis, and decoding plus the DSP chain with the level stage's metering and writing;
``bench --file`` measures 1 against 2 threads.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """The items of ``items``, produced by a worker thread at most ``depth`` ahead of the caller (memory: ``depth``
    items). An exception in the worker is raised in the caller; when the caller stops early, the worker stops after
    the item it is producing."""
    slots: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work():
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the caller, which raises it
            put(_Failure(exc))

    worker = threading.Thread(target=work, name="aebox-edge-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        worker.join()


def overlapped(items: Iterable[T], threads: int, depth: int = 2) -> Iterable[T]:
    """``prefetch(items, depth)`` with two threads or more, ``items`` itself with one."""
    return prefetch(items, depth) if threads >= 2 else items
