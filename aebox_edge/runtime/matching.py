"""What a correction analyser (the edge model) needs besides the two log-mels, measured as the runtime reads audio:
the reference's long-term band levels and loudness (once), each analysis window's band levels, and the analytic
fit the network's logit corrections apply to (``ddsp_kernels.match``).

Two rates: the network's match features compare band levels at the analysis rate (24 kHz mono, as in training,
``aebox_edge.frontend.match_difference``); the analytic fit compares them at the file's own rate, so that the EQ is
fitted up to the file's Nyquist frequency (a 24 kHz analysis cannot see what a phone lost above 12 kHz, and the
spectral centroid of the output depends on it). The reference is measured whole; the fit compares it with the
input's long-term levels too (all of a file's analysis windows, or live all windows so far), so every window starts
from one fit of the two long-term spectra and the network corrects it window by window. One fit per file costs
about 30 ms; the long-term spectra make it steadier than fits of single 2.5 s windows (on the real-music validation
excerpts MSD 20.2 against 20.5, SCE 1072 against 1074 Hz, without corrections).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ddsp_kernels.loudness import ABSOLUTE_GATE_LUFS, mean_square_lufs
from ddsp_kernels.match import FIT_LIMIT_DB, BandLevels, analytic_params, band_levels_db, spectral_difference_db

from ..frontend import match_difference
from .level import level_meter


@dataclass(frozen=True)
class ReferenceMatch:
    """The reference as the level stage and the analytic fit see it."""

    levels_native_db: np.ndarray  # long-term band levels at the reference's own rate
    spectra_native: np.ndarray  # its long-term spectra (BandLevels.spectra), for the fit's spectral moments
    levels_analysis_db: np.ndarray  # the same at the analysis rate (mono, as training saw it)
    loudness_lufs: float  # integrated loudness of the downmix (level.level_meter), -inf for silence


class ReferenceMeter:
    """Accumulates a reference block by block: ``add(block, analysis_mono)`` (or the two parts on their own,
    ``add_native(block)`` and ``add_analysis(analysis_mono)``, when the analysis stream is cut differently) then
    ``result()``."""

    def __init__(self, sample_rate: int, channels: int, analysis_rate: int):
        self._native = BandLevels(sample_rate)
        self._analysis = BandLevels(analysis_rate, spectra=False)
        self._loudness = level_meter(sample_rate, channels)

    def add(self, block: np.ndarray, analysis_mono: np.ndarray) -> None:
        self.add_native(block)
        self.add_analysis(analysis_mono)

    def add_native(self, block: np.ndarray) -> None:
        self._native.add(block)
        self._loudness.process(block)

    def add_analysis(self, analysis_mono: np.ndarray) -> None:
        self._analysis.add(analysis_mono)

    def result(self) -> ReferenceMatch:
        return ReferenceMatch(self._native.levels_db(), self._native.spectra(), self._analysis.levels_db(),
                              self._loudness.integrated())


def match_features(analysis_mono: np.ndarray, analysis_rate: int, reference: ReferenceMatch) -> np.ndarray:
    """The network's match features of one analysis window (its mono mix at the analysis rate)."""
    return match_difference(band_levels_db(analysis_mono, analysis_rate), reference.levels_analysis_db)


def analytic_fit(input_levels: BandLevels, reference: ReferenceMatch) -> np.ndarray:
    """The analytic fit (24 normalized values) of the input's long-term band levels and spectral moments
    (accumulated at the file's rate) to the reference's. A near-silent input (its mean square, as loudness, at or
    below BS.1770's absolute gate of -70 LUFS) is silence, not a spectrum to match: its fit is the flat EQ (no EQ
    fitted to noise)."""
    difference = spectral_difference_db(input_levels.levels_db(), reference.levels_native_db, FIT_LIMIT_DB)
    if not mean_square_lufs(input_levels.mean_square()) > ABSOLUTE_GATE_LUFS:
        return analytic_params(np.zeros_like(difference), input_levels.sample_rate)
    return analytic_params(difference, input_levels.sample_rate, input_levels.spectra(), reference.spectra_native)
