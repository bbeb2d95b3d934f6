"""One example as something to listen to and look at: input/reference/target wav files and a PNG of their
spectrograms on a shared dB scale (matplotlib, imported only here)."""

from __future__ import annotations

import os

import numpy as np
from scipy import signal

from ..io.atomic import atomic_path, check_outputs
from ..io.audio import write
from .dataset import AUDIO_ARRAYS, DatasetReader


def spectrogram_db(x: np.ndarray, sample_rate: int, n_fft: int = 1024, hop: int = 256):
    f, t, z = signal.stft(x, sample_rate, window="hann", nperseg=n_fft, noverlap=n_fft - hop, boundary=None,
                          padded=False)
    return f, t, 20.0 * np.log10(np.maximum(np.abs(z), 1e-7))


PNG_NAME = "spectrograms.png"


def preview_paths(out_dir: str) -> dict[str, str]:
    """What ``write_preview`` writes in ``out_dir``: name -> path (the three wav files and the PNG)."""
    return {**{name: os.path.join(out_dir, f"{name}.wav") for name in AUDIO_ARRAYS},
            "png": os.path.join(out_dir, PNG_NAME)}


def write_preview(reader: DatasetReader, index: int, out_dir: str, warn=None, force: bool = False) -> list[str]:
    """Write ``input.wav``, ``reference.wav``, ``target.wav`` and ``spectrograms.png`` for example ``index``;
    returns the paths written. Without matplotlib the PNG is skipped with a warning. Files already in ``out_dir``
    are replaced only with ``force``: otherwise ``PathError`` before anything is written (``atomic.check_outputs``)."""
    example = reader[index]
    sr = int(reader.manifest["sample_rate"])
    os.makedirs(out_dir, exist_ok=True)
    targets = preview_paths(out_dir)
    check_outputs(targets, force=force)
    paths = []
    for name in AUDIO_ARRAYS:
        write(targets[name], example[name], sr, subtype="FLOAT", overwrite=force)
        paths.append(targets[name])
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        if warn is not None:
            warn("matplotlib is not installed; no spectrogram PNG (pip install 'aebox-edge[dev]')")
        return paths
    specs = [spectrogram_db(example[name], sr) for name in AUDIO_ARRAYS]
    top = max(float(s[2].max()) for s in specs)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), sharey=True, constrained_layout=True)
    labels = {"input": "input = dirty", "reference": "reference = clean, other half", "target": "target = clean"}
    for ax, name, (f, t, db) in zip(axes, AUDIO_ARRAYS, specs):
        mesh = ax.pcolormesh(t, f / 1000.0, db, vmin=top - 80.0, vmax=top, shading="auto", cmap="magma")
        ax.set_title(labels[name])
        ax.set_xlabel("time (s)")
    axes[0].set_ylabel("frequency (kHz)")
    fig.colorbar(mesh, ax=axes, label="dB")
    swapped = " (swapped)" if bool(example["swapped"]) else ""
    snr = float(example["snr_db"])
    fig.suptitle(f"example {index}: clip {int(example['clip'])}{swapped}, style {example['style']}, "
                 f"crowd SNR {'off' if np.isnan(snr) else f'{snr:.1f} dB'}")
    path = targets["png"]
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return paths + [path]
