import aebox_edge  # noqa: F401  (first: pins BLAS to one thread before numpy loads, as the runtime does)
import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def model(tmp_path_factory):
    """The test analyser exported to int8 ``.tflite`` (once per session; see ``support``)."""
    from support import exported_model

    return exported_model(tmp_path_factory)["tflite"]


@pytest.fixture(scope="module")
def enhancer(model):
    from aebox_edge.runtime import Enhancer

    return Enhancer(model)
