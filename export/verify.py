"""Measurements of a converted analyser, with the LiteRT runtime only (no TensorFlow): its parameters (predicted by the
runtime's ``Enhancer`` in ``convert``) against the float Keras model's, its ops, delegation and speed.

- Parameter error in physical units, per parameter over held-out clips (mean, p95, max): dB for gains, threshold,
  knee and makeup; cents (1200 log2 of the ratio) for frequencies; percent of the float value for Q, ratio and times.
- Rendered-audio distance: MSD (``aebox_edge.evaluation.metrics.mel_spectral_distance``) between the dirty input
  processed by ``ddsp_kernels.apply_chain`` with the float parameters and with the converted model's parameters.
- Ops, delegation and invoke time: ``aebox_edge.runtime.inspect`` (runtime side, so that ``aebox-edge bench`` on a
  device reports delegation the same way).
"""

from __future__ import annotations

import numpy as np

from aebox_edge.errors import InputError
from ddsp_kernels import PARAM_SPEC, apply_chain

# Default limits on the p95 error of every parameter over the verification clips, per error unit.
DEFAULT_MAX_PARAM_ERROR = {"dB": 1.0, "cents": 50.0, "%": 10.0}


def error_unit(param) -> str:
    """The unit in which a parameter's error is measured: ``dB``, ``cents`` (frequencies) or ``%`` (the rest)."""
    if param.unit == "dB":
        return "dB"
    if param.unit == "Hz":
        return "cents"
    return "%"


def parse_max_param_error(text: str | None) -> dict[str, float]:
    """``"dB=1.5,cents=30,%=5"`` -> limits per error unit; units not named keep their default. Raises ``InputError``
    for an unknown unit, a value that is not a number or one <= 0."""
    limits = dict(DEFAULT_MAX_PARAM_ERROR)
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        unit, sep, value = item.partition("=")
        unit = unit.strip()
        if unit.lower() == "db":
            unit = "dB"
        if not sep or unit not in limits:
            raise InputError(f"bad limit {item!r}: expected UNIT=VALUE with UNIT one of {', '.join(limits)}")
        try:
            limits[unit] = float(value)
        except ValueError:
            raise InputError(f"bad limit {item!r}: {value!r} is not a number") from None
        if not limits[unit] > 0:
            raise InputError(f"bad limit {item!r}: must be > 0")
    return limits


def param_errors(p_float, p_test) -> dict[str, dict]:
    """Per parameter: ``unit``, ``mean``, ``p95`` and ``max`` of the error of ``p_test`` against ``p_float``
    (both normalized, shaped (n, 24)), in the parameter's error unit."""
    ref, test = PARAM_SPEC.to_physical(p_float), PARAM_SPEC.to_physical(p_test)
    out = {}
    for param in PARAM_SPEC.params:
        a, b = ref[param.name], test[param.name]
        unit = error_unit(param)
        if unit == "dB":
            err = np.abs(b - a)
        elif unit == "cents":
            err = 1200.0 * np.abs(np.log2(b / a))
        else:
            err = 100.0 * np.abs(b - a) / a
        out[param.name] = {"unit": unit, "mean": float(np.mean(err)), "p95": float(np.percentile(err, 95)),
                           "max": float(np.max(err))}
    return out


def over_limit(errors: dict[str, dict], limits: dict[str, float]) -> list[str]:
    """Names of the parameters whose p95 error exceeds its unit's limit."""
    return [name for name, e in errors.items() if not e["p95"] <= limits[e["unit"]]]


def rendered_msd(audio, p_float, p_test, sample_rate: int) -> dict[str, float]:
    """MSD between each clip of ``audio`` (n, samples) rendered with ``p_float`` and with ``p_test`` (n, 24)."""
    ref, test = PARAM_SPEC.to_physical(p_float), PARAM_SPEC.to_physical(p_test)
    from aebox_edge.evaluation.metrics import mel_spectral_distance

    msd = []
    for i, x in enumerate(audio):
        y_ref = apply_chain(x, sample_rate, {k: v[i] for k, v in ref.items()})
        y_test = apply_chain(x, sample_rate, {k: v[i] for k, v in test.items()})
        msd.append(mel_spectral_distance(y_test, y_ref, sample_rate))
    return {"mean": float(np.mean(msd)), "p95": float(np.percentile(msd, 95)), "max": float(np.max(msd))}
