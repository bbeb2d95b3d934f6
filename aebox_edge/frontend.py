"""The log-mel front end: the one definition used for training, int8 calibration and the runtime.

Computed in numpy (float32, the transforms in float64) outside the TFLite graph (docs/architecture.md, section 3).
The mel filterbank follows Slaney's Auditory Toolbox (1998): a mel scale that is linear below 1 kHz and logarithmic
above, and triangles normalized to unit area. Framing, window and dB conversion follow librosa's conventions
(``center=True`` with zero padding, periodic Hann, ``power_to_db``), which the tests check it against.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from .errors import InputError, check_audio_shape

# Slaney's mel scale: 3 mels per 200 Hz up to 1 kHz (15 mels), then 27 mels per factor 6.4 in frequency.
_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(hz):
    """Hz -> mel on Slaney's scale (Auditory Toolbox, 1998): linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    log_part = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(hz >= _MIN_LOG_HZ, log_part, hz / _F_SP)


def mel_to_hz(mel):
    """Mel -> Hz on Slaney's scale, the inverse of :func:`hz_to_mel`."""
    mel = np.asarray(mel, dtype=np.float64)
    log_part = _MIN_LOG_HZ * np.exp(_LOGSTEP * (np.maximum(mel, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log_part, mel * _F_SP)


def mel_filterbank(sample_rate, n_fft, n_mels, fmin=0.0, fmax=None, dtype=np.float32):
    """Slaney mel filterbank (Auditory Toolbox, 1998), shaped ``(n_mels, n_fft // 2 + 1)``.

    Band ``m`` is a triangle over the FFT bin frequencies with corners at ``n_mels + 2`` points equally spaced on the
    mel scale between ``fmin`` and ``fmax`` (default: Nyquist); its height ``2 / (f_hi - f_lo)`` gives it unit area
    in Hz. Computed in float64, returned as ``dtype``. Raises ``InputError`` unless 0 <= fmin < fmax <= Nyquist.
    """
    fmax = sample_rate / 2.0 if fmax is None else float(fmax)
    if not 0.0 <= fmin < fmax <= sample_rate / 2.0:
        raise InputError(f"need 0 <= fmin < fmax <= sample_rate / 2, got fmin={fmin}, fmax={fmax}")
    bin_hz = np.arange(n_fft // 2 + 1) * (sample_rate / n_fft)
    corners = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    lo, centre, hi = corners[:-2, None], corners[1:-1, None], corners[2:, None]
    rising = (bin_hz - lo) / (centre - lo)
    falling = (hi - bin_hz) / (hi - centre)
    triangles = np.maximum(0.0, np.minimum(rising, falling))
    return (triangles * (2.0 / (hi - lo))).astype(dtype)


@functools.lru_cache(maxsize=16)
def cached_mel_filterbank(sample_rate, n_fft, n_mels, fmin=0.0, fmax=None, dtype=np.float32):
    """:func:`mel_filterbank`, computed once per argument set and returned read-only."""
    fb = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax, dtype)
    fb.flags.writeable = False
    return fb


@functools.lru_cache(maxsize=16)
def hann_window(win_length, n_fft=None, dtype=np.float32):
    """Periodic Hann window of ``win_length`` samples, zero-padded centred to ``n_fft`` (librosa's convention).
    Raises ``InputError`` unless 0 < win_length <= n_fft."""
    n_fft = win_length if n_fft is None else n_fft
    if not 0 < win_length <= n_fft:
        raise InputError(f"need 0 < win_length <= n_fft, got {win_length} and {n_fft}")
    window = np.zeros(n_fft, dtype=dtype)
    start = (n_fft - win_length) // 2
    window[start:start + win_length] = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(win_length) / win_length)
    window.flags.writeable = False
    return window


def stft(audio, n_fft, hop_length, win_length=None):
    """Centred STFT of ``audio`` along its last axis: ``(..., frames, n_fft // 2 + 1)`` complex.

    Frames of ``n_fft`` samples every ``hop_length``, the signal padded with ``n_fft // 2`` zeros on each side
    (librosa ``center=True, pad_mode="constant"``), periodic Hann of ``win_length`` (default ``n_fft``), one
    :func:`rfft` over the ``(frames, n_fft)`` array. Float32 input gives complex64. Raises ``InputError`` for empty
    audio.
    """
    audio = np.asarray(audio)
    if not np.issubdtype(audio.dtype, np.floating):
        audio = audio.astype(np.float64)
    if audio.shape[-1] == 0:
        raise InputError("cannot compute a spectrogram of empty audio")
    pad = [(0, 0)] * (audio.ndim - 1) + [(n_fft // 2, n_fft // 2)]
    padded = np.pad(audio, pad)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[..., ::hop_length, :]
    window = hann_window(win_length or n_fft, n_fft, audio.dtype.type)
    return rfft(frames * window)


def rfft(frames):
    """``numpy.fft.rfft`` of windowed frames along the last axis, computed in float64 (numpy's float32 transform is
    slower) and returned as complex64 for float32 frames. numpy rather than ``scipy.fft``: importing ``scipy.fft``
    imports ``scipy.special``, a third of a second of every cold ``aebox-edge run``."""
    spec = np.fft.rfft(np.asarray(frames, dtype=np.float64), axis=-1)
    return spec.astype(np.complex64) if np.asarray(frames).dtype == np.float32 else spec


@dataclasses.dataclass(frozen=True)
class FrontEndConfig:
    """One log-mel front end; stored in the model's metadata JSON via :meth:`to_dict`.

    ``fmax=None`` means Nyquist. ``frames=None`` keeps the natural number of STFT frames; an integer resizes the time
    axis to that many frames (linear, half-pixel centres, like ``tf.image.resize`` bilinear without antialias).
    """

    name: str
    n_fft: int
    win_length: int
    hop_length: int
    n_mels: int
    sample_rate: int = 24000
    window_samples: int = 60000
    fmin: float = 0.0
    fmax: float | None = None
    top_db: float = 80.0
    amin: float = 1e-10
    frames: int | None = None

    def __post_init__(self):
        if not (0 < self.win_length <= self.n_fft and self.hop_length > 0 and self.n_mels > 0):
            raise InputError(f"invalid front end {self!r}")

    @property
    def natural_frames(self):
        """STFT frames of a ``window_samples`` clip (centred framing)."""
        return 1 + (self.window_samples + 2 * (self.n_fft // 2) - self.n_fft) // self.hop_length

    @property
    def shape(self):
        """``(frames, n_mels)`` of the feature of one ``window_samples`` clip."""
        return (self.frames or self.natural_frames, self.n_mels)

    def to_dict(self):
        """JSON-able dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict`; unknown or missing keys raise ``InputError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        missing = names - set(data)
        if unknown or missing:
            raise InputError(f"front-end config: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
        return cls(**data)


FRONT_ENDS = {
    "edge": FrontEndConfig(name="edge", n_fft=1024, win_length=1024, hop_length=256, n_mels=64),
    "paper": FrontEndConfig(name="paper", n_fft=512, win_length=256, hop_length=256, n_mels=256, frames=256),
}


@functools.lru_cache(maxsize=8)
def _resize_weights(n_in, n_out):
    """Source indices and weights of a linear resize with half-pixel centres (``tf.image.resize`` bilinear)."""
    src = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0, n_in - 1)
    lower = np.floor(src).astype(np.intp)
    upper = np.minimum(lower + 1, n_in - 1)
    frac = (src - lower).astype(np.float32)[:, None]
    return lower, upper, frac


def resize_time(features, frames):
    """Resize axis -2 of ``features`` to ``frames`` by linear interpolation with half-pixel centres."""
    lower, upper, frac = _resize_weights(features.shape[-2], frames)
    low = features[..., lower, :]
    return low + frac * (features[..., upper, :] - low)


def _mel_db(spec, config):
    """``10 log10(max(mel power, amin))`` of STFT frames (..., bins): the per-frame part of :func:`log_mel`."""
    power = spec.real ** 2 + spec.imag ** 2
    fb = cached_mel_filterbank(config.sample_rate, config.n_fft, config.n_mels, config.fmin, config.fmax)
    return 10.0 * np.log10(np.maximum(power @ fb.T, np.float32(config.amin)))


def _clip_db(db, config):
    """The per-clip part of :func:`log_mel`: the ``top_db`` floor below the clip's maximum, then the time resize."""
    db = np.maximum(db, db.max(axis=(-2, -1), keepdims=True) - np.float32(config.top_db))
    if config.frames is not None:
        db = resize_time(db, config.frames)
    return db


def log_mel(audio, config):
    """Log-mel spectrogram in dB, float32, ``(frames, n_mels)``; a ``(batch, samples)`` array gives a batch.

    ``audio`` is mono at ``config.sample_rate`` (mix channels first) and is processed at whatever length it has (see
    :func:`fit_window`). Power mel spectrogram -> ``10 log10(max(S, amin))`` (reference 1.0) -> floored at
    ``top_db`` below each clip's maximum (librosa's ``power_to_db``) -> optional time resize to ``config.frames``.
    Raises ``InputError`` for other shapes or empty audio.
    """
    audio = np.asarray(audio, dtype=np.float32)
    check_audio_shape(audio.shape, "log_mel's audio", "(samples,) or (batch, samples)")
    return _clip_db(_mel_db(stft(audio, config.n_fft, config.hop_length, config.win_length), config), config)


class WindowLogMels:
    """:func:`log_mel` of the windows of one stream, each STFT frame that lies inside a window computed once.

    ``window(audio, start)`` gives ``log_mel(audio, config)`` of a window of ``config.window_samples`` samples that
    starts at sample ``start`` of the stream. A frame that does not reach into a window's zero padding is a frame of
    the stream itself; it is kept (keyed by its first sample) while later windows may still use it, so windows whose
    starts differ by a multiple of ``hop_length`` share their frames: with a 1.25 s hop and 2.5 s windows, about half
    of each window's frames were computed for the window before. Windows must come in increasing ``start``. Equal to
    the per-window :func:`log_mel` up to float32 rounding of the matrix products.
    """

    def __init__(self, config):
        self.config = config
        first = np.arange(config.natural_frames) * config.hop_length - config.n_fft // 2  # relative to the window
        self._first = first
        self._inner = (first >= 0) & (first + config.n_fft <= config.window_samples)
        self._positions = np.zeros(0, np.int64)  # stream positions of the cached frames (the last window's inner)
        self._rows = np.zeros((0, config.n_mels), np.float32)

    def window(self, audio, start: int) -> np.ndarray:
        """The log-mel of the window ``audio`` (``window_samples`` samples) starting at stream sample ``start``.
        Raises ``InputError`` for another length."""
        c = self.config
        audio = np.asarray(audio, dtype=np.float32)
        if audio.shape != (c.window_samples,):
            raise InputError(f"a window has {c.window_samples} samples, got shape {audio.shape}")
        positions = start + self._first
        slot = np.minimum(np.searchsorted(self._positions, positions), max(len(self._positions) - 1, 0))
        cached = self._inner & (self._positions[slot] == positions) if len(self._positions) else \
            np.zeros(len(positions), bool)
        todo = np.flatnonzero(~cached)
        pad = c.n_fft // 2  # the centred STFT's zero padding (stft), so edge frames come out as log_mel's
        frames = np.lib.stride_tricks.sliding_window_view(np.pad(audio, pad), c.n_fft)[self._first[todo] + pad]
        db = np.empty((c.natural_frames, c.n_mels), np.float32)
        db[todo] = _mel_db(rfft(frames * hann_window(c.win_length, c.n_fft, np.float32)), c)
        db[cached] = self._rows[slot[cached]]
        self._positions, self._rows = positions[self._inner], db[self._inner]
        return _clip_db(db, c)


def centre_fit(audio, frames: int, axis: int = -1):
    """Centre-crop or centre zero-pad ``axis`` of ``audio`` (float32) to ``frames``."""
    audio = np.asarray(audio, dtype=np.float32)
    axis = axis % audio.ndim
    n = audio.shape[axis]
    if n >= frames:
        window = [slice(None)] * audio.ndim
        window[axis] = slice((n - frames) // 2, (n - frames) // 2 + frames)
        return audio[tuple(window)]
    pad = [(0, 0)] * audio.ndim
    pad[axis] = ((frames - n) // 2, frames - n - (frames - n) // 2)
    return np.pad(audio, pad)


def fit_window(audio, config):
    """Centre-crop or centre zero-pad the last axis of ``audio`` to ``config.window_samples``."""
    return centre_fit(audio, config.window_samples)


def analysis_features(input_audio, reference_audio, config):
    """The network's two inputs: ``log_mel(fit_window(.))`` of input and reference, each ``(frames, n_mels, 1)``."""
    return tuple(log_mel(fit_window(a, config), config)[..., None] for a in (input_audio, reference_audio))


MATCH_FEATURES = "match_features"  # the third input of a correction analyser (edge)


def match_difference(input_levels_db, reference_levels_db):
    """A correction analyser's match features: the spectral difference curve (..., bands), float32, of the band
    levels (``ddsp_kernels.match.band_levels_db``) of input and reference (``ddsp_kernels.match``)."""
    from ddsp_kernels.match import spectral_difference_db

    return spectral_difference_db(input_levels_db, reference_levels_db).astype(np.float32)


def clip_match_inputs(input_audio, reference_audio, config):
    """A correction analyser's match inputs for batches of clips (batch, samples) at ``config.sample_rate``, each
    clip measured whole (``fit_window``), as training, evaluation and export calibration feed it:
    ``(match_features, analytic01)``, the spectral difference curves (clips, bands) and the analytic fits of all 24
    normalized parameters (clips, 24) from the clips' long-term spectra, both float32 (``ddsp_kernels.match``)."""
    from ddsp_kernels.match import FIT_LIMIT_DB, BandLevels, analytic_params, spectral_difference_db

    levels = [[BandLevels(config.sample_rate).add(fit_window(a, config)) for a in np.atleast_2d(batch)]
              for batch in (input_audio, reference_audio)]
    a, b = (np.stack([side.levels_db() for side in sides]) for sides in levels)
    spectra = (np.stack([side.spectra() for side in sides]) for sides in levels)
    analytic = analytic_params(spectral_difference_db(a, b, FIT_LIMIT_DB), config.sample_rate, *spectra)
    return match_difference(a, b), analytic.astype(np.float32)
