"""The one build step pyproject.toml cannot declare on its own: the optional compiled compressor detector
(``ddsp_kernels/_detector.c``). ``optional=True``: without a C compiler or Python's headers (a fresh Raspberry Pi OS
has neither) the install goes on without it and ``ddsp_kernels.compressor`` runs its numpy path.
``-fno-trapping-math`` (GCC and Clang; nothing here enables floating-point traps) lets the compiler turn the
kernel's clamps into vector min / max instructions, so that its per-sample loops vectorize."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("ddsp_kernels._detector", ["ddsp_kernels/_detector.c"],
                             extra_compile_args=["-fno-trapping-math"], optional=True)])
