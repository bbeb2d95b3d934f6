"""``aebox-edge info``: versions and the interpreter backend, or the properties of one audio file."""

from __future__ import annotations

import dataclasses
import platform
import sys

def _backend() -> str:
    """The first importable interpreter backend of the runtime's list with its version, noting backends that are
    installed but broken (TensorFlow is left out: it takes seconds to import)."""
    from .backend import BACKENDS, import_backend

    broken = []
    for entry in (b for b in BACKENDS if b[0] != "tensorflow"):
        module = entry[1]
        try:
            backend = import_backend(entry)
        except ModuleNotFoundError as exc:
            if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
                continue  # not installed
            broken.append(f"{module}: {exc}")
            continue
        except Exception as exc:  # e.g. tflite-runtime 2.14 under numpy 2 fails while importing
            broken.append(f"{module}: {type(exc).__name__}: {exc}")
            continue
        found = f"{module} ({entry[3]} {backend.version})"
        break
    else:
        found = "none (install ai-edge-litert)"
    return "; ".join([found] + [f"unusable {b}" for b in broken])


def _kernels() -> str:
    """Which path each kernel with a compiled form runs here."""
    import importlib

    iir = importlib.import_module("ddsp_kernels.iir")
    detector = importlib.import_module("ddsp_kernels.compressor").COMPILED is not None
    not_built = "not built: no C compiler or Python headers at install"
    cascade = "compiled (scipy)" if iir.COMPILED is not None else "numpy"
    if iir.PIPELINED is not None:
        cascade = f"pipelined (compiled) for float32 audio, else {cascade}"
    else:
        cascade = f"{cascade} (pipelined {not_built})"
    return f"IIR cascade {cascade}; compressor detector {'compiled' if detector else f'numpy ({not_built})'}"


def run_info(path: str | None, echo=print) -> None:
    """Print the versions and interpreter backend, or, given ``path``, the file's ``AudioInfo`` fields one per line.
    An unusable file raises ``AudioError``."""
    if path is not None:
        from ..io.audio import info

        audio_info = info(path)
        for field in dataclasses.fields(audio_info):
            value = getattr(audio_info, field.name)
            echo(f"{field.name}: {value:.3f}" if isinstance(value, float) else f"{field.name}: {value}")
        return

    import numpy
    import scipy
    import soundfile

    from .. import __version__

    echo(f"aebox-edge {__version__}")
    echo(f"python {platform.python_version()} ({sys.executable})")
    echo(f"numpy {numpy.__version__}")
    echo(f"scipy {scipy.__version__}")
    echo(f"soundfile {soundfile.__version__} (libsndfile {soundfile.__libsndfile_version__})")
    echo(f"interpreter: {_backend()}")
    echo(f"kernels: {_kernels()}")
