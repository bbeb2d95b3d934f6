"""Crowd noise for the dirty input: babble, claps and cheers, added at a chosen signal-to-noise ratio.

- Babble: speech-shaped noise (150 Hz to 3-6 kHz, -3 dB/octave tilt) with a slow swell of the crowd (0.05-1 Hz),
  plus two to five formant-like bands (300 Hz-3 kHz), each with its own syllabic envelope (3-7 Hz).
- Claps: short band-passed noise bursts (1-5 kHz, 5-15 ms), sporadic or dense like applause.
- Cheers: sung "woo" shouts, a harmonic voice whose pitch rises then falls over 0.4-1.5 s, with breath noise.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

CONTROL_RATE = 100.0  # Hz, rate of the modulation envelopes before interpolation to audio rate


def _smooth_noise(rng, length, sample_rate, band_hz):
    """Band-limited random control signal (zero mean, unit std) interpolated to audio rate."""
    n_ctrl = int(length / sample_rate * CONTROL_RATE) + 8
    lo, hi = band_hz
    sos = signal.butter(2, (lo, hi), "bandpass", fs=CONTROL_RATE, output="sos") if lo > 0 else \
        signal.butter(2, hi, "lowpass", fs=CONTROL_RATE, output="sos")
    ctrl = signal.sosfilt(sos, rng.standard_normal(n_ctrl + 200))[200:]
    ctrl /= max(np.std(ctrl), 1e-12)
    return np.interp(np.arange(length) / sample_rate * CONTROL_RATE, np.arange(n_ctrl), ctrl)


def _unit_rms(x):
    return x / max(np.sqrt(np.mean(x ** 2)), 1e-12)


def babble(rng: np.random.Generator, length: int, sample_rate: float) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(length))
    freqs = np.fft.rfftfreq(length, 1.0 / sample_rate)
    hp, lp = 150.0, rng.uniform(3000.0, 6000.0)  # second-order skirts, -3 dB/octave between
    spectrum *= (freqs / hp) ** 2 / (1.0 + (freqs / hp) ** 2) / np.sqrt(1.0 + freqs / hp) / (1.0 + (freqs / lp) ** 2)
    base = _unit_rms(np.fft.irfft(spectrum, length))
    swell = np.exp(rng.uniform(0.1, 0.6) * _smooth_noise(rng, length, sample_rate, (0.0, rng.uniform(0.05, 1.0))))
    out = base * swell
    for _ in range(int(rng.integers(2, 6))):
        center = float(np.exp(rng.uniform(np.log(300.0), np.log(3000.0))))
        sos = signal.butter(2, (center / 1.4, min(center * 1.4, 0.45 * sample_rate)), "bandpass",
                            fs=sample_rate, output="sos")
        band = _unit_rms(signal.sosfilt(sos, rng.standard_normal(length)))
        syllables = np.maximum(_smooth_noise(rng, length, sample_rate, (3.0, 7.0)) + rng.uniform(-0.5, 0.5), 0.0)
        out += rng.uniform(0.3, 1.0) * band * syllables
    return _unit_rms(out)


def claps(rng: np.random.Generator, length: int, sample_rate: float) -> np.ndarray:
    rate = rng.uniform(15.0, 40.0) if rng.random() < 0.4 else rng.uniform(0.5, 4.0)  # applause or sporadic
    count = max(1, int(rng.poisson(rate * length / sample_rate)))
    out = np.zeros(length)
    for _ in range(3):  # three clap timbres, each a kernel convolved with its own impulse train
        dur = rng.uniform(0.005, 0.015)
        t = np.arange(int(dur * 4 * sample_rate)) / sample_rate
        center = float(np.exp(rng.uniform(np.log(1000.0), np.log(min(5000.0, 0.3 * sample_rate)))))
        sos = signal.butter(2, (center / 1.5, center * 1.5), "bandpass", fs=sample_rate, output="sos")
        kernel = signal.sosfilt(sos, rng.standard_normal(len(t))) * np.exp(-t / dur)
        train = np.zeros(length)
        idx = rng.integers(0, length, count // 3 + 1)
        np.add.at(train, idx, rng.uniform(0.2, 1.0, len(idx)))
        out += signal.fftconvolve(train, kernel)[:length]
    return _unit_rms(out)


def cheers(rng: np.random.Generator, length: int, sample_rate: float) -> np.ndarray:
    out = np.zeros(length)
    for _ in range(int(rng.integers(1, 4))):
        dur = rng.uniform(0.4, 1.5)
        n = int(dur * sample_rate)
        start = int(rng.integers(-n // 2, length))
        t = np.arange(n) / sample_rate
        f0 = rng.uniform(250.0, 600.0) * 2.0 ** (rng.uniform(2.0, 5.0) / 12.0 * np.sin(np.pi * t / dur))
        phase = 2 * np.pi * np.cumsum(f0) / sample_rate
        formant = rng.uniform(600.0, 1200.0)
        voice = sum(np.sin(k * phase) * np.exp(-((k * f0 - formant) / 1500.0) ** 2) / k
                    for k in range(1, int(0.45 * sample_rate / f0.max()) + 1))
        voice = voice + rng.uniform(0.05, 0.3) * rng.standard_normal(n)
        env = np.minimum(t / 0.1, 1.0) * np.minimum((dur - t) / 0.3, 1.0)
        seg = voice * env
        lo = max(start, 0)
        out[lo:start + n] += seg[lo - start:min(n, length - start)]
    return _unit_rms(out) if np.any(out) else out


def crowd_noise(rng: np.random.Generator, length: int, sample_rate: float) -> np.ndarray:
    """Babble, with claps (probability 0.6, -12..+3 dB) and cheers (probability 0.5, -10..0 dB); unit RMS."""
    out = babble(rng, length, sample_rate)
    if rng.random() < 0.6:
        out += 10.0 ** (rng.uniform(-12.0, 3.0) / 20.0) * claps(rng, length, sample_rate)
    if rng.random() < 0.5:
        out += 10.0 ** (rng.uniform(-10.0, 0.0) / 20.0) * cheers(rng, length, sample_rate)
    return _unit_rms(out)


def scale_to_snr(noise: np.ndarray, reference: np.ndarray, snr_db: float) -> np.ndarray:
    """``noise`` scaled so that mean power of ``reference`` over that of the result is ``snr_db``."""
    p_ref = float(np.mean(np.square(reference)))
    p_noise = max(float(np.mean(np.square(noise))), 1e-30)
    return noise * np.sqrt(p_ref / p_noise * 10.0 ** (-snr_db / 10.0))
