"""Print what the (emulated) CPU advertises to programs: AT_HWCAP/AT_HWCAP2 decoded (what XNNPACK and numpy read
to pick kernels) and, under qemu-user, the emulator binary. Runs with the root's plain python3 (arm64_emulated.sh)."""

import ctypes
import os

HWCAP = ("fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop "
         "sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs sb paca pacg").split()
HWCAP2 = ("dcpodp sve2 sveaes svepmull svebitperm svesha3 svesm4 flagm2 frint svei8mm svef32mm svef64mm svebf16 "
          "i8mm bf16 dgh rng bti mte ecv afp rpres mte3 sme").split()


def names(value, table):
    return [n for i, n in enumerate(table) if value >> i & 1] + ([f"+{value >> len(table):#x}<<{len(table)}"]
                                                                 if value >> len(table) else [])


libc = ctypes.CDLL(None)
libc.getauxval.restype = ctypes.c_ulong
libc.getauxval.argtypes = [ctypes.c_ulong]
cap, cap2 = libc.getauxval(16), libc.getauxval(26)
print(f"AT_HWCAP {cap:#x}: {' '.join(names(cap, HWCAP))}")
print(f"AT_HWCAP2 {cap2:#x}: {' '.join(names(cap2, HWCAP2)) or '-'}")
try:
    exe = os.readlink("/proc/thread-self/exe")
except OSError:
    exe = "?"
print(f"QEMU_CPU={os.environ.get('QEMU_CPU', '')} emulator: {exe if 'qemu' in exe else 'none (native)'}")
