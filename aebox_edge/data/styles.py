"""Production styles that make the dirty input: parameter sets of the one effect chain (``ddsp_kernels.PARAM_SPEC``,
physical units), rendered with ``ddsp_kernels.apply_chain`` (RBJ EQ -> Giannoulis et al. 2012 compressor).

The five presets follow the descriptions and ranges of DeepAFx-ST's style data set (Steinmetz, Bryan & Reiss
2022), clipped to the chain's ranges: neutral (mild shelves, gentle compression), broadcast (more presence,
aggressive compression), telephone (band-pass: deep shelf cuts, a 1-2 kHz boost, fast compression), bright (bass
cut, strong treble shelf) and warm (bass boost with a high-shelf *cut*; their code boosts it by mistake).
``random`` is their frequency and dynamic-range corruption: up to four peaking bands (skipped once the summed gain
would reach 24 dB), two shelves and, with probability 0.7, compression.

Unlike DeepAFx-ST, outputs are not peak-normalized: a style keeps the level change it causes, since the model has
to undo it. The makeup gain compensates 50-100 % of the compressor's static gain reduction at the input's level
and adds a -6..+6 dB recording-level offset.
"""

from __future__ import annotations

import numpy as np

from ddsp_kernels import BANDS, PARAM_SPEC, static_gain_db

from ..defaults import STYLE_NAMES as STYLES
from ..defaults import STYLE_PRESETS as PRESETS  # noqa: F401  (the preset names, part of this module's face)
from ..errors import InputError

PEAK_BANDS = tuple(band.name for band in BANDS if band.kind == "peak")
SHELF_BANDS = tuple(band.name for band in BANDS if band.kind != "peak")


def _log_uniform(rng, lo, hi):
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _compressor(p, rng, threshold, attack_ms, release_ms, ratio):
    p.update(comp_threshold_db=float(rng.uniform(*threshold)), comp_attack_ms=float(rng.uniform(*attack_ms)),
             comp_release_ms=float(rng.uniform(*release_ms)), comp_ratio=float(rng.uniform(*ratio)),
             comp_knee_db=float(rng.uniform(0.0, 6.0)))


def _shelves(p, rng, low_db, low_hz, high_db, high_hz):
    p.update(low_shelf_gain_db=float(rng.uniform(*low_db)), low_shelf_freq_hz=float(rng.uniform(*low_hz)),
             low_shelf_q=float(rng.uniform(0.5, 1.0)), high_shelf_gain_db=float(rng.uniform(*high_db)),
             high_shelf_freq_hz=float(rng.uniform(*high_hz)), high_shelf_q=float(rng.uniform(0.5, 1.0)))


def _random_corruption(p, rng):
    total = 0.0
    for band in PEAK_BANDS:
        if rng.random() < 0.8:
            gain = float(rng.uniform(-24.0, 24.0))
            if abs(total + gain) >= 24.0:
                continue
            total += gain
            param = PARAM_SPEC[f"{band}_freq_hz"]
            p.update({f"{band}_gain_db": gain, f"{band}_freq_hz": _log_uniform(rng, param.minimum, param.maximum),
                      f"{band}_q": _log_uniform(rng, 0.2, 8.0)})
    for shelf in SHELF_BANDS:
        if rng.random() < 0.8:
            param = PARAM_SPEC[f"{shelf}_freq_hz"]
            p.update({f"{shelf}_gain_db": float(rng.uniform(-18.0, 18.0)),
                      f"{shelf}_freq_hz": _log_uniform(rng, param.minimum, param.maximum),
                      f"{shelf}_q": float(rng.uniform(0.5, 1.0))})
    if rng.random() < 0.7:
        attack = _log_uniform(rng, 0.5, 50.0)
        _compressor(p, rng, (-50.0, -10.0), (attack, attack), (attack + 10.0, attack + 250.0), (1.5, 10.0))
        p["comp_knee_db"] = float(rng.uniform(0.0, 12.0))


def draw_style(name: str, rng: np.random.Generator, level_db: float = -20.0) -> dict[str, float]:
    """Physical parameters (name -> float, inside ``PARAM_SPEC``) of one draw of style ``name``; ``level_db``
    is the RMS level of the audio it will process, used to set the makeup gain. An unknown name raises
    ``InputError``."""
    p = PARAM_SPEC.neutral()
    if name == "neutral":
        _compressor(p, rng, (-30.0, -20.0), (50.0, 70.0), (100.0, 300.0), (1.5, 2.0))
        _shelves(p, rng, (1.0, 3.0), (80.0, 200.0), (1.0, 3.0), (6000.0, 8000.0))
    elif name == "broadcast":
        _compressor(p, rng, (-50.0, -40.0), (5.0, 30.0), (50.0, 150.0), (3.0, 5.0))
        _shelves(p, rng, (2.0, 6.0), (80.0, 200.0), (2.0, 6.0), (6000.0, 8000.0))
    elif name == "telephone":
        _compressor(p, rng, (-40.0, -20.0), (1.0, 6.0), (10.0, 60.0), (1.5, 3.0))
        _shelves(p, rng, (-24.0, -20.0), (150.0, 200.0), (-24.0, -20.0), (4000.0, 6000.0))
        p.update(peak1_gain_db=float(rng.uniform(12.0, 16.0)), peak1_freq_hz=float(rng.uniform(1000.0, 2000.0)),
                 peak1_q=float(rng.uniform(0.5, 1.5)))
    elif name == "bright":
        _shelves(p, rng, (-24.0, -20.0), (150.0, 200.0), (20.0, 24.0), (8000.0, 10000.0))
    elif name == "warm":
        _shelves(p, rng, (18.0, 24.0), (150.0, 200.0), (-24.0, -18.0), (8000.0, 10000.0))
    elif name == "random":
        _random_corruption(p, rng)
    else:
        raise InputError(f"unknown style {name!r}; expected one of {', '.join(STYLES)}")
    reduction = -float(static_gain_db(np.array([level_db + 3.0]), p["comp_threshold_db"], p["comp_ratio"],
                                      p["comp_knee_db"])[0])
    p["comp_makeup_db"] = reduction * float(rng.uniform(0.5, 1.0)) + float(rng.uniform(-6.0, 6.0))
    values = np.clip(PARAM_SPEC.as_array(p), PARAM_SPEC.minimum, PARAM_SPEC.maximum)
    return {n: float(v) for n, v in zip(PARAM_SPEC.names, values)}
