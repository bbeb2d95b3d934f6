"""Excerpt-level examples for training a correction head on what the runtime does and what the metrics measure.

A correction model's runtime (``runtime.Enhancer``) fits the EQ analytically to the long-term spectra of a whole
input and a whole reference, and the network corrects that one fit window by window; the level stage then matches
the loudness. Training on 2.5 s clips, each with its own clip-level fit and a loss on log-mels, taught the network to
fix the noise of a clip fit and rewarded what the four metrics punish (models/MODEL_CARD.md). So the examples here
are made from real-music excerpts (``data build --corpus``: input, reference, target at the native rate) exactly as
the runtime sees them, and the loss (``training.metric_loss``) is the paper's metrics, taken around the runtime's
own output:

- network inputs: every analysis window's log-mel and match features (``Enhancer.window_inputs``) and the
  reference's features, as ``aebox-edge run`` computes them;
- the analytic fit ``p0`` of the whole excerpt (``runtime.matching.analytic_fit``);
- the runtime's output ``y0`` with zero corrections (EQ + compressor of ``p0``, level stage, limiter) and the
  target, described by what the metrics take from them (``evaluation.metrics``): the 128 mel magnitudes of each
  65,536-point frame (MSD), the mono RMS (RMS), the mean spectral centroid (SCE), and spectra on ``GRID_EDGES_HZ``
  (1/48-octave cells) through which a change of the EQ changes them: per mel band the cells' share of its magnitude,
  the plain and the K-weighted power per cell (the level stage holds the K-weighted loudness), and the
  frame-normalized magnitude per cell (the centroid).

An EQ change ``H`` relative to ``p0``'s response ``H0`` then changes ``y0``'s mel band ``m`` by about
``sum_j W[m, j] |H / H0|(f_j)``: exact for ``H = H0`` and for spectra whose shape inside a band does not change
over time. The compressor and the limiter are left as in ``y0``.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ddsp_kernels.biquads import sos_response
from ddsp_kernels.loudness import k_weighting_sos
from ddsp_kernels.signal import mono

from ..defaults import HOP_S
from ..errors import InputError
from ..evaluation.metrics import (MSD_FLOOR, centroid_magnitudes, integrated_loudness, mean_spectral_centroid,
                                  msd_filterbank, msd_magnitudes)

CELLS_PER_OCTAVE = 48
LOWEST_EDGE_HZ = 20.0
HIGHEST_HZ = 24000.0  # the grid covers rates up to 48 kHz; cells above a file's Nyquist frequency stay empty
GRID_EDGES_HZ = np.concatenate([[0.0], LOWEST_EDGE_HZ * 2.0 ** (
    np.arange(int(np.ceil(CELLS_PER_OCTAVE * np.log2(HIGHEST_HZ / LOWEST_EDGE_HZ))) + 1) / CELLS_PER_OCTAVE)])
GRID_CENTRES_HZ = np.concatenate([[LOWEST_EDGE_HZ / np.sqrt(2.0)], np.sqrt(GRID_EDGES_HZ[1:-1] * GRID_EDGES_HZ[2:])])
CELLS = len(GRID_CENTRES_HZ)
EXAMPLES_FORMAT = "aebox-edge-excerpt-examples"


def _cells(freqs: np.ndarray) -> np.ndarray:
    """Cell index of each frequency (above the grid: the last cell)."""
    return np.minimum(np.searchsorted(GRID_EDGES_HZ, freqs, side="right") - 1, CELLS - 1)


def _cell_sums(values: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """``values`` (..., bins) summed per grid cell: (..., CELLS)."""
    out = np.zeros((*values.shape[:-1], CELLS))
    np.add.at(out, (..., cells), values)
    return out


def metric_terms(output: np.ndarray, target: np.ndarray, sample_rate: int) -> dict:
    """What ``training.metric_loss`` needs of an output and its target (both (samples,) or (samples, channels),
    equally long): see the module's docstring. ``mel0``/``mel_target`` (frames, 128) are the mel magnitudes of the
    MSD (``mel0`` not floored), ``weights`` (128, CELLS) each mel band's magnitude per cell (rows sum to 1),
    ``plain``/``kweighted`` the output's long-term power per cell (sums 1), ``shape``/``shape_f`` the output's
    frame-normalized centroid magnitudes per cell and the same times frequency, ``rms0_db``/``rms_target_db``,
    ``sce0``/``sce_target`` (Hz), ``lufs0_error`` (LU, signed: the output's loudness minus the target's)."""
    x, y = (mono(np.asarray(a, dtype=np.float64)) for a in (output, target))
    if x.shape != y.shape or x.size == 0:
        raise InputError(f"output and target must be non-empty and equally long, got {x.size} and {y.size} samples")
    fb = msd_filterbank(sample_rate)
    mag0, mag_target = msd_magnitudes(x), msd_magnitudes(y)
    freqs = np.fft.rfftfreq(2 * (mag0.shape[1] - 1), 1.0 / sample_rate)
    cells = _cells(freqs)
    weights = _cell_sums(fb * mag0.mean(axis=0), cells)
    weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-30)
    power = np.mean(mag0 ** 2, axis=0)
    k2 = np.abs(np.prod(sos_response(k_weighting_sos(sample_rate), freqs, sample_rate), axis=0)) ** 2
    plain, kweighted = _cell_sums(power, cells), _cell_sums(power * k2, cells)
    cmag = centroid_magnitudes(x)
    cfreqs = np.arange(cmag.shape[-1]) * (sample_rate / 2048)
    total = cmag.sum(axis=-1, keepdims=True)
    shape = np.divide(cmag, total, out=np.zeros_like(cmag), where=total > 0).sum(axis=0)
    ccells = _cells(cfreqs)
    return {
        "mel0": (mag0 @ fb.T).astype(np.float32),
        "mel_target": np.maximum(mag_target @ fb.T, MSD_FLOOR).astype(np.float32),
        "weights": weights.astype(np.float32),
        "plain": (plain / max(plain.sum(), 1e-30)).astype(np.float32),
        "kweighted": (kweighted / max(kweighted.sum(), 1e-30)).astype(np.float32),
        "shape": _cell_sums(shape, ccells).astype(np.float32),
        "shape_f": _cell_sums(shape * cfreqs, ccells).astype(np.float32),
        "rms0_db": 10.0 * np.log10(np.mean(x * x) + 1e-20),
        "rms_target_db": 10.0 * np.log10(np.mean(y * y) + 1e-20),
        "sce0": mean_spectral_centroid(x, sample_rate), "sce_target": mean_spectral_centroid(y, sample_rate),
        "lufs0_error": integrated_loudness(x, sample_rate) - integrated_loudness(y, sample_rate),
    }


def peak_headroom_db(chain_output: np.ndarray, sample_rate: int, reference_lufs: float, input_lufs: float) -> float:
    """How far the level stage's loudness gain for ``chain_output`` stays below what its peak stage allows
    (``runtime.level.level_gains_db``), in dB; negative where the peak stage lowered the gain by that much (the
    output then ends below the reference's loudness)."""
    from ..runtime.level import level_gains_db

    gain_db, most = level_gains_db(chain_output, sample_rate, reference_lufs, input_lufs)
    return float(np.clip(most - gain_db, -60.0, 60.0))


def excerpt_example(enhancer, input_audio: np.ndarray, reference_audio: np.ndarray, target: np.ndarray,
                    sample_rate: int, hop_s: float = HOP_S) -> dict:
    """One excerpt as the runtime sees it (a correction ``enhancer``, its corrections not used) plus the
    :func:`metric_terms` of its zero-correction output ``y0`` against ``target``: ``features`` (windows, frames,
    mels) float16, ``reference`` (frames, mels) float16, ``match`` (windows, bands), ``p0`` (24), ``sample_rate``.
    Audio is (frames, channels) at ``sample_rate``. Raises ``InputError`` for a non-correction model."""
    from ..runtime.level import level_loudness, level_stage
    from ..runtime.matching import analytic_fit
    from ..runtime.render import BLOCK_S, render
    from ..runtime.track import ParamTrack, array_blocks
    from ddsp_kernels.match import BandLevels

    if enhancer.output_kind != "correction":
        raise InputError(f"{enhancer.model_path}: excerpt examples need a correction model")
    x = np.asarray(input_audio, np.float32)
    ref = np.asarray(reference_audio, np.float32)
    reference = enhancer.reference(lambda n: array_blocks(ref, n), sample_rate)
    levels = BandLevels(sample_rate)
    times, features, match = [], [], []
    for centre_s, arrays in enhancer.window_inputs(array_blocks(x, enhancer.window_frames(sample_rate)), reference,
                                                   sample_rate, hop_s=hop_s, levels=levels):
        times.append(centre_s)
        features.append(arrays[0][..., 0])
        match.append(arrays[2])
    p0 = analytic_fit(levels, reference.match).astype(np.float32)
    track_values = np.repeat(p0[None], len(times), axis=0)
    track = ParamTrack(np.array(times), track_values, track_values, reference.info)
    block = max(1, round(BLOCK_S * sample_rate))
    chain = np.concatenate(list(render(array_blocks(x, block), track, sample_rate, x.shape[1])))
    input_lufs = level_loudness(x, sample_rate)
    y0 = level_stage(chain, sample_rate, reference.match.loudness_lufs, input_lufs)
    return {"headroom_db": peak_headroom_db(chain, sample_rate, reference.match.loudness_lufs, input_lufs),
            "features": np.array(features, np.float16), "reference": reference.features[..., 0].astype(np.float16),
            "match": np.array(match, np.float32), "p0": p0, "sample_rate": sample_rate,
            **metric_terms(y0, target, sample_rate)}


_WORKER = {}
_RAGGED = ("features", "match", "mel0", "mel_target")  # saved concatenated, with their counts


def _example(args):
    directory, entry, model = args
    from ..evaluation.realmusic import load_item
    from ..runtime.enhancer import Enhancer

    if model not in _WORKER:
        _WORKER[model] = Enhancer(model)
    item = load_item(directory, entry)
    return {"id": item.id, "song": entry.get("song"), "package": entry.get("package"),
            **excerpt_example(_WORKER[model], item.input, item.reference, item.target, item.sample_rate)}


def build_examples(directories: list[str], model: str, out_path: str, *, exclude_songs=(), workers: int = 1,
                   echo=None) -> int:
    """Examples (:func:`excerpt_example`) of the excerpt items of ``directories`` (``data build --corpus``'s
    ``excerpts/``), songs in ``exclude_songs`` left out, saved to ``out_path`` (``.npz``, written atomically) for
    :func:`load_examples`; returns their number. Raises ``InputError`` for a bad directory or model."""
    from ..evaluation.realmusic import check_excerpts
    from ..io.atomic import atomic_path

    exclude = set(exclude_songs)
    jobs = [(d, e, model) for d in directories for e in check_excerpts(d) if e.get("song") not in exclude]
    if not jobs:
        raise InputError("no excerpt items left to make examples of")
    with ProcessPoolExecutor(workers) as pool:
        examples = []
        for k, ex in enumerate(pool.map(_example, jobs, chunksize=2)):
            examples.append(ex)
            if echo is not None and (k + 1) % 20 == 0:
                echo(f"{k + 1}/{len(jobs)} excerpts")
    arrays = {"format": np.array(EXAMPLES_FORMAT)}
    for key in examples[0]:
        if key in _RAGGED:
            arrays[key] = np.concatenate([ex[key] for ex in examples])
            arrays[f"{key}_count"] = np.array([len(ex[key]) for ex in examples])
        else:
            arrays[key] = np.array([ex[key] for ex in examples])
    with atomic_path(out_path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return len(examples)


def load_examples(paths) -> dict:
    """The arrays :func:`build_examples` saved in ``paths`` (one path or several, joined in order), the ragged ones
    as lists per excerpt. Raises ``InputError`` for a file that is not such an archive."""
    out: dict = {}
    for path in [paths] if isinstance(paths, (str, os.PathLike)) else paths:
        if not os.path.isfile(path):
            raise InputError(f"{path}: no such examples file")
        with np.load(path) as data:
            if "format" not in data or str(data["format"]) != EXAMPLES_FORMAT:
                raise InputError(f"{path}: not an {EXAMPLES_FORMAT} archive")
            for key in data.files:
                if key == "format" or key.endswith("_count"):
                    continue
                if f"{key}_count" in data.files:
                    value = np.split(data[key], np.cumsum(data[f"{key}_count"])[:-1])
                else:
                    value = list(data[key])
                out.setdefault(key, []).extend(value)
    return {key: value if key in _RAGGED else np.array(value) for key, value in out.items()}
