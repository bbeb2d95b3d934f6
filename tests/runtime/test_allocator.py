"""runtime.allocator: glibc reuses numpy's freed arrays instead of handing them back to the kernel."""

import os
import platform
import subprocess
import sys

import pytest

from aebox_edge.runtime import allocator

# minor page faults, in a fresh process, of 50 rounds of four 2 MB arrays alive at once (as an analysis window's
# temporaries are), each touched, then all freed
_FAULTS = """
import resource, sys
import numpy as np
if sys.argv[1] == "tuned":
    from aebox_edge.runtime.allocator import tune_allocator
    assert tune_allocator()
np.ones(1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    arrays = [np.ones(262144) for _ in range(4)]
    del arrays
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")


def _faults(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if k not in allocator.USER_SETTINGS and k != "GLIBC_TUNABLES"}
    out = subprocess.run([sys.executable, "-c", _FAULTS, mode], capture_output=True, text=True, check=True, env=env)
    return int(out.stdout)


@glibc_only
def test_tuned_process_reuses_freed_arrays():
    untuned, tuned = _faults("default"), _faults("tuned")
    assert untuned > 50 * 512  # the kernel's fresh pages every round (a 2 MB array is 512 pages)
    assert tuned < untuned / 10  # the first round's pages, reused


@glibc_only
def test_user_settings_win(monkeypatch):
    assert allocator.tune_allocator()  # (the values the command line sets anyway)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert not allocator.tune_allocator()
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=131072")
    assert not allocator.tune_allocator()


def test_elsewhere_nothing_changes_and_nothing_raises(monkeypatch):
    def no_confstr(name):
        raise ValueError("unrecognized configuration name")

    monkeypatch.setattr(allocator.os, "confstr", no_confstr)  # macOS, or no GNU libc
    assert not allocator.tune_allocator()
    monkeypatch.setattr(allocator.os, "confstr", lambda name: "glibc 2.36")
    monkeypatch.setattr(allocator.ctypes, "CDLL", lambda name: (_ for _ in ()).throw(TypeError("no handle")))
    assert not allocator.tune_allocator()
