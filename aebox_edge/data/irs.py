"""Impulse responses of the venue path: club (PA loudspeaker + room) and phone (microphone + small room or
near-anechoic), synthesized or loaded from a folder, and their reverberation time by Schroeder backward
integration (M. R. Schroeder, "New method of measuring reverberation time", JASA 37, 1965).

The paper (von Estorff & Krause 2024) used five Club Simulation IRs and ten iPhone SE IRs (bedroom, anechoic chamber);
the synthetic ones here stand in for them: exponentially decaying noise with a separate decay per octave band,
discrete early reflections, a direct-to-reverberant ratio, and the loudspeaker's or microphone's response as
IIR filters. Every IR is causal with its direct sound at sample 0 and has unit energy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
from scipy import signal

from ddsp_kernels import rbj_sos

from ..io.audio import read, resample
from ..errors import AudioError, InputError
from .sources import find_audio_files

OCTAVE_CENTERS_HZ = (125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)
LN_1000 = float(np.log(1000.0))  # amplitude decays by 60 dB (a factor 1000) in one RT60


def unit_energy(ir: np.ndarray) -> np.ndarray:
    energy = float(np.sum(np.square(ir, dtype=np.float64)))
    if not np.isfinite(energy) or energy <= 0.0:
        raise ValueError("impulse response is silent or not finite")
    return np.asarray(ir, dtype=np.float64) / np.sqrt(energy)


def _octave_sos(center_hz: float, sample_rate: float, order: int = 2) -> np.ndarray:
    """Octave band filter (Butterworth); the lowest band is a low-pass, the highest a high-pass."""
    nyq = 0.5 * sample_rate
    lo, hi = center_hz / np.sqrt(2.0), center_hz * np.sqrt(2.0)
    if center_hz == OCTAVE_CENTERS_HZ[0]:
        return signal.butter(order, hi, "lowpass", fs=sample_rate, output="sos")
    if hi >= 0.95 * nyq or center_hz == OCTAVE_CENTERS_HZ[-1]:
        return signal.butter(order, min(lo, 0.9 * nyq), "highpass", fs=sample_rate, output="sos")
    return signal.butter(order, (lo, hi), "bandpass", fs=sample_rate, output="sos")


def room_ir(rng: np.random.Generator, sample_rate: float, rt60_s: float, band_factors, drr_db: float,
            early_reflections: int, early_window_s: float) -> np.ndarray:
    """Direct sound + early reflections + late reverb whose octave band ``k`` decays with RT60 ``rt60_s x
    band_factors[k]`` (1 at 500 Hz and 1 kHz, so ``rt60_s`` is the mid-frequency T_mid of ISO 3382)."""
    band_rt60 = rt60_s * np.asarray(band_factors, dtype=np.float64)
    length = int(np.ceil((float(band_rt60.max()) + early_window_s) * sample_rate)) + 1
    t = np.arange(length) / sample_rate
    late = np.zeros(length)
    for center, rt in zip(OCTAVE_CENTERS_HZ, band_rt60):
        if center / np.sqrt(2.0) >= 0.45 * sample_rate:
            continue
        band = signal.sosfilt(_octave_sos(center, sample_rate), rng.standard_normal(length))
        late += band * np.exp(-LN_1000 * t / rt)
    onset = rng.uniform(0.002, 0.01)  # late field builds up over the early-reflection window
    late *= np.clip((t - onset) / max(early_window_s, 1e-3), 0.0, 1.0) ** 2

    early = np.zeros(length)
    times = np.sort(rng.uniform(0.002, early_window_s, early_reflections))
    idx = (times * sample_rate).astype(int)
    gains = rng.choice([-1.0, 1.0], early_reflections) * (times[0] / times) * rng.uniform(0.3, 1.0, early_reflections)
    np.add.at(early, idx, gains)
    wall = signal.butter(1, min(rng.uniform(3000, 9000), 0.45 * sample_rate), fs=sample_rate, output="sos")
    early = signal.sosfilt(wall, early)
    reverb = early / np.sqrt(np.sum(early ** 2)) * rng.uniform(0.4, 1.0) + late / np.sqrt(np.sum(late ** 2))
    reverb *= 10.0 ** (-drr_db / 20.0) / np.sqrt(np.sum(reverb ** 2))  # direct sound has unit energy
    reverb[0] += 1.0
    return reverb


def _peaking(rng, sample_rate, lo_hz, hi_hz, gain_db, q_range=(0.7, 3.0)):
    freq = float(np.exp(rng.uniform(np.log(lo_hz), np.log(hi_hz))))
    return rbj_sos("peak", freq, gain_db, float(rng.uniform(*q_range)), sample_rate)


def club_ir(rng: np.random.Generator, sample_rate: float = 24000, rt60_s: float | None = None,
            rt60_range=(0.3, 1.5)) -> tuple[np.ndarray, dict]:
    """A club: PA loudspeaker response (high-pass 40-100 Hz, low-pass 8-11.5 kHz, two to four +-6 dB
    resonances) applied to a room with mid-frequency RT60 ``rt60_s`` (drawn from ``rt60_range`` if None), longer
    decay in the bass and shorter in the treble, 6-20 early reflections in the first 20-80 ms and a
    direct-to-reverberant ratio of -10..+6 dB. Returns the unit-energy IR and its parameters."""
    rt60 = float(rng.uniform(*rt60_range)) if rt60_s is None else float(rt60_s)
    factors = (rng.uniform(1.1, 1.5), rng.uniform(1.0, 1.2), 1.0, 1.0, rng.uniform(0.8, 0.95),
               rng.uniform(0.6, 0.85), rng.uniform(0.4, 0.7))
    drr = float(rng.uniform(-10.0, 6.0))
    ir = room_ir(rng, sample_rate, rt60, factors, drr, int(rng.integers(6, 21)), float(rng.uniform(0.02, 0.08)))
    hp = float(rng.uniform(40.0, 100.0))
    lp = float(min(rng.uniform(8000.0, 11500.0), 0.46 * sample_rate))
    sections = [signal.butter(int(rng.integers(1, 3)) * 2, hp, "highpass", fs=sample_rate, output="sos"),
                signal.butter(int(rng.integers(1, 3)) * 2, lp, "lowpass", fs=sample_rate, output="sos")]
    for _ in range(int(rng.integers(2, 5))):
        sections.append(_peaking(rng, sample_rate, 60.0, min(8000.0, 0.4 * sample_rate),
                                 float(rng.uniform(-6.0, 6.0)))[None, :])
    ir = signal.sosfilt(np.concatenate(sections), ir)
    info = {"kind": "club", "rt60_s": rt60, "drr_db": drr, "pa_highpass_hz": hp, "pa_lowpass_hz": lp}
    return unit_energy(ir), info


def phone_ir(rng: np.random.Generator, sample_rate: float = 24000, small_room_probability: float = 0.5
             ) -> tuple[np.ndarray, dict]:
    """A phone recording: microphone high-pass 100-200 Hz, low-pass 8-11 kHz, a +2..+8 dB presence bump at
    2-5 kHz, in a small room (RT60 0.15-0.5 s, direct-to-reverberant ratio 0-12 dB) or near-anechoic (one
    weak reflection off the phone's body or a table within 3 ms)."""
    if rng.random() < small_room_probability:
        rt60 = float(rng.uniform(0.15, 0.5))
        factors = (rng.uniform(1.0, 1.4), rng.uniform(1.0, 1.2), 1.0, 1.0, rng.uniform(0.8, 1.0),
                   rng.uniform(0.7, 0.9), rng.uniform(0.5, 0.8))
        ir = room_ir(rng, sample_rate, rt60, factors, float(rng.uniform(0.0, 12.0)), int(rng.integers(4, 10)),
                     float(rng.uniform(0.005, 0.02)))
        room = {"room": "small", "rt60_s": rt60}
    else:
        ir = np.zeros(int(0.1 * sample_rate))
        ir[0] = 1.0
        ir[int(rng.uniform(0.0003, 0.003) * sample_rate) + 1] += rng.uniform(-0.4, 0.4)
        room = {"room": "anechoic"}
    hp = float(rng.uniform(100.0, 200.0))
    lp = float(min(rng.uniform(8000.0, 11000.0), 0.46 * sample_rate))
    presence = float(rng.uniform(2.0, 8.0))
    sos = np.concatenate([
        signal.butter(int(rng.integers(1, 3)) * 2, hp, "highpass", fs=sample_rate, output="sos"),
        signal.butter(int(rng.integers(2, 5)) * 2, lp, "lowpass", fs=sample_rate, output="sos"),
        _peaking(rng, sample_rate, 2000.0, min(5000.0, 0.4 * sample_rate), presence, (0.7, 2.0))[None, :],
    ])
    ir = signal.sosfilt(sos, ir)
    return unit_energy(ir), {"kind": "phone", "mic_highpass_hz": hp, "mic_lowpass_hz": lp,
                             "presence_db": presence, **room}


def schroeder_rt60(ir: np.ndarray, sample_rate: float, band_hz: float | None = None,
                   fit_db=(-5.0, -35.0)) -> float:
    """Reverberation time from the Schroeder energy decay curve ``EDC(t) = sum_{tau >= t} h(tau)^2``: a
    least-squares line through the EDC between ``fit_db`` (T30 by default), extrapolated to -60 dB. With
    ``band_hz`` the IR is first filtered to that octave band."""
    h = np.asarray(ir, dtype=np.float64)
    if band_hz is not None:
        h = signal.sosfilt(_octave_sos(band_hz, sample_rate, order=3), h)
    edc = np.cumsum(h[::-1] ** 2)[::-1]
    edc_db = 10.0 * np.log10(np.maximum(edc / edc[0], 1e-300))
    start, stop = fit_db
    i0 = int(np.argmax(edc_db <= start))
    i1 = int(np.argmax(edc_db <= stop))
    if edc_db[-1] > stop or i1 - i0 < 3:
        raise ValueError(f"energy decay curve does not reach {stop} dB")
    t = np.arange(i0, i1) / sample_rate
    slope = np.polyfit(t, edc_db[i0:i1], 1)[0]
    return float(-60.0 / slope)


def rt60_mid(ir: np.ndarray, sample_rate: float) -> float:
    """T_mid of ISO 3382: the mean of the 500 Hz and 1 kHz octave-band T30."""
    return 0.5 * (schroeder_rt60(ir, sample_rate, 500.0) + schroeder_rt60(ir, sample_rate, 1000.0))


def venue_ir(club: np.ndarray, phone: np.ndarray) -> np.ndarray:
    """The whole path, loudspeaker -> room -> phone, as one unit-energy IR."""
    return unit_energy(signal.fftconvolve(club, phone))


def convolve(x: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """Causal convolution trimmed to the input's length (direct sound at sample 0 keeps alignment)."""
    return signal.fftconvolve(x, ir)[: len(x)]


def trim_ir(ir: np.ndarray, floor_db: float = -80.0, onset_db: float = -20.0,
            sample_rate: float = 24000, lead_ms: float = 1.0) -> np.ndarray:
    """Drop a measured IR's leading silence (up to ``lead_ms`` before the first sample within ``onset_db`` of the
    peak; 0 puts that onset at sample 0, so the IR does not delay what it is convolved with) and the tail after its
    energy decay curve falls below ``floor_db``."""
    mag = np.abs(ir)
    onset = int(np.argmax(mag >= mag.max() * 10.0 ** (onset_db / 20.0)))
    ir = ir[max(0, onset - int(lead_ms * 1e-3 * sample_rate)):]
    edc = np.cumsum(ir[::-1] ** 2)[::-1]
    end = int(np.searchsorted(-edc, -edc[0] * 10.0 ** (floor_db / 10.0)))
    return ir[: max(end, 1)]


@dataclass
class IRBank:
    """IR files loaded from a folder: files under a folder named ``phone`` are phone IRs, all others club IRs.
    Either list may be empty, in which case that stage is synthesized."""

    root: str
    club: list[np.ndarray] = field(default_factory=list)
    phone: list[np.ndarray] = field(default_factory=list)
    club_files: list[str] = field(default_factory=list)
    phone_files: list[str] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)

    def describe(self) -> dict:
        return {"root": self.root, "club": self.club_files, "phone": self.phone_files, "skipped": self.skipped}


def load_ir_folder(root: str, sample_rate: int = 24000, warn=None) -> IRBank:
    """Load every audio file under ``root`` as an IR: any rate and channel count (channels averaged, resampled
    to ``sample_rate``), leading silence and inaudible tail trimmed, unit energy. Unreadable or silent files are
    skipped (``warn(message)`` is called for each). Raises ``InputError`` when no IR could be loaded."""
    bank = IRBank(root=os.fspath(root))
    for rel in find_audio_files(root):
        try:
            x, sr = read(os.path.join(root, rel))
            mono = np.mean(np.asarray(x, dtype=np.float64), axis=1)
            if sr != sample_rate:
                mono = np.asarray(resample(mono, sr, sample_rate), dtype=np.float64)
            ir = unit_energy(trim_ir(mono, sample_rate=sample_rate))
        except (AudioError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, AudioError) else str(exc)
            bank.skipped.append({"path": rel, "reason": reason})
            if warn is not None:
                warn(f"skipping impulse response {rel}: {reason}")
            continue
        if "phone" in (part.lower() for part in rel.split("/")[:-1]):
            bank.phone.append(ir)
            bank.phone_files.append(rel)
        else:
            bank.club.append(ir)
            bank.club_files.append(rel)
    if not bank.club and not bank.phone:
        raise InputError(f"no usable impulse response under {root}")
    return bank
