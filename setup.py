"""The one build step pyproject.toml cannot declare on its own: the optional compiled kernels
(``ddsp_kernels/_compiled.c``: the compressor's detector, the biquad cascade, the limiter's true peak and gain; GCC or
Clang, for their vector types). ``optional=True``: without a C compiler or Python's headers (a fresh Raspberry Pi OS
has neither) the install goes on without it and ``ddsp_kernels.compressor``, ``.iir`` and ``.limiter`` run their
numpy / scipy paths.
``-fno-trapping-math`` (GCC and Clang; nothing here enables floating-point traps) lets the compiler turn the
kernel's clamps into vector min / max instructions, so that its per-sample loops vectorize."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("ddsp_kernels._compiled", ["ddsp_kernels/_compiled.c"],
                             extra_compile_args=["-fno-trapping-math"], optional=True)])
