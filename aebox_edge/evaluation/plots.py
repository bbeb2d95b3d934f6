"""Figures like the paper's Fig. 3 (spectrograms) and Fig. 12 (waveforms) of dirty / predicted / target audio.
matplotlib (the ``train``, ``dev`` or ``demo`` extra) is imported only when a figure is drawn."""

from __future__ import annotations

import numpy as np

from ..frontend import stft
from ..io.atomic import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_spectrograms(path: str, signals: dict, sample_rate: int, columns: int = 3) -> str:
    """One PNG of the STFT magnitudes in dB (1024-point Hann, hop 256; the paper's Fig. 3) of each named signal
    ``(samples,)`` or ``(samples, channels)`` (channels mixed by their mean), on one colour scale (80 dB below the
    loudest bin), ``columns`` panels a row; returns ``path``."""
    plt = _pyplot()
    rows = -(-len(signals) // columns)
    cols = min(columns, len(signals))
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 4 * rows), sharey=True, squeeze=False,
                             constrained_layout=True)
    mono = {k: (v.mean(axis=1) if v.ndim == 2 else v) for k, v in ((k, np.asarray(v, np.float32))
                                                                   for k, v in signals.items())}
    spectra = {k: 20 * np.log10(np.abs(stft(v, 1024, 256)) + 1e-6) for k, v in mono.items()}
    top = max(float(s.max()) for s in spectra.values())
    for ax, (title, spectrum) in zip(axes.flat, spectra.items()):
        duration = len(mono[title]) / sample_rate
        image = ax.imshow(spectrum.T, origin="lower", aspect="auto", vmin=top - 80, vmax=top, cmap="magma",
                          extent=(0, duration, 0, sample_rate / 2000))
        ax.set(title=title, xlabel="time (s)")
    for ax in axes.flat[len(spectra):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("frequency (kHz)")
    fig.colorbar(image, ax=axes, label="dB")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return path


def plot_param_track(path: str, times_s, params: dict, title: str = "") -> str:
    """The parameter track of ``aebox-edge run`` (``--params-out``'s ``times_s`` and physical ``params``, name ->
    value per analysis window) as one panel per unit (dB, Hz, ms, dimensionless); returns ``path``."""
    from ddsp_kernels import PARAM_SPEC

    plt = _pyplot()
    units = [u for u in ("dB", "Hz", "ms", "") if u in PARAM_SPEC.units]
    fig, axes = plt.subplots(len(units), 1, figsize=(12, 2.6 * len(units)), sharex=True, constrained_layout=True)
    for ax, unit in zip(axes, units):
        for name, u in zip(PARAM_SPEC.names, PARAM_SPEC.units):
            if u == unit and name in params:
                ax.plot(times_s, params[name], marker=".", linewidth=1, label=name)
        ax.set(ylabel=unit or "Q / ratio", yscale="log" if unit in ("Hz", "ms") else "linear")
        ax.legend(fontsize=7, ncol=3, loc="upper right")
    axes[0].set_title(title)
    axes[-1].set_xlabel("analysis window centre (s)")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return path


def plot_clip(prefix: str, dirty, predicted, target, sample_rate: int) -> list[str]:
    """``PREFIX_spectrogram.png`` (dirty / predicted / target STFTs in dB, like the paper's Fig. 3) and
    ``PREFIX_waveform.png`` (the three waveforms, like its Fig. 12); returns the paths."""
    plt = _pyplot()
    signals = {"Dirty input": dirty, "Predicted": predicted, "Target": target}
    spectrogram = plot_spectrograms(f"{prefix}_spectrogram.png", signals, sample_rate)

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
