"""Real audio as a data source: finding audio files in a folder and cutting random non-silent patches from them
(as the paper did with Jamendo and MUSDB18: 5 s segments checked for silence)."""

from __future__ import annotations

import os

import numpy as np

from ..io.audio import resample

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc", ".au", ".snd",
                    ".caf", ".w64", ".rf64")
SILENCE_DB = -45.0  # a patch is non-silent when every 1 s frame of it has an RMS above this (dBFS)
HOP_S = 0.25  # grid of candidate patch starts
RESAMPLE_MARGIN_S = 0.05


def find_audio_files(root) -> list[str]:
    """Paths (relative to ``root``, '/'-separated, sorted) of the files with an audio extension under ``root``."""
    root = os.fspath(root)
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in files:
            if name.lower().endswith(AUDIO_EXTENSIONS) and not name.startswith("."):
                rel = os.path.relpath(os.path.join(folder, name), root)
                found.append(rel.replace(os.sep, "/"))
    return sorted(found)


def nonsilent_starts(x: np.ndarray, sample_rate: int, length: int, silence_db: float = SILENCE_DB) -> np.ndarray:
    """Candidate starts (on a 0.25 s grid) of ``length``-sample patches whose every 1 s frame is non-silent."""
    if len(x) < length:
        return np.zeros(0, dtype=np.int64)
    hop = max(1, int(HOP_S * sample_rate))
    frame = int(sample_rate)
    starts = np.arange(0, len(x) - length + 1, hop)
    energy = np.concatenate([[0.0], np.cumsum(np.square(x, dtype=np.float64))])
    floor = frame * 10.0 ** (silence_db / 10.0)
    ok = np.ones(len(starts), dtype=bool)
    for offset in range(0, length - frame + 1, frame):
        ok &= energy[starts + offset + frame] - energy[starts + offset] > floor
    return starts[ok]


def random_patches(x: np.ndarray, sample_rate: int, target_rate: int, seconds: float, count: int,
                   rng: np.random.Generator) -> list[tuple[float, np.ndarray]]:
    """Up to ``count`` random non-silent patches of a mono signal, each resampled to ``target_rate`` and exactly
    ``seconds x target_rate`` samples long; returns ``(start_seconds, patch)`` pairs in time order."""
    out_len = int(round(seconds * target_rate))
    length = int(np.ceil(seconds * sample_rate))
    starts = nonsilent_starts(x, sample_rate, length)
    if len(starts) == 0:
        return []
    chosen = np.sort(rng.choice(starts, size=min(count, len(starts)), replace=False))
    margin = int(RESAMPLE_MARGIN_S * sample_rate)
    patches = []
    for start in chosen:
        lo, hi = max(0, start - margin), min(len(x), start + length + margin)
        seg = np.asarray(resample(x[lo:hi], sample_rate, target_rate), dtype=np.float64)
        skip = int(round((start - lo) * target_rate / sample_rate))
        patch = seg[skip:skip + out_len]
        if len(patch) < out_len:
            patch = np.pad(patch, (0, out_len - len(patch)))
        patches.append((float(start / sample_rate), patch))
    return patches
