import numpy as np
import pytest

from ddsp_kernels import PARAM_SPEC


def test_spec_names_and_order():
    assert len(PARAM_SPEC) == 24
    assert PARAM_SPEC.names[:3] == ("low_shelf_gain_db", "low_shelf_freq_hz", "low_shelf_q")
    assert PARAM_SPEC.names[3] == "peak1_gain_db" and PARAM_SPEC.names[15] == "high_shelf_gain_db"
    assert PARAM_SPEC.names[18:] == ("comp_threshold_db", "comp_ratio", "comp_attack_ms", "comp_release_ms",
                                     "comp_knee_db", "comp_makeup_db")


def test_round_trip_vectorized(rng):
    p01 = rng.random((7, 5, 24))
    phys = PARAM_SPEC.to_physical(p01)
    assert phys["comp_ratio"].shape == (7, 5)
    assert PARAM_SPEC.contains(phys)
    np.testing.assert_allclose(PARAM_SPEC.to_normalized(phys), p01, atol=1e-12)


def test_log_and_lin_mappings():
    mid = PARAM_SPEC.to_physical(np.full(24, 0.5))
    assert mid["peak1_freq_hz"] == pytest.approx(np.sqrt(200.0 * 2000.0))
    assert mid["comp_attack_ms"] == pytest.approx(np.sqrt(0.1 * 100.0))
    assert mid["low_shelf_gain_db"] == pytest.approx(0.0)
    assert mid["comp_threshold_db"] == pytest.approx(-40.0)
    ends = PARAM_SPEC.to_physical(np.stack([np.zeros(24), np.ones(24)]))
    np.testing.assert_allclose(PARAM_SPEC.as_array(ends), np.stack([PARAM_SPEC.minimum, PARAM_SPEC.maximum]))


def test_mapping_errors():
    with pytest.raises(ValueError):
        PARAM_SPEC.to_physical(np.zeros(23))
    bad = dict(PARAM_SPEC.neutral())
    del bad["comp_ratio"]
    with pytest.raises(KeyError, match="comp_ratio"):
        PARAM_SPEC.as_array(bad)


def test_physical_array_equals_to_physical(rng):
    p01 = rng.uniform(-0.2, 1.2, (5, 24))  # out-of-range values are clipped alike
    values = PARAM_SPEC.physical_array(p01, PARAM_SPEC.names)
    physical = PARAM_SPEC.to_physical(p01)
    for i, name in enumerate(PARAM_SPEC.names):
        np.testing.assert_array_equal(values[:, i], physical[name])
    names = ("peak2_q", "low_shelf_gain_db")
    np.testing.assert_array_equal(PARAM_SPEC.physical_array(p01[:, :2], names)[:, 1],
                                  PARAM_SPEC["low_shelf_gain_db"].to_physical(p01[:, 1]))
