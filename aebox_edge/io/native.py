"""Capturing what native code (the LiteRT interpreter and its delegates) writes straight to file descriptor 2,
where Python's ``sys.stderr`` redirection cannot reach it."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import Iterator


@contextlib.contextmanager
def native_stderr() -> Iterator[list[str]]:
    """Point file descriptor 2 at a temporary file for the duration; the yielded list receives the captured lines
    on exit (e.g. "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."). Ignore the list to silence them."""
    lines: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines.extend(capture.read().decode(errors="replace").splitlines())
