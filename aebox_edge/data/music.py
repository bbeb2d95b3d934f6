"""Seeded procedural music: drums (kick, snare or clap, hats), bass, chords or pads, and a lead line.

Every choice comes from the caller's ``numpy.random.Generator``: tempo (70-170 BPM), swing, key and mode, chord
progression and harmonic rhythm, voicings, drum pattern, bass and lead rhythms, timbres (band-limited wavetables
with brightness, detuned unison, plucked filter sweeps, two-operator FM), per-part mix levels, which parts play in
which bar (arrangement density), a master tilt EQ, saturation and level. Oscillators read wavetables built by
inverse FFT with harmonics only below 0.45 x the sample rate, so any rate is alias-free apart from FM sidebands.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import signal

from ddsp_kernels import rbj_sos

TABLE_SIZE = 2048
MAX_HARMONIC_RATIO = 0.45  # highest harmonic of a wavetable, as a fraction of the sample rate

SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
}
# Progressions as 0-based scale degrees (I-V-vi-IV, vi-IV-I-V, ii-V-I-I, i-VI-III-VII, twelve-bar fragments...).
PROGRESSIONS = (
    (0, 4, 5, 3), (5, 3, 0, 4), (1, 4, 0, 0), (0, 5, 2, 6), (0, 3, 4, 3), (0, 3, 0, 4),
    (0, 0, 3, 3), (0, 6, 5, 4), (0, 2, 3, 4), (3, 4, 2, 5), (0, 4), (0, 3), (0,),
)
# Drum patterns on a 16-step bar: kick, snare, hat steps.
DRUM_PATTERNS = {
    "four_on_floor": ((0, 4, 8, 12), (4, 12), (2, 6, 10, 14)),
    "rock": ((0, 8, 10), (4, 12), tuple(range(0, 16, 2))),
    "hiphop": ((0, 7, 10), (4, 12), tuple(range(0, 16, 2))),
    "halftime": ((0, 11), (8,), tuple(range(0, 16, 2))),
    "breakbeat": ((0, 10), (4, 12, 15), tuple(range(16))),
    "disco": ((0, 4, 8, 12), (4, 12), tuple(range(16))),
    "shuffle": ((0, 6, 10), (4, 12), (0, 3, 4, 7, 8, 11, 12, 15)),
}
BASS_PATTERNS = (
    (0,), (0, 8), (0, 4, 8, 12), tuple(range(0, 16, 2)), (0, 3, 6, 10), (0, 6, 8, 14), (0, 2, 8, 10, 14),
)
WAVE_SHAPES = ("saw", "square", "triangle", "sine", "pulse", "organ")


def midi_to_hz(note) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(note, dtype=np.float64) - 69.0) / 12.0)


def harmonic_amplitudes(shape: str, f0: float, sample_rate: float, cutoff_hz: float, rng=None) -> np.ndarray:
    """Amplitudes of harmonics 1..H (H f0 < 0.45 fs) of a wave shape, rolled off above ``cutoff_hz``."""
    count = max(1, int(MAX_HARMONIC_RATIO * sample_rate / f0))
    n = np.arange(1, count + 1, dtype=np.float64)
    if shape == "saw":
        amps = 1.0 / n
    elif shape == "square":
        amps = np.where(n % 2 == 1, 1.0 / n, 0.0)
    elif shape == "triangle":
        amps = np.where(n % 2 == 1, (1.0 - 2.0 * (((n - 1) // 2) % 2)) / n ** 2, 0.0)
    elif shape == "pulse":
        width = 0.25 if rng is None else rng.uniform(0.1, 0.4)
        amps = np.sin(np.pi * n * width) / n
    elif shape == "organ":  # drawbars at harmonics 1, 2, 3, 4, 6, 8
        weights = np.array([1.0, 0.7, 0.5, 0.4, 0.3, 0.2]) if rng is None else rng.uniform(0.0, 1.0, 6)
        weights[0] = 1.0
        amps = np.zeros(count)
        for h, w in zip((1, 2, 3, 4, 6, 8), weights):
            if h <= count:
                amps[h - 1] = w
    elif shape == "sine":
        amps = np.zeros(count)
        amps[0] = 1.0
    else:
        raise ValueError(f"unknown wave shape {shape!r}")
    return amps * np.exp(-np.maximum(n * f0 - f0, 0.0) / max(cutoff_hz, 1.0))


def wavetable(amps: np.ndarray) -> np.ndarray:
    """One band-limited cycle (sine phases) with the first sample repeated at the end, peak 1."""
    spec = np.zeros(TABLE_SIZE // 2 + 1, dtype=np.complex128)
    count = min(len(amps), TABLE_SIZE // 2 - 1)
    spec[1:count + 1] = -1j * amps[:count]
    table = np.fft.irfft(spec, TABLE_SIZE)
    table /= max(np.max(np.abs(table)), 1e-12)
    return np.append(table, table[0])


def oscillator(table: np.ndarray, freq_hz, length: int, sample_rate: float, phase0: float = 0.0) -> np.ndarray:
    """Read ``table`` at a constant or per-sample frequency with linear interpolation."""
    freq = np.asarray(freq_hz, dtype=np.float64)
    if freq.ndim == 0:
        phase = phase0 + np.arange(1, length + 1) * (float(freq) / sample_rate)
    else:
        phase = phase0 + np.cumsum(freq[:length] / sample_rate)
    phase -= np.floor(phase)
    pos = phase * TABLE_SIZE
    idx = pos.astype(np.int64)
    frac = pos - idx
    return table[idx] + frac * (table[idx + 1] - table[idx])


def envelope(length: int, sample_rate: float, kind: tuple, hold_s: float) -> np.ndarray:
    """``("adsr", a, d, s, r)`` held for ``hold_s`` then released, or ``("perc", attack, decay, release)``."""
    t = np.arange(length) / sample_rate
    if kind[0] == "adsr":
        _, a, d, s, r = kind
        end = max(hold_s, a + d)
        return np.interp(t, (0.0, a, a + d, end, end + r), (0.0, 1.0, s, s, 0.0))
    _, attack, decay, release = kind
    env = np.minimum(t / attack, 1.0) * np.exp(-t / decay)
    return env * np.interp(t, (0.0, hold_s, hold_s + release), (1.0, 1.0, 0.0))


def random_timbre(rng: np.random.Generator, role: str) -> dict:
    """A synthesizer patch for a pitched part: ``role`` is "bass", "chords" or "lead"."""
    if role == "bass":
        shape = rng.choice(["saw", "square", "sine", "triangle", "pulse"], p=[0.3, 0.2, 0.25, 0.1, 0.15])
        cutoff = float(np.exp(rng.uniform(np.log(150.0), np.log(2500.0))))
        env = ("perc", 0.003, rng.uniform(0.15, 1.2), 0.03) if rng.random() < 0.5 else \
            ("adsr", 0.005, rng.uniform(0.05, 0.3), rng.uniform(0.5, 1.0), 0.05)
    elif role == "chords":
        shape = rng.choice(WAVE_SHAPES, p=[0.3, 0.15, 0.15, 0.1, 0.1, 0.2])
        cutoff = float(np.exp(rng.uniform(np.log(300.0), np.log(8000.0))))
        env = ("adsr", rng.uniform(0.005, 0.6), rng.uniform(0.1, 0.8), rng.uniform(0.3, 0.9),
               rng.uniform(0.05, 0.8)) if rng.random() < 0.6 else \
            ("perc", 0.003, rng.uniform(0.2, 1.5), rng.uniform(0.05, 0.3))
    else:
        shape = rng.choice(WAVE_SHAPES, p=[0.3, 0.25, 0.15, 0.1, 0.15, 0.05])
        cutoff = float(np.exp(rng.uniform(np.log(500.0), np.log(12000.0))))
        env = ("adsr", rng.uniform(0.003, 0.08), rng.uniform(0.05, 0.4), rng.uniform(0.4, 1.0),
               rng.uniform(0.03, 0.3)) if rng.random() < 0.7 else \
            ("perc", 0.002, rng.uniform(0.1, 0.8), rng.uniform(0.03, 0.2))
    return {
        "shape": str(shape),
        "cutoff_hz": cutoff,
        "env": env,
        "voices": int(rng.choice([1, 2, 3], p=[0.5, 0.25, 0.25])) if role != "bass" else 1,
        "detune_cents": float(rng.uniform(3.0, 18.0)),
        "pluck_s": float(rng.uniform(0.03, 0.4)) if rng.random() < 0.35 else None,
        "fm": (float(rng.choice([1.0, 2.0, 3.0, 3.5, 0.5])), float(rng.uniform(0.5, 4.0)),
               float(rng.uniform(0.05, 0.8))) if rng.random() < 0.2 else None,
        "vibrato": (float(rng.uniform(4.5, 6.5)), float(rng.uniform(5.0, 30.0)), float(rng.uniform(0.1, 0.4)))
        if role == "lead" and rng.random() < 0.6 else None,
    }


def render_note(timbre: dict, midi: float, hold_s: float, sample_rate: float, rng: np.random.Generator,
                glide_from: float | None = None) -> np.ndarray:
    """One note of a pitched part: oscillator(s) through the patch's envelope, released after ``hold_s``."""
    env_kind = timbre["env"]
    release = env_kind[4] if env_kind[0] == "adsr" else env_kind[3]
    length = int((hold_s + release) * sample_rate) + 1
    t = np.arange(length) / sample_rate
    f0 = float(midi_to_hz(midi))
    freq = np.full(length, f0)
    if glide_from is not None:
        freq *= 2.0 ** ((glide_from - midi) / 12.0 * np.exp(-t / 0.04))
    if timbre["vibrato"] is not None:
        rate, depth, delay = timbre["vibrato"]
        freq *= 2.0 ** (depth / 1200.0 * np.sin(2 * np.pi * rate * t) * np.clip((t - delay) / 0.2, 0.0, 1.0))
    if timbre["fm"] is not None:
        ratio, index, decay = timbre["fm"]
        phase = 2 * np.pi * np.cumsum(freq) / sample_rate
        y = np.sin(phase + index * np.exp(-t / decay) * np.sin(ratio * phase))
    else:
        top = float(freq.max())
        detunes = [0.0] if timbre["voices"] == 1 else \
            np.linspace(-1.0, 1.0, timbre["voices"]) * timbre["detune_cents"]
        y = np.zeros(length)
        for cents in detunes:
            ratio = 2.0 ** (cents / 1200.0)
            amps = harmonic_amplitudes(timbre["shape"], top * ratio, sample_rate, timbre["cutoff_hz"])
            phase0 = rng.random()
            bright = oscillator(wavetable(amps), freq * ratio, length, sample_rate, phase0)
            if timbre["pluck_s"] is not None:  # filter sweep: bright attack fading to a darker table
                dark_amps = harmonic_amplitudes(timbre["shape"], top * ratio, sample_rate,
                                                timbre["cutoff_hz"] / 6.0)
                dark = oscillator(wavetable(dark_amps), freq * ratio, length, sample_rate, phase0)
                bright = dark + (bright - dark) * np.exp(-t / timbre["pluck_s"])
            y += bright
        y /= len(detunes)
    return y * envelope(length, sample_rate, env_kind, hold_s)


def _noise_burst(rng, length, sample_rate, band, decay_s, order=2):
    """Filtered white noise with an exponential decay (drum and hat bodies)."""
    nyq = 0.5 * sample_rate
    lo, hi = band
    hi = min(hi, 0.95 * nyq)
    if lo is None:
        sos = signal.butter(order, hi, "lowpass", fs=sample_rate, output="sos")
    elif hi <= lo * 1.05:
        sos = signal.butter(order, min(lo, 0.9 * nyq), "highpass", fs=sample_rate, output="sos")
    else:
        sos = signal.butter(order, (lo, hi), "bandpass", fs=sample_rate, output="sos")
    t = np.arange(length) / sample_rate
    return signal.sosfilt(sos, rng.standard_normal(length)) * np.exp(-t / decay_s)


def drum_kit(rng: np.random.Generator, sample_rate: float) -> dict[str, np.ndarray]:
    """Kick (swept sine with a click), snare (tone + noise) or clap (noise bursts), closed and open hats
    (high-passed noise or six detuned square waves), each peak-normalized."""
    sr = sample_rate
    t = np.arange(int(0.6 * sr)) / sr
    f_start, f_end = rng.uniform(90, 220), rng.uniform(38, 65)
    freq = f_end + (f_start - f_end) * np.exp(-t / rng.uniform(0.015, 0.06))
    kick = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / rng.uniform(0.08, 0.35))
    kick[: int(0.003 * sr)] += rng.uniform(0.0, 0.6) * rng.standard_normal(int(0.003 * sr))

    t = np.arange(int(0.4 * sr)) / sr
    if rng.random() < 0.7:
        tone = np.sin(2 * np.pi * rng.uniform(160, 260) * t) * np.exp(-t / rng.uniform(0.03, 0.08))
        noise = _noise_burst(rng, len(t), sr, (rng.uniform(800, 2000), rng.uniform(6000, 11000)),
                             rng.uniform(0.06, 0.2))
        snare = rng.uniform(0.3, 1.0) * tone / np.max(np.abs(tone)) + noise / np.max(np.abs(noise))
    else:  # clap: three or four short bursts then a tail
        snare = _noise_burst(rng, len(t), sr, (900.0, 5000.0), rng.uniform(0.05, 0.15))
        for k in range(int(rng.integers(3, 5))):
            start = int(k * 0.011 * sr)
            burst = _noise_burst(rng, int(0.01 * sr), sr, (900.0, 5000.0), 0.004)
            snare[start:start + len(burst)] += 2.0 * burst / max(np.max(np.abs(burst)), 1e-9)

    t = np.arange(int(0.5 * sr)) / sr
    hat_lo = rng.uniform(5000, 9000)
    if rng.random() < 0.6:
        def hat(decay):
            return _noise_burst(rng, len(t), sr, (min(hat_lo, 0.4 * sr), 0.5 * sr), decay, order=4)
    else:  # metallic: six square waves at inharmonic ratios, band-passed
        base = rng.uniform(0.6, 1.2) * np.array([205.3, 304.4, 369.6, 522.7, 540.0, 800.0])
        metal = np.sum(np.sign(np.sin(2 * np.pi * base[:, None] * t[None, :])), axis=0)
        hp = signal.butter(4, min(hat_lo, 0.4 * sr), "highpass", fs=sr, output="sos")
        metal = signal.sosfilt(hp, metal)

        def hat(decay):
            return metal * np.exp(-t / decay)
    kit = {"kick": kick, "snare": snare, "hat": hat(rng.uniform(0.012, 0.05)), "open_hat": hat(rng.uniform(0.12, 0.4))}
    return {k: v / max(np.max(np.abs(v)), 1e-12) for k, v in kit.items()}


def _chord(scale, degree, size):
    """Semitone offsets of a diatonic chord built in thirds on a scale degree."""
    return [scale[(degree + 2 * k) % 7] + 12 * ((degree + 2 * k) // 7) for k in range(size)]


def _add(out: np.ndarray, x: np.ndarray, start: int, gain: float = 1.0) -> None:
    if start >= len(out):
        return
    lo = max(start, 0)
    seg = x[lo - start: lo - start + len(out) - lo]
    out[lo: lo + len(seg)] += gain * seg


@dataclasses.dataclass
class Arrangement:
    """What every part of a piece shares: the tempo grid (16th-note ``step`` in s, ``swing``), the harmony (scale,
    root, chord progression and harmonic rhythm) and which parts play in which bar (``plays``)."""

    rng: np.random.Generator
    sample_rate: float
    step: float
    swing: float
    n_steps: int
    buffer_length: int
    scale: tuple[int, ...]
    root: int
    progression: tuple[int, ...]
    chord_steps: int
    chord_size: int
    plays: dict[str, np.ndarray]

    def onset(self, k: int) -> int:
        """Sample index of step ``k``, swung and humanized (3 ms jitter)."""
        jitter = self.rng.normal(0.0, 0.003)
        return int(((k + (self.swing if k % 2 else 0.0)) * self.step + jitter) * self.sample_rate)

    def degree_at(self, k: int) -> int:
        """Scale degree of the chord at step ``k``."""
        return self.progression[(k // self.chord_steps) % len(self.progression)]

    def track(self) -> np.ndarray:
        return np.zeros(self.buffer_length)


def _choose_parts(rng: np.random.Generator, n_bars: int) -> tuple[dict[str, bool], dict[str, np.ndarray]]:
    """Which parts the piece has (at least two, at least one pitched) and in which bars they play (every bar keeps
    at least one)."""
    parts = {
        "drums": rng.random() < 0.85, "bass": rng.random() < 0.85,
        "chords": rng.random() < 0.9, "lead": rng.random() < 0.6,
    }
    if not (parts["bass"] or parts["chords"] or parts["lead"]):
        parts["chords"] = True
    if sum(parts.values()) < 2:
        off = [name for name, on in parts.items() if not on]
        parts[off[int(rng.integers(len(off)))]] = True
    plays = {name: (rng.random(n_bars) > 0.12) if on else np.zeros(n_bars, bool) for name, on in parts.items()}
    playing = [name for name, on in parts.items() if on]
    for bar in range(n_bars):
        if not any(plays[name][bar] for name in playing):
            plays[playing[int(rng.integers(len(playing)))]][bar] = True
    return parts, plays


def _drums(a: Arrangement) -> tuple[np.ndarray, str]:
    """The drum track (kick, snare, hats on one of ``DRUM_PATTERNS``, a few random extra hits) and its pattern."""
    rng = a.rng
    kit = drum_kit(rng, a.sample_rate)
    pattern_name = str(rng.choice(list(DRUM_PATTERNS)))
    kicks, snares, hats = DRUM_PATTERNS[pattern_name]
    use = {"kick": rng.random() < 0.9, "snare": rng.random() < 0.85, "hat": rng.random() < 0.85}
    open_hat_steps = (14,) if rng.random() < 0.4 else ()
    levels = {"kick": 1.0, "snare": rng.uniform(0.4, 1.0), "hat": rng.uniform(0.1, 0.6),
              "open_hat": rng.uniform(0.1, 0.5)}
    out = a.track()
    for k in range(a.n_steps):
        if not a.plays["drums"][k // 16]:
            continue
        s = k % 16
        hits = []
        if use["kick"] and (s in kicks or (rng.random() < 0.04)):
            hits.append("kick")
        if use["snare"] and (s in snares or rng.random() < 0.03):
            hits.append("snare")
        if use["hat"]:
            if s in open_hat_steps:
                hits.append("open_hat")
            elif s in hats:
                hits.append("hat")
        for h in hits:
            _add(out, kit[h], a.onset(k), levels[h] * rng.uniform(0.75, 1.0))
    return out, pattern_name


def _bass(a: Arrangement, low: int) -> tuple[np.ndarray, str]:
    """The bass line (chord roots, sometimes another chord tone, from MIDI note ``low``) and its wave shape."""
    rng = a.rng
    timbre = random_timbre(rng, "bass")
    rhythm = BASS_PATTERNS[int(rng.integers(len(BASS_PATTERNS)))]
    legato = rng.uniform(0.5, 1.0)
    out = a.track()
    onsets = [k for k in range(a.n_steps) if k % 16 in rhythm and a.plays["bass"][k // 16]]
    for i, k in enumerate(onsets):
        gap = (onsets[i + 1] - k) if i + 1 < len(onsets) else 4
        chord = _chord(a.scale, a.degree_at(k), 3)
        pitch = low + (chord[0] if rng.random() < 0.75 else chord[int(rng.integers(1, 3))])
        note = render_note(timbre, pitch, gap * a.step * legato, a.sample_rate, rng)
        _add(out, note, a.onset(k), rng.uniform(0.8, 1.0))
    return out, timbre["shape"]


def _chords(a: Arrangement) -> tuple[np.ndarray, str]:
    """The chord part (pad, stabs, arpeggio or strum) and its ``style/shape``."""
    rng, sr, step, size = a.rng, a.sample_rate, a.step, a.chord_size
    timbre = random_timbre(rng, "chords")
    style = str(rng.choice(["pad", "stabs", "arpeggio", "strum"], p=[0.35, 0.25, 0.2, 0.2]))
    base = 48 + a.root + int(rng.integers(0, 12))
    out = a.track()
    if style == "arpeggio":
        rate = int(rng.choice([2, 4]))
        order = rng.permutation(size)
        for j, k in enumerate(range(0, a.n_steps, rate)):
            if a.plays["chords"][k // 16]:
                pitch = base + _chord(a.scale, a.degree_at(k), size)[order[j % size]]
                _add(out, render_note(timbre, pitch, rate * step * 0.9, sr, rng), a.onset(k), rng.uniform(0.7, 1.0))
        return out, f"{style}/{timbre['shape']}"
    if style == "stabs":
        hits = set(rng.choice(16, size=int(rng.integers(2, 6)), replace=False).tolist())
        starts = [k for k in range(a.n_steps) if k % 16 in hits]
        hold_steps = int(rng.choice([1, 2]))
    else:
        starts = [k for k in range(a.n_steps) if k % a.chord_steps == 0]
        hold_steps = a.chord_steps
    for k in starts:
        if not a.plays["chords"][k // 16]:
            continue
        for i, off in enumerate(_chord(a.scale, a.degree_at(k), size)):
            pitch = base + off - (12 if base + off > 76 else 0)
            delay = int(i * rng.uniform(0.005, 0.03) * sr) if style == "strum" else 0
            _add(out, render_note(timbre, pitch, hold_steps * step * 0.95, sr, rng), a.onset(k) + delay,
                 rng.uniform(0.7, 1.0) / size ** 0.5)
    return out, f"{style}/{timbre['shape']}"


def _lead(a: Arrangement) -> tuple[np.ndarray, str]:
    """The lead line (a random walk on the scale landing on chord tones on strong beats) and its wave shape."""
    rng = a.rng
    timbre = random_timbre(rng, "lead")
    density = rng.uniform(0.3, 0.9)
    grid = int(rng.choice([1, 2, 4], p=[0.25, 0.5, 0.25]))
    center = 64 + a.root + int(rng.integers(0, 12))
    degree = int(rng.integers(0, 7))
    prev = None
    out = a.track()
    onsets = [k for k in range(0, a.n_steps, grid) if a.plays["lead"][k // 16] and rng.random() < density]
    for i, k in enumerate(onsets):
        degree += int(rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3]))
        if k % a.chord_steps == 0:  # strong beats land on a chord tone
            chord = [d % 7 for d in (a.degree_at(k), a.degree_at(k) + 2, a.degree_at(k) + 4)]
            degree += min(((c - degree) % 7 for c in chord), key=lambda d: min(d, 7 - d))
        degree = int(np.clip(degree, -5, 12))
        pitch = center + a.scale[degree % 7] + 12 * (degree // 7)
        gap = (onsets[i + 1] - k) if i + 1 < len(onsets) else grid
        glide = prev if prev is not None and rng.random() < 0.15 else None
        _add(out, render_note(timbre, pitch, gap * a.step * rng.uniform(0.5, 1.0), a.sample_rate, rng, glide),
             a.onset(k), rng.uniform(0.7, 1.0))
        prev = pitch
    return out, timbre["shape"]


def synthesize(rng: np.random.Generator, duration_s: float = 5.0, sample_rate: int = 24000):
    """A random piece of music ``duration_s`` long at ``sample_rate``: an arrangement, each part rendered on it
    (``_drums``, ``_bass``, ``_chords``, ``_lead``), mixed at random levels and mastered.

    Returns ``(audio, info)``: mono float32 with peak <= 0.99, and a JSON-ready dict of the choices made.
    """
    sr = float(sample_rate)
    bpm = float(rng.uniform(70.0, 170.0))
    step = 60.0 / bpm / 4.0  # a 16th note
    swing = float(rng.uniform(0.0, 0.25)) if rng.random() < 0.3 else 0.0
    pre_steps = int(rng.integers(0, 32))  # start anywhere in the first two bars
    n_steps = pre_steps + int(np.ceil(duration_s / step)) + 1
    pre = pre_steps * step
    mode = str(rng.choice(list(SCALES)))
    root = int(rng.integers(0, 12))
    progression = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    chord_steps = int(rng.choice([8, 16, 32], p=[0.25, 0.55, 0.2]))
    chord_size = int(rng.choice([3, 4], p=[0.6, 0.4]))
    parts, plays = _choose_parts(rng, n_steps // 16 + 1)
    a = Arrangement(rng, sr, step, swing, n_steps, int((pre + duration_s + 3.0) * sr), SCALES[mode], root,
                    progression, chord_steps, chord_size, plays)
    info = {"bpm": round(bpm, 2), "swing": round(swing, 3), "key": root, "mode": mode,
            "progression": list(progression), "parts": [k for k, v in parts.items() if v]}

    tracks = {}
    if parts["drums"]:
        tracks["drums"], info["drums"] = _drums(a)
    low = 24 + root + 12 * int(rng.integers(0, 2))  # bass octave (C1..B2), drawn whether or not the bass plays
    if parts["bass"]:
        tracks["bass"], info["bass"] = _bass(a, low)
    if parts["chords"]:
        tracks["chords"], info["chords"] = _chords(a)
    if parts["lead"]:
        tracks["lead"], info["lead"] = _lead(a)

    start = int(pre * sr)
    length = int(round(duration_s * sr))
    gains_db = {"drums": rng.uniform(-6, 3), "bass": rng.uniform(-9, 0), "chords": rng.uniform(-12, 0),
                "lead": rng.uniform(-12, 0)}
    mix = np.zeros(length)
    for name, track in tracks.items():
        seg = track[start:start + length]
        rms = np.sqrt(np.mean(seg ** 2))
        if rms > 1e-6:
            mix += seg / rms * 10.0 ** (gains_db[name] / 20.0)
    return master(mix, sr, rng, info)


def master(mix: np.ndarray, sample_rate: float, rng: np.random.Generator, info: dict):
    """Tilt EQ (RBJ shelves via ``ddsp_kernels``), tanh saturation, then a random level with peak <= 0.99."""
    low_db, high_db = rng.uniform(-6, 6), rng.uniform(-10, 8)
    sos = np.stack([rbj_sos("low_shelf", rng.uniform(80, 250), low_db, 0.7, sample_rate),
                    rbj_sos("high_shelf", rng.uniform(2500, 6000), high_db, 0.7, sample_rate)])
    y = signal.sosfilt(sos, mix)
    drive_db = float(rng.uniform(0.0, 12.0)) if rng.random() < 0.6 else 0.0
    peak = np.max(np.abs(y))
    if peak > 0:
        y = np.tanh(y / peak * 10.0 ** (drive_db / 20.0))
    rms = np.sqrt(np.mean(y ** 2))
    target_db = float(rng.uniform(-27.0, -10.0))
    gain = 10.0 ** (target_db / 20.0) / max(rms, 1e-12)
    peak = np.max(np.abs(y))
    gain = min(gain, 0.99 / max(peak, 1e-12))
    info.update({"tilt_db": [round(float(low_db), 2), round(float(high_db), 2)], "drive_db": round(drive_db, 2)})
    return (y * gain).astype(np.float32), info
