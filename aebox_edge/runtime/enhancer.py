"""Enhancement of whole signals with an exported analyser: the reference's window, the input's parameter track,
the rendered output.

The reference is analysed once: its non-overlapping windows are scored and the *most typical active window* is used
-- among the windows within ``REFERENCE_ACTIVE_DB`` of the loudest one, the one whose mean log-mel spectrum is
closest (mean absolute dB difference) to the median spectrum of those windows. It is a real 2.5 s excerpt (no
averaged, smeared spectrogram the network never saw in training), skips silence and intros, and is robust to one-off
loud events. The input's sliding windows (``track``), each mixed to mono and resampled to the analysis rate, give
the parameter track, which ``render`` applies at the signal's own rate and channels. While the reference is scored,
its long-term band levels and its integrated loudness are measured (``matching.ReferenceMeter``): a correction
model's analytic fit and the level stage (``level``) that ends the chain use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

from ddsp_kernels.match import BandLevels, combine

from ..defaults import HOP_S, SMOOTHING_S
from ..errors import InputError, RuntimeFailure
from ..frontend import WindowLogMels, fit_window, log_mel
from .analyser import Analyser
from .level import level_loudness, level_stage
from .matching import ReferenceMatch, ReferenceMeter, analytic_fit, match_features
from .pipeline import overlapped
from .render import BLOCK_S, render
from .track import ParamTrack, analysis_windows, array_blocks, check_hop, smooth_track

REFERENCE_ACTIVE_DB = 20.0  # reference windows this far below the loudest one are not candidates


def most_typical_window(levels_db: np.ndarray, spectra: np.ndarray) -> tuple[int, int]:
    """Index of the most typical active window (see the module's docstring) of windows with these levels (dB) and
    mean log-mel spectra (windows, n_mels), and the number of active windows."""
    active = np.flatnonzero(levels_db >= levels_db.max() - REFERENCE_ACTIVE_DB)
    distance = np.abs(spectra[active] - np.median(spectra[active], axis=0)).mean(axis=1)
    return int(active[np.argmin(distance)]), len(active)


@dataclass(frozen=True)
class Reference:
    """A reference as the runtime uses it: the features of its most typical window, a description of that window
    (and of its loudness), and its long-term band levels and loudness."""

    features: np.ndarray
    info: dict
    match: ReferenceMatch


class Enhancer(Analyser):
    """An ``Analyser`` that enhances whole signals: ``reference_features`` -> ``analyse`` -> ``render``, or all of
    it in memory with ``process``. Construction raises as ``Analyser`` does."""

    def analysis_hop(self, hop_s: float) -> int:
        """The hop between analysis windows in samples at the analysis rate: ``hop_s`` rounded to whole STFT hops
        (at most one window), so that overlapping windows share their log-mel frames (``frontend.WindowLogMels``).
        Raises ``InputError`` for a hop outside (0, window]."""
        fe = self.front_end
        check_hop(hop_s, fe.window_samples / self.analysis_rate)
        steps = max(1, round(hop_s * self.analysis_rate / fe.hop_length))
        return min(steps * fe.hop_length, fe.window_samples)

    def reference(self, blocks: Callable[[int], Iterable[np.ndarray]], sample_rate: int) -> Reference:
        """The :class:`Reference` of a signal given as ``blocks(n)``, a callable returning a fresh iterator over
        consecutive ``n``-frame blocks (read twice: scoring and measuring, then up to the chosen window). Raises
        ``InputError`` for a silent reference (below the absolute gate throughout) and ``RuntimeFailure`` when the
        second reading differs from the first."""
        n = self.window_frames(sample_rate)
        w = self.front_end.window_samples
        levels, spectra, meter = [], [], None

        def measure(block):
            nonlocal meter
            if meter is None:
                meter = ReferenceMeter(sample_rate, 1 if block.ndim == 1 else block.shape[1], self.analysis_rate)
            meter.add_native(block)

        for _, mono in analysis_windows(blocks(n), sample_rate, self.analysis_rate, w, w, measure):
            meter.add_analysis(mono)
            levels.append(10.0 * np.log10(np.mean(np.square(mono, dtype=np.float64)) + 1e-20))
            spectra.append(log_mel(fit_window(mono, self.front_end), self.front_end).mean(axis=0))
        levels = np.array(levels)
        chosen, active = most_typical_window(levels, np.array(spectra))
        match = meter.result()
        if not np.isfinite(match.loudness_lufs):
            raise InputError("the reference is silent: none of its 400 ms blocks is above BS.1770's -70 LUFS "
                             "absolute gate, so it has no level or spectrum to match")
        for k, (start, mono) in enumerate(analysis_windows(blocks(n), sample_rate, self.analysis_rate, w, w)):
            if k == chosen:
                info = {"window": chosen, "windows": len(levels), "active_windows": active,
                        "start_s": start / self.analysis_rate, "duration_s": len(mono) / self.analysis_rate,
                        "level_dbfs": round(float(levels[chosen]), 2),
                        "loudness_lufs": round(match.loudness_lufs, 2)}
                return Reference(log_mel(fit_window(mono, self.front_end), self.front_end)[..., None], info, match)
        raise RuntimeFailure("the reference changed while it was being read")

    def reference_file(self, path: str) -> Reference:
        """The :class:`Reference` of an audio file (read in blocks). Raises ``InputError`` naming the file when it
        is unreadable or silent."""
        from ..io import audio

        info = audio.info(path)
        try:
            return self.reference(lambda n: audio.iter_blocks(path, n), info.sample_rate)
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None

    def window_inputs(self, blocks: Iterable[np.ndarray], reference: Reference, sample_rate: int, *,
                      hop_s: float = HOP_S, levels: BandLevels | None = None,
                      progress: Callable[[int], None] | None = None) -> Iterator[tuple[float, tuple]]:
        """The network inputs of an input's analysis windows, given as consecutive (frames, channels) blocks at
        ``sample_rate``: ``(centre_s, arrays)`` per window (``track.analysis_windows``, every :meth:`analysis_hop`),
        ``arrays`` being the input's log-mel, the reference's and, for a correction model, the window's match
        features. ``levels`` (if given) accumulates the input's long-term spectra at its own rate, for the analytic
        fit; ``progress(frames)`` is called with the frames of each block."""
        fe = self.front_end
        correction = self.output_kind == "correction"
        mels = WindowLogMels(fe)

        def measure(block):
            if levels is not None:
                levels.add(block)
            if progress is not None:
                progress(len(block))

        windows = analysis_windows(blocks, sample_rate, self.analysis_rate, fe.window_samples,
                                   self.analysis_hop(hop_s), measure)
        for start, mono in overlapped(windows, self.num_threads):
            if len(mono) == fe.window_samples:
                features = mels.window(mono, start)[..., None]
            else:  # a signal shorter than one window
                features = log_mel(fit_window(mono, fe), fe)[..., None]
            arrays = (features, reference.features)
            if correction:
                arrays += (match_features(mono, self.analysis_rate, reference.match),)
            yield (start + len(mono) / 2) / self.analysis_rate, arrays

    def analyse(self, blocks: Iterable[np.ndarray], reference: Reference, sample_rate: int, *, hop_s: float = HOP_S,
                smoothing_s: float = SMOOTHING_S, levels: BandLevels | None = None,
                progress: Callable[[int], None] | None = None) -> ParamTrack:
        """The parameter track of an input given as consecutive (frames, channels) blocks at ``sample_rate``: one
        prediction per analysis window (:meth:`window_inputs`), smoothed. A correction model's corrections apply to
        one analytic fit of the input's and the reference's long-term spectra (``matching.analytic_fit``, the input
        measured block by block at its own rate into ``levels``, a new ``BandLevels`` if not given), made when all
        windows are read. A given ``levels`` is filled whatever the model (``run``'s level stage reads it)."""
        correction = self.output_kind == "correction"
        if levels is None and correction:
            levels = BandLevels(sample_rate)
        times, raw = [], []
        for centre_s, arrays in self.window_inputs(blocks, reference, sample_rate, hop_s=hop_s, levels=levels,
                                                   progress=progress):
            raw.append(self.invoke(*arrays) if correction else self.predict(*arrays))
            times.append(centre_s)
        times = np.array(times)
        raw = np.array(raw, dtype=np.float32)
        if correction:
            raw = combine(analytic_fit(levels, reference.match), raw).astype(np.float32)
        return ParamTrack(times, raw, smooth_track(times, raw, smoothing_s), reference.info)

    def process(self, input_audio: np.ndarray, reference_audio: np.ndarray, sample_rate: int,
                reference_rate: int | None = None, *, hop_s: float = HOP_S, smoothing_s: float = SMOOTHING_S
                ) -> tuple[np.ndarray, ParamTrack]:
        """Enhance a whole in-memory signal ((samples,) or (samples, channels)) the way ``aebox-edge run`` enhances
        a file: returns the output (same shape, float32) and the parameter track. Raises ``InputError`` for empty
        audio or a hop outside (0, window]."""
        x = np.asarray(input_audio, dtype=np.float32)
        frames = x[:, None] if x.ndim == 1 else x
        ref = np.asarray(reference_audio, dtype=np.float32)
        ref = ref[:, None] if ref.ndim == 1 else ref
        if len(frames) == 0 or len(ref) == 0:
            raise InputError("input and reference need at least one sample")
        self.analysis_hop(hop_s)
        reference_rate = reference_rate or sample_rate
        reference = self.reference(lambda n: array_blocks(ref, n), reference_rate)
        n = self.window_frames(sample_rate)
        track = self.analyse(array_blocks(frames, n), reference, sample_rate, hop_s=hop_s, smoothing_s=smoothing_s)
        block = max(1, round(BLOCK_S * sample_rate))
        out = np.concatenate(list(render(array_blocks(frames, block), track, sample_rate, frames.shape[1])))
        out = level_stage(out, sample_rate, reference.match.loudness_lufs, level_loudness(frames, sample_rate))
        return (out[:, 0] if x.ndim == 1 else out), track
