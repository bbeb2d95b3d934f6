"""What a phone adds to a concert recording, after the venue: microphone band-limits, the recording level, automatic
gain control, an output limiter and a lossy codec. Every stage is a small function in physical units (dB, Hz, s);
``phone_chain`` draws and applies them in a phone's order and returns a JSON-able record of every draw.

Order: mic/front-end band-limit -> nominal level (``reference_rms_db``) -> AGC -> codec -> recording level ->
output limiter -> full-scale clip. The recording level is the one drawn recording gain (its own generator, uniform
in dB) applied to the finished recording, so the dirty level depends on nothing before it (production style,
venue, crowd, the band a codec removes): no level can be learned from the dirty clip alone, the reference has to
carry it. (A phone's level is set by its AGC target and the distance to the stage; drawing it directly is the
same distribution without the leak.)

- Band-limits: Butterworth high-pass and low-pass (order 2 or 4), as the MEMS microphone, its port and the
  front-end filters of a phone give (e.g. Knowles SPH0645 data sheet: -3 dB around 100 Hz and 10 kHz).
- AGC: a slow level rider (feed-back-free gain computer on the short-term RMS, one-pole gain smoothing with an
  attack and release time, a maximum gain and a gate below which the gain holds), after the structure of
  U. Zolzer, "DAFX", 2nd ed. (2011), ch. 4 (dynamics processing), with phone-like time constants.
- Limiter: a zero-latency look-ahead peak limiter: the required gain ``min(1, ceiling/|x|)`` is spread by a
  running minimum over ``[n - hold, n + lookahead]`` and smoothed by a causal moving average over the look-ahead,
  which never exceeds the required gain (so the ceiling holds) and ramps over the look-ahead before a peak
  (Zolzer 2011, sec. 4.2.2, look-ahead limiting; the gain, not the audio, looks ahead, so nothing is delayed).
- Codecs: MP3 at low VBR quality (LAME) and GSM 06.10 full rate (8 kHz, 13 kbit/s) round trips through
  ``pedalboard`` (train extra), which resamples around GSM's 8 kHz itself; the round trip's delay is measured once
  per codec and rate by cross-correlation on a fixed probe and removed, and the length is kept exactly, so input
  and target stay aligned to the sample.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

CODECS = ("mp3", "gsm")
FULL_SCALE = 1.0


def _db(x: float) -> float:
    return float(10.0 ** (x / 20.0))


def rms_db(x: np.ndarray) -> float:
    """RMS level in dBFS over all samples and channels (-300 for silence)."""
    power = float(np.mean(np.square(x, dtype=np.float64)))
    return float(10.0 * np.log10(max(power, 1e-30)))


def _as_frames(x: np.ndarray) -> tuple[np.ndarray, bool]:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        return x[:, None], True
    if x.ndim != 2:
        raise ValueError(f"audio must be shaped (samples,) or (samples, channels), got {x.shape}")
    return x, False


def _restore(frames: np.ndarray, was_1d: bool) -> np.ndarray:
    return frames[:, 0] if was_1d else frames


# ---- stages ---------------------------------------------------------------------------------------------------

def apply_gain_db(x: np.ndarray, gain_db: float) -> np.ndarray:
    """``x`` times ``10^(gain_db/20)``."""
    return np.asarray(x, dtype=np.float64) * _db(gain_db)


def normalize_rms(x: np.ndarray, rms_target_db: float) -> np.ndarray:
    """``x`` scaled to an RMS of ``rms_target_db`` dBFS (silence stays silence)."""
    level = rms_db(x)
    return np.asarray(x, dtype=np.float64) if level < -290.0 else apply_gain_db(x, rms_target_db - level)


def bandlimit(x: np.ndarray, sample_rate: float, highpass_hz: float | None, lowpass_hz: float | None,
              highpass_order: int = 2, lowpass_order: int = 4) -> np.ndarray:
    """Butterworth high-pass at ``highpass_hz`` then low-pass at ``lowpass_hz`` (either None to skip; a low-pass at
    or above 0.45 x the sample rate is skipped: the band is already narrower)."""
    from scipy import signal

    frames, was_1d = _as_frames(x)
    sections = []
    if highpass_hz is not None:
        sections.append(signal.butter(int(highpass_order), float(highpass_hz), "highpass", fs=sample_rate,
                                      output="sos"))
    if lowpass_hz is not None and lowpass_hz < 0.45 * sample_rate:
        sections.append(signal.butter(int(lowpass_order), float(lowpass_hz), "lowpass", fs=sample_rate,
                                      output="sos"))
    if not sections:
        return _restore(frames.copy(), was_1d)
    return _restore(signal.sosfilt(np.concatenate(sections), frames, axis=0), was_1d)


def agc(x: np.ndarray, sample_rate: float, target_db: float = -20.0, attack_s: float = 0.5,
        release_s: float = 2.0, max_gain_db: float = 20.0, max_cut_db: float = 30.0, gate_db: float = -60.0,
        detector_s: float = 0.1, frame_s: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Automatic gain control: a slow level rider toward ``target_db`` (dBFS RMS).

    The short-term level is the RMS over 10 ms frames smoothed by a one-pole of time constant ``detector_s``;
    the wanted gain ``target - level`` is clipped to ``[-max_cut_db, max_gain_db]`` and the applied gain follows it
    with a one-pole of time constant ``attack_s`` when it falls (the music got louder) and ``release_s`` when it
    rises. While the level is below ``gate_db`` the gain holds (no pumping up of pauses). The gain starts settled
    on the first second's level, as on a phone that was recording before the clip. Returns the audio and the
    applied gain in dB per frame."""
    frames, was_1d = _as_frames(x)
    hop = max(1, int(round(frame_s * sample_rate)))
    n_frames = -(-len(frames) // hop)
    padded = np.zeros((n_frames * hop, frames.shape[1]))
    padded[: len(frames)] = frames
    power = np.mean(np.square(padded).reshape(n_frames, hop, -1), axis=(1, 2))
    a_det = np.exp(-hop / (detector_s * sample_rate))
    a_att = np.exp(-hop / (attack_s * sample_rate))
    a_rel = np.exp(-hop / (release_s * sample_rate))
    first = max(1, min(n_frames, int(round(1.0 / frame_s))))
    smooth = float(np.mean(power[:first]))
    level = 10.0 * np.log10(max(smooth, 1e-30))
    gain = float(np.clip(target_db - level, -max_cut_db, max_gain_db)) if level > gate_db else 0.0
    gains = np.empty(n_frames)
    for k in range(n_frames):
        smooth = a_det * smooth + (1.0 - a_det) * power[k]
        level = 10.0 * np.log10(max(smooth, 1e-30))
        if level > gate_db:
            wanted = min(max(target_db - level, -max_cut_db), max_gain_db)
            a = a_att if wanted < gain else a_rel
            gain = a * gain + (1.0 - a) * wanted
        gains[k] = gain
    centers = (np.arange(n_frames) + 0.5) * hop
    per_sample = np.interp(np.arange(len(frames)), centers, gains)
    return _restore(frames * (10.0 ** (per_sample / 20.0))[:, None], was_1d), gains


def limiter(x: np.ndarray, sample_rate: float, ceiling_db: float = -1.0, lookahead_ms: float = 5.0,
            hold_ms: float = 50.0) -> np.ndarray:
    """Zero-latency look-ahead peak limiter: ``|y| <= 10^(ceiling_db/20)`` everywhere; the gain ramps down over
    ``lookahead_ms`` before a peak and back up over the same time after holding for ``hold_ms``. All channels
    share one gain (no image shift)."""
    from scipy import ndimage

    frames, was_1d = _as_frames(x)
    ceiling = _db(ceiling_db)
    peak = np.max(np.abs(frames), axis=1)
    required = np.minimum(1.0, ceiling / np.maximum(peak, 1e-30))
    if np.all(required >= 1.0):
        return _restore(frames.copy(), was_1d)
    look = max(1, int(round(lookahead_ms * 1e-3 * sample_rate)))
    hold = max(0, int(round(hold_ms * 1e-3 * sample_rate)))
    size = hold + look + 1  # running minimum over [n - hold, n + look]
    spread = ndimage.minimum_filter1d(required, size, mode="nearest", origin=hold - size // 2)
    size = look + 1  # causal mean over [n - look, n]: each term's window contains n, so the mean <= required[n]
    gain = ndimage.uniform_filter1d(spread, size, mode="nearest", origin=look - size // 2)
    gain = np.minimum(gain, required)  # rounding of the running mean
    return _restore(frames * gain[:, None], was_1d)


def _plugin(codec: str, mp3_vbr_quality: float):
    try:
        import pedalboard
    except ImportError:
        raise InputError("the codec stage needs pedalboard: pip install 'aebox-edge[train]'") from None
    if codec == "mp3":
        return pedalboard.MP3Compressor(vbr_quality=float(mp3_vbr_quality))
    if codec == "gsm":
        return pedalboard.GSMFullRateCompressor()
    raise ValueError(f"unknown codec {codec!r}; expected one of {', '.join(CODECS)}")


def _raw_round_trip(frames: np.ndarray, sample_rate: int, codec: str, mp3_vbr_quality: float) -> np.ndarray:
    plugin = _plugin(codec, mp3_vbr_quality)
    out = plugin(np.ascontiguousarray(frames.T, dtype=np.float32), float(sample_rate))
    return np.asarray(out, dtype=np.float64).T


def lag_samples(y: np.ndarray, x: np.ndarray) -> int:
    """Integer lag of ``y`` behind ``x`` at the peak of their cross-correlation (positive: ``y`` is late)."""
    from scipy import signal

    y, x = np.ravel(np.asarray(y, dtype=np.float64)), np.ravel(np.asarray(x, dtype=np.float64))
    c = signal.correlate(y, x, mode="full", method="fft")
    return int(np.argmax(c)) - (len(x) - 1)


@functools.lru_cache(maxsize=None)
def codec_delay(codec: str, sample_rate: int) -> int:
    """The round trip's delay in samples (LAME's delay does not depend on the VBR quality: measured at 7), measured
    on a fixed probe (1 s of noise low-passed at 3 kHz, so that
    GSM's 4 kHz band passes it) by cross-correlation. ``pedalboard`` compensates its codecs' latency itself
    (this measures 0 with pedalboard 0.9); the measurement keeps the alignment exact if a version does not."""
    from scipy import signal

    n = int(sample_rate)
    probe = np.random.default_rng(1234).standard_normal(n)
    probe = 0.1 * signal.sosfilt(signal.butter(4, min(3000.0, 0.4 * sample_rate), fs=sample_rate, output="sos"),
                                 probe)
    out = _raw_round_trip(probe[:, None], sample_rate, codec, 7.0)[:, 0]
    return lag_samples(out, probe)


def codec_round_trip(x: np.ndarray, sample_rate: int, codec: str, mp3_vbr_quality: float = 7.0) -> np.ndarray:
    """Encode and decode ``x`` with ``codec`` ("mp3": LAME VBR, quality 0 best .. 9.999 worst; "gsm": GSM 06.10 full
    rate at 8 kHz, resampled around by pedalboard), delay-compensated, exactly ``len(x)`` samples long."""
    frames, was_1d = _as_frames(x)
    sample_rate = int(sample_rate)
    delay = codec_delay(codec, sample_rate)
    out = _raw_round_trip(frames, sample_rate, codec, mp3_vbr_quality)
    out = out[delay:] if delay >= 0 else np.concatenate([np.zeros((-delay, out.shape[1])), out])
    n = len(frames)
    if len(out) < n:
        out = np.concatenate([out, np.zeros((n - len(out), out.shape[1]))])
    return _restore(out[:n], was_1d)


# ---- the chain ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PhoneConfig:
    """Ranges and probabilities of ``phone_chain`` (stored in dataset manifests)."""

    reference_rms_db: float = -16.0
    gain_db: tuple[float, float] = (-30.0, 0.0)
    bandlimit_probability: float = 0.7
    highpass_hz: tuple[float, float] = (80.0, 300.0)
    lowpass_hz: tuple[float, float] = (4000.0, 12000.0)
    agc_probability: float = 0.6
    agc_target_db: tuple[float, float] = (-26.0, -14.0)
    agc_attack_s: tuple[float, float] = (0.3, 0.8)
    agc_release_s: tuple[float, float] = (1.0, 3.0)
    agc_max_gain_db: tuple[float, float] = (10.0, 30.0)
    limiter_probability: float = 0.8
    limiter_ceiling_db: tuple[float, float] = (-3.0, -0.1)
    codec_probability: float = 0.6
    gsm_share: float = 0.25
    mp3_vbr_quality: tuple[float, float] = (6.0, 9.5)

    def __post_init__(self):
        for name in ("bandlimit_probability", "agc_probability", "limiter_probability", "codec_probability",
                     "gsm_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InputError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple) and not (len(value) == 2 and value[0] <= value[1]):
                raise InputError(f"{f.name} must be a range LO HI with LO <= HI, got {value}")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    def off(self, *stages: str) -> "PhoneConfig":
        """A copy with the named stages ("bandlimit", "agc", "limiter", "codec") never applied."""
        return dataclasses.replace(self, **{f"{s}_probability": 0.0 for s in stages})

    def always(self, *stages: str) -> "PhoneConfig":
        """A copy with the named stages always applied."""
        return dataclasses.replace(self, **{f"{s}_probability": 1.0 for s in stages})


STAGES = ("bandlimit", "gain", "agc", "limiter", "codec")


def phone_chain(x: np.ndarray, sample_rate: int, rng: np.random.Generator, config: PhoneConfig = PhoneConfig()
                ) -> tuple[np.ndarray, dict]:
    """A phone recording of the acoustic signal ``x`` ((samples,) or (samples, channels)).

    Stages, in order: band-limit (``bandlimit_probability``); level to ``reference_rms_db`` (the phone's nominal
    operating level); AGC (``agc_probability``); codec (``codec_probability``; GSM with ``gsm_share``, else MP3);
    the recording gain (always, uniform in dB): the finished recording is set to an RMS of ``reference_rms_db +
    gain_db``; output limiter (``limiter_probability``); clip to full scale. The gain sets the level *after* the
    codec so that neither the style nor the band a codec or band-limit removes (which depends on the style's
    spectrum) shows in the recorded level; only the limiter's peak reduction can still move it, by a fraction of a
    dB. Each stage draws from its own generator seeded from ``rng``, so switching one stage off changes no other
    stage's draw. Returns the audio (same shape, float64) and the record of what was drawn and applied."""
    rngs = {stage: np.random.default_rng(int(s)) for stage, s in zip(STAGES, rng.integers(0, 2**63, len(STAGES)))}
    c = config
    record: dict = {}
    y = np.asarray(x, dtype=np.float64)

    r = rngs["bandlimit"]
    use = bool(r.random() < c.bandlimit_probability)
    hp = float(np.exp(r.uniform(*np.log(c.highpass_hz))))
    lp = float(np.exp(r.uniform(*np.log(c.lowpass_hz))))
    hp_order, lp_order = int(r.choice([2, 4])), int(r.choice([2, 4]))
    if use:
        y = bandlimit(y, sample_rate, hp, lp, hp_order, lp_order)
        record["bandlimit"] = {"highpass_hz": hp, "highpass_order": hp_order, "lowpass_hz": lp,
                               "lowpass_order": lp_order, "lowpass_applied": bool(lp < 0.45 * sample_rate)}
    record["acoustic_rms_db"] = rms_db(y)
    y = normalize_rms(y, c.reference_rms_db)

    r = rngs["agc"]
    use = bool(r.random() < c.agc_probability)
    params = {"target_db": float(r.uniform(*c.agc_target_db)), "attack_s": float(r.uniform(*c.agc_attack_s)),
              "release_s": float(r.uniform(*c.agc_release_s)), "max_gain_db": float(r.uniform(*c.agc_max_gain_db))}
    if use:
        y, gains = agc(y, sample_rate, **params)
        record["agc"] = dict(params, mean_gain_db=float(np.mean(gains)))

    r = rngs["codec"]
    use = bool(r.random() < c.codec_probability)
    codec = "gsm" if r.random() < c.gsm_share else "mp3"
    quality = float(r.uniform(*c.mp3_vbr_quality))
    if use:
        before = rms_db(y)
        y = codec_round_trip(y, sample_rate, codec, quality)
        record["codec"] = {"codec": codec, **({"mp3_vbr_quality": quality} if codec == "mp3" else {}),
                           "level_change_db": rms_db(y) - before}

    gain_db = float(rngs["gain"].uniform(*c.gain_db))
    y = normalize_rms(y, c.reference_rms_db + gain_db)
    record["gain"] = {"reference_rms_db": c.reference_rms_db, "gain_db": gain_db}

    r = rngs["limiter"]
    use = bool(r.random() < c.limiter_probability)
    ceiling = float(r.uniform(*c.limiter_ceiling_db))
    if use:
        before = float(np.max(np.abs(y))) if y.size else 0.0
        y = limiter(y, sample_rate, ceiling)
        record["limiter"] = {"ceiling_db": ceiling,
                             "peak_reduction_db": max(0.0, float(20.0 * np.log10(max(before, 1e-30) / _db(ceiling))))}

    clipped = np.abs(y) > FULL_SCALE
    record["clipped_fraction"] = float(np.mean(clipped)) if y.size else 0.0
    y = np.clip(y, -FULL_SCALE, FULL_SCALE)
    record["rms_db"] = rms_db(y)
    return y, record
