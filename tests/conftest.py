import aebox_edge  # noqa: F401  (first: pins BLAS to one thread before numpy loads, as the runtime does)
import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
