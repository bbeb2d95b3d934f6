"""The C allocator's settings for a command's process: glibc's ``malloc`` serves every numpy array over 128 kB with
its own ``mmap`` and returns it to the kernel when it is freed (the threshold rises only to the largest block freed
so far, and the heap's top is trimmed back past twice that), so each analysis window's spectra and each DSP block's
temporaries come back as fresh pages, zeroed by the kernel on first touch. With ``MMAP_THRESHOLD`` and
``TRIM_THRESHOLD`` set (``mallopt``, glibc's ``M_MMAP_THRESHOLD`` / ``M_TRIM_THRESHOLD``) the freed memory is
reused instead. ``aebox-edge run`` of a 4-minute stereo song, three runs each in turn with and without: 3.29-3.73 s
against 3.69-4.14 s with one thread, 2.91-3.29 s against 3.51-3.60 s with two (the analysis pass gains most: 1.05-1.15
s against 1.46-1.57 s), peak RSS 72 against 71 MB (83 against 79 MB with two threads; a 20-minute file 74 MB), the
same output byte for byte; a cold run of a 10 s file 0.75-0.80 s against 0.84-0.88 s.
Outside glibc (macOS, musl), and where the user set glibc's own variables (``USER_SETTINGS``), nothing changes. The
command line (``cli``) calls :func:`tune_allocator` before every command; a library caller may call it too."""

from __future__ import annotations

import ctypes
import os

# Blocks up to this size come from the heap (glibc accepts at most 16 MB on 32-bit and 32 MB on 64-bit systems);
# the heap keeps up to TRIM_THRESHOLD of free memory at its top instead of returning it.
MMAP_THRESHOLD = 16 * 1024 * 1024
TRIM_THRESHOLD = 128 * 1024 * 1024
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")  # and glibc.malloc tunables


def tune_allocator() -> bool:
    """Set glibc's thresholds for this process (later calls set the same values); returns whether glibc took both
    (False elsewhere, or when the environment holds one of ``USER_SETTINGS`` or a ``glibc.malloc`` tunable). Never
    raises."""
    if not _glibc() or any(name in os.environ for name in USER_SETTINGS) \
            or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def _glibc() -> bool:
    """Whether this process runs on glibc (``confstr``: no file is read, unlike ``platform.libc_ver``)."""
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (AttributeError, ValueError, OSError):  # no confstr (Windows), an unknown name or an unsupported one
        return False
