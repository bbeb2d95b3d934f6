"""The one parameter specification of the effect chain (6-band parametric EQ -> compressor).

24 parameters; a network predicts them normalized to [0, 1] and this module maps them to physical units
(dB, Hz, ms) and back, linearly or logarithmically, vectorized over any leading batch shape. Ranges follow
DeepAFx-ST's documented DSP ranges (Steinmetz et al. 2022), as the paper (von Estorff & Krause 2024) uses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np


def _to_physical(p01, minimum, maximum, log):
    """Normalized values (clipped to [0, 1]) -> physical: ``min (max / min) ** p`` where ``log``, else ``min + (max -
    min) p`` (broadcast: one parameter's scalars, or arrays over the last axis)."""
    p = np.clip(np.asarray(p01, dtype=np.float64), 0.0, 1.0)
    if np.ndim(log) == 0:
        return minimum * (maximum / minimum) ** p if log else minimum + (maximum - minimum) * p
    ratio = np.divide(maximum, minimum, out=np.ones(np.shape(log)), where=log)  # only where it is a log range
    return np.where(log, minimum * ratio ** p, minimum + (maximum - minimum) * p)


@dataclass(frozen=True)
class Param:
    """One parameter: its name, physical unit, closed range and the mapping from [0, 1]."""

    name: str
    unit: str
    minimum: float
    maximum: float
    scale: str  # "lin" or "log"

    def to_physical(self, p01):
        return _to_physical(p01, self.minimum, self.maximum, self.scale == "log")

    def to_normalized(self, value):
        v = np.clip(np.asarray(value, dtype=np.float64), self.minimum, self.maximum)
        if self.scale == "log":
            return np.log(v / self.minimum) / np.log(self.maximum / self.minimum)
        return (v - self.minimum) / (self.maximum - self.minimum)


@dataclass(frozen=True)
class Band:
    """One EQ band: its name (the prefix of its three parameters), its RBJ filter kind (``biquads.KINDS``) and the
    range of its centre / corner frequency in Hz."""

    name: str
    kind: str
    freq_min_hz: float
    freq_max_hz: float


# The one band table: every band-dependent table (parameters, filter kinds, peers, styles) derives from it.
BANDS = (
    Band("low_shelf", "low_shelf", 20.0, 200.0),
    Band("peak1", "peak", 200.0, 2000.0),
    Band("peak2", "peak", 800.0, 4000.0),
    Band("peak3", "peak", 2000.0, 8000.0),
    Band("peak4", "peak", 4000.0, 10800.0),
    Band("high_shelf", "high_shelf", 4000.0, 10800.0),
)
EQ_BANDS = tuple(band.name for band in BANDS)


def _band_params(band: Band) -> tuple[Param, ...]:
    return (
        Param(f"{band.name}_gain_db", "dB", -24.0, 24.0, "lin"),
        Param(f"{band.name}_freq_hz", "Hz", band.freq_min_hz, band.freq_max_hz, "log"),
        Param(f"{band.name}_q", "", 0.1, 10.0, "log"),
    )


class ParamSpec:
    """Ordered parameter table with vectorized [0, 1] <-> physical mappings.

    ``to_physical(p01)`` takes an array shaped (..., 24) and returns a dict name -> array shaped (...);
    ``to_normalized(params)`` takes such a mapping (or an array (..., 24) of physical values) and returns (..., 24).
    """

    def __init__(self, params: tuple[Param, ...]):
        self.params = params
        self.names = tuple(p.name for p in params)
        self.units = tuple(p.unit for p in params)
        self.minimum = np.array([p.minimum for p in params])
        self.maximum = np.array([p.maximum for p in params])
        self.scales = tuple(p.scale for p in params)
        self._index = {name: i for i, name in enumerate(self.names)}
        self._ranges = {}  # physical_array's (minimum, maximum, log) per tuple of names

    def __len__(self) -> int:
        return len(self.params)

    def __getitem__(self, name: str) -> Param:
        return self.params[self._index[name]]

    def index(self, name: str) -> int:
        return self._index[name]

    def to_physical(self, p01) -> dict[str, np.ndarray]:
        p01 = np.asarray(p01, dtype=np.float64)
        if p01.shape[-1:] != (len(self),):
            raise ValueError(f"expected normalized parameters shaped (..., {len(self)}), got {p01.shape}")
        return {p.name: p.to_physical(p01[..., i]) for i, p in enumerate(self.params)}

    def physical_array(self, p01, names) -> np.ndarray:
        """The physical values (..., len(names)) of the parameters ``names`` from their normalized values (...,
        len(names)), in one vectorized pass (each value as ``to_physical`` gives it)."""
        names = tuple(names)
        ranges = self._ranges.get(names)
        if ranges is None:  # (the EQ fit asks for the same names some sixty times per window)
            index = [self._index[n] for n in names]
            ranges = self._ranges[names] = (self.minimum[index], self.maximum[index],
                                            np.array([self.scales[i] == "log" for i in index]))
        return _to_physical(p01, *ranges)

    def to_normalized(self, params) -> np.ndarray:
        values = self.as_array(params)
        return np.stack([p.to_normalized(values[..., i]) for i, p in enumerate(self.params)], axis=-1)

    def as_array(self, params) -> np.ndarray:
        """Physical values as an array (..., 24) in spec order, from a mapping or an array."""
        if isinstance(params, Mapping):
            missing = [n for n in self.names if n not in params]
            unknown = [n for n in params if n not in self._index]
            if missing or unknown:
                raise KeyError(f"parameter mapping: missing {missing}, unknown {unknown}")
            return np.stack([np.asarray(params[n], dtype=np.float64) for n in self.names], axis=-1)
        values = np.asarray(params, dtype=np.float64)
        if values.shape[-1:] != (len(self),):
            raise ValueError(f"expected physical parameters shaped (..., {len(self)}), got {values.shape}")
        return values

    def as_dict(self, values) -> dict[str, np.ndarray]:
        """Physical values (..., 24) in spec order -> mapping name -> value."""
        values = self.as_array(values)
        return {n: values[..., i] for i, n in enumerate(self.names)}

    def contains(self, params, atol: float = 1e-9) -> bool:
        """True when every physical value lies inside its range."""
        values = self.as_array(params)
        return bool(np.all(values >= self.minimum - atol) and np.all(values <= self.maximum + atol))

    def neutral(self) -> dict[str, float]:
        """A parameter set that leaves audio unchanged: 0 dB bands, ratio 1, 0 dB makeup."""
        out = {}
        for p in self.params:
            if p.name.endswith("_gain_db") or p.name == "comp_makeup_db" or p.name == "comp_threshold_db":
                out[p.name] = 0.0
            elif p.name == "comp_ratio":
                out[p.name] = 1.0
            elif p.name == "comp_knee_db":
                out[p.name] = 0.0
            elif p.name.endswith("_q"):
                out[p.name] = 0.7071
            else:  # frequencies and times: the geometric centre of the range
                out[p.name] = float(np.sqrt(p.minimum * p.maximum))
        return out


PARAM_SPEC = ParamSpec(
    tuple(param for band in BANDS for param in _band_params(band))
    + (
        Param("comp_threshold_db", "dB", -80.0, 0.0, "lin"),
        Param("comp_ratio", "", 1.0, 20.0, "log"),
        Param("comp_attack_ms", "ms", 0.1, 100.0, "log"),
        Param("comp_release_ms", "ms", 5.0, 1000.0, "log"),
        Param("comp_knee_db", "dB", 0.0, 12.0, "lin"),
        Param("comp_makeup_db", "dB", -24.0, 24.0, "lin"),
    )
)
