"""Shared set-up of the device suite: detection of CPU emulation (qemu-user), under which wall-clock timings are
meaningless (TFLite kernels run ~200 x and numpy ~14 x slower), so tests marked ``timing`` are skipped.

Contract for tests: mark a test that asserts on time with ``@pytest.mark.timing`` (or ask for the ``emulation``
fixture, None on real hardware, else the reason). Benchmarks that only measure need nothing. Detection:
``AEBOX_EMULATED=1`` (set by device_tests/arm64_emulated.sh) or ``=0`` forces it; otherwise an aarch64/arm
interpreter that sees an x86 /proc/cpuinfo (qemu 7.2 passes the host's through), the fake cpuinfo the script mounts,
or a qemu binary behind the process counts as emulated. The verdict is printed in pytest's header (``emulation: ...``).
"""

from __future__ import annotations

import os
import platform

import aebox_edge  # noqa: F401  (first: pins BLAS to one thread before numpy loads, as the runtime does)
import pytest


def _read(path: str) -> str:
    try:
        with open(path, errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def detect_emulation() -> str | None:
    """None when running natively, else why we think the CPU is emulated."""
    forced = os.environ.get("AEBOX_EMULATED", "").strip().lower()
    if forced in ("0", "no", "false"):
        return None
    machine = platform.machine().lower()
    arm = machine.startswith(("aarch64", "arm"))
    cpuinfo = _read("/proc/cpuinfo")
    found = []
    if arm and ("vendor_id" in cpuinfo or "GenuineIntel" in cpuinfo or "AuthenticAMD" in cpuinfo):
        found.append(f"{machine} interpreter but an x86 /proc/cpuinfo")
    if "emulated by qemu" in cpuinfo:
        found.append("/proc/cpuinfo is arm64_emulated.sh's stand-in")
    if arm:
        # qemu-user fakes /proc/self/exe, but not the link of the process seen through its own pid under a
        # different spelling, nor the binfmt entry of the host when binfmt_misc is visible
        for path in ("/proc/thread-self/exe", f"/proc/{os.getpid()}/task/{os.getpid()}/exe"):
            try:
                if "qemu" in os.path.basename(os.readlink(path)):
                    found.append(f"{path} -> {os.readlink(path)}")
                    break
            except OSError:
                pass
    if forced in ("1", "yes", "true"):
        found.insert(0, "AEBOX_EMULATED=1")
    return "; ".join(found) or None


EMULATION = detect_emulation()


def pytest_configure(config):
    config.addinivalue_line("markers", "timing: asserts on wall-clock time; skipped under CPU emulation (qemu-user)")


def pytest_report_header(config):
    if EMULATION:
        return [f"emulation: YES ({EMULATION}) -- timing assertions skipped, benchmark numbers are not device speed"]
    return [f"emulation: no ({platform.machine()}); timing assertions active"]


def pytest_collection_modifyitems(config, items):
    if not EMULATION:
        return
    skip = pytest.mark.skip(reason=f"timing assertion skipped under CPU emulation ({EMULATION})")
    for item in items:
        if "timing" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def emulation():
    """None on real hardware, else the reason the CPU looks emulated (skip or relax timing checks then)."""
    return EMULATION
