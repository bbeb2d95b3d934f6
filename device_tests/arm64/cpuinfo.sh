#!/usr/bin/env bash
# Print a Raspberry-Pi-4-like /proc/cpuinfo (Cortex-A72, ARMv8.0 without the crypto extensions) with one entry
# per CPU of this machine (default) or of $1. qemu-user 7.2 shows the guest the host's x86 /proc/cpuinfo, and the
# LiteRT interpreter (XNNPACK's cpuinfo) then segfaults at creation; arm64_emulated.sh bind-mounts this file over
# the root's /proc/cpuinfo.
set -euo pipefail
n=${1:-$(nproc --all 2>/dev/null || echo 4)}
for ((i = 0; i < n; i++)); do
    cat <<CPU
processor	: $i
BogoMIPS	: 108.00
Features	: fp asimd evtstrm crc32 cpuid
CPU implementer	: 0x41
CPU architecture: 8
CPU variant	: 0x0
CPU part	: 0xd08
CPU revision	: 3

CPU
done
cat <<'TAIL'
Hardware	: BCM2835
Revision	: c03111
Serial		: 10000000aeb0aeb0
Model		: Raspberry Pi 4 Model B Rev 1.1 (emulated by qemu-user: aebox-edge device_tests/arm64_emulated.sh)
TAIL
