"""The LiteRT interpreter backends, in order of preference. No TensorFlow on the device path: the interpreter comes
from ``ai_edge_litert``, else ``tflite_runtime`` (with a warning about its limits), and only when neither is installed
from ``tensorflow.lite``."""

from __future__ import annotations

import dataclasses
import importlib
import warnings
from importlib import metadata as _dist_metadata

from ..errors import InputError, RuntimeFailure

# Interpreter backends in order of preference: (name, module, attribute path of the Interpreter class, distribution).
BACKENDS = (
    ("ai_edge_litert", "ai_edge_litert.interpreter", "Interpreter", "ai-edge-litert"),
    ("tflite_runtime", "tflite_runtime.interpreter", "Interpreter", "tflite-runtime"),
    ("tensorflow", "tensorflow", "lite.Interpreter", "tensorflow"),
)
BACKEND_NOTES = {
    "tflite_runtime": "the interpreter is tflite-runtime: it cannot run under numpy 2, cannot load FULLY_CONNECTED "
                      "v12 models and runs int8 models without XNNPACK (several times slower); install ai-edge-litert",
    "tensorflow": "the interpreter is tensorflow.lite (seconds to import, deprecated); install ai-edge-litert",
}


@dataclasses.dataclass(frozen=True)
class Backend:
    """An interpreter backend: its name, distribution version, Interpreter class and a note on its limits."""

    name: str
    version: str
    interpreter_class: type
    note: str | None

    def __str__(self):
        return f"{self.name} {self.version}"


def import_backend(entry: tuple[str, str, str, str]) -> Backend:
    """The ``Backend`` of one ``BACKENDS`` entry; raises whatever importing it raises."""
    backend, module_name, attribute, dist = entry
    obj = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    try:
        version = _dist_metadata.version(dist)
    except _dist_metadata.PackageNotFoundError:
        version = "unknown version"
    return Backend(backend, version, obj, BACKEND_NOTES.get(backend))


def load_backend(name: str | None = None) -> Backend:
    """The first importable backend of ``BACKENDS`` (or the one named); warns when it is not ai_edge_litert.
    Raises ``RuntimeFailure`` listing why each candidate failed when none can be imported."""
    candidates = [b for b in BACKENDS if name in (None, b[0])]
    if not candidates:
        raise InputError(f"unknown interpreter backend {name!r}; choose from {', '.join(b[0] for b in BACKENDS)}")
    failures = []
    for entry in candidates:
        try:
            backend = import_backend(entry)
        except Exception as exc:  # e.g. tflite-runtime 2.14 under numpy 2 fails while importing
            failures.append(f"{entry[1]}: {type(exc).__name__}: {exc}")
            continue
        if backend.note:
            warnings.warn(backend.note, RuntimeWarning, stacklevel=2)
        return backend
    raise RuntimeFailure("no TFLite interpreter could be imported (install ai-edge-litert): " + "; ".join(failures))
