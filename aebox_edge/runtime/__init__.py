"""The device runtime (no TensorFlow): the exported analyser run by a LiteRT interpreter (``enhancer``), file
enhancement (``enhance``), the live engine (``live``), ``bench``, the model metadata (``metadata``), model inspection
(``inspect``) and the ``run`` / ``bench`` / ``info`` commands (``cli``, ``info``).

``from aebox_edge.runtime import Enhancer, enhance_file`` works; both are imported on first use, so that importing
``aebox_edge.runtime.cli`` (for ``aebox-edge --help``) imports no numpy.
"""

_LAZY = {"Enhancer": "enhancer", "enhance_file": "enhance"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
