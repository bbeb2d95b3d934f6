"""Figures like the paper's Fig. 3 (spectrograms) and Fig. 12 (waveforms) of dirty / predicted / target audio.
matplotlib (the ``train``, ``dev`` or ``demo`` extra) is imported only when a figure is drawn."""

from __future__ import annotations

import numpy as np

from ..frontend import stft
from ..io.atomic import atomic_path


def plot_clip(prefix: str, dirty, predicted, target, sample_rate: int) -> list[str]:
    """``PREFIX_spectrogram.png`` (dirty / predicted / target STFTs in dB, like the paper's Fig. 3) and
    ``PREFIX_waveform.png`` (the three waveforms, like its Fig. 12); returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    signals = {"Dirty input": dirty, "Predicted": predicted, "Target": target}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4), sharey=True, constrained_layout=True)
    spectra = {k: 20 * np.log10(np.abs(stft(np.asarray(v, np.float32), 1024, 256)) + 1e-6) for k, v in
               signals.items()}
    top = max(float(s.max()) for s in spectra.values())
    for ax, (title, spectrum) in zip(axes, spectra.items()):
        duration = len(dirty) / sample_rate
        image = ax.imshow(spectrum.T, origin="lower", aspect="auto", vmin=top - 80, vmax=top, cmap="magma",
                          extent=(0, duration, 0, sample_rate / 2000))
        ax.set(title=title, xlabel="time (s)")
    axes[0].set_ylabel("frequency (kHz)")
    fig.colorbar(image, ax=axes, label="dB")
    spectrogram = f"{prefix}_spectrogram.png"
    with atomic_path(spectrogram) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)

    fig, axes = plt.subplots(3, 1, figsize=(12, 6), sharex=True, sharey=True, constrained_layout=True)
    t = np.arange(len(dirty)) / sample_rate
    for ax, (title, signal) in zip(axes, signals.items()):
        ax.plot(t, signal, linewidth=0.3)
        ax.set(title=title, ylabel="amplitude")
    axes[-1].set_xlabel("time (s)")
    waveform = f"{prefix}_waveform.png"
    with atomic_path(waveform) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return [spectrogram, waveform]
