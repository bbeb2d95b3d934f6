"""Audio file I/O: reading (whole or block by block), resampling (``resample``, from ``io.resample``), and atomic
writing.

Everything soundfile (libsndfile) reads is accepted, at sample rates from ``MIN_SAMPLE_RATE`` to
``MAX_SAMPLE_RATE``. Unusable inputs raise ``AudioError(path, reason)`` with the reason (what libsndfile's decoders
print on the terminal is captured and used for it); audio comes back shaped (frames, channels). Writes go to a
hidden temporary file in the target directory that is renamed over the target only once it is complete, so a failed
or interrupted write leaves nothing behind and an input is never overwritten; the output's format is tried (a
header-only file in the target directory) before any work, so a rate or channel count the format cannot hold, or a
directory that refuses files, is reported first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import soundfile as sf

from ..errors import AudioError, InputError, RuntimeFailure, check_audio_shape, check_positive_int
from .atomic import WRITE_ERRNOS, atomic_path, check_output, temporary_file, write_failure
from .native import native_stderr
from .resample import resample  # noqa: F401  (re-exported: audio.resample is the one resampler)

# Accepted sample rates. 768 kHz is the highest rate converters and formats in use offer (16 x 48 kHz); below
# 1 kHz there is no music to enhance (the analysis band table starts at 25 Hz and the EQ's lowest shelf needs
# a Nyquist frequency well above it). A header outside this range is far more likely corrupt than real, and the
# bound keeps the resampler's filter (its length grows with the rate ratio) and the block sizes in memory.
MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 768_000
# Extensions soundfile does not map to a format by itself: extension -> (format, subtype or None for the default).
EXTENSION_FORMATS = {"AIF": ("AIFF", None), "AIFC": ("AIFF", None), "OGA": ("OGG", None), "OPUS": ("OGG", "OPUS")}
# Limits of the encoders that libsndfile does not check when a file is opened for writing, or reports only as
# "Format not recognised": (format, subtype or None for all) -> (highest sample rate or None, most channels).
# libsndfile 1.2.2's Vorbis encoder crashes the process above 192 kHz (tested at 256 kHz) and at 256 channels.
WRITE_LIMITS = {("OGG", "VORBIS"): (192_000, 255), ("MP3", None): (48_000, 2), ("FLAC", None): (None, 8)}
# Subtypes that store floats as they are; every other subtype clips, so float data is clipped to [-1, 1] first.
_FLOAT_SUBTYPES = frozenset({"FLOAT", "DOUBLE"})
PCM16_SCALE = 32767  # full scale of 16-bit PCM (symmetric: -1.0 -> -32767)
# Integer PCM subtypes read as float32 through libsndfile's integer reads: subtype -> (integer dtype, its scale to
# [-1, 1)). libsndfile's own float conversion is ``(float) i * 2**-15`` (``2**-31`` for 24 and 32 bits, left-
# aligned), exactly what numpy computes here, but slower: reading a 4-minute stereo PCM_16 WAV took 0.10-0.11 s
# as float32 against 0.04 s as int16 and a numpy scaling (tests/io/test_audio.py checks that they are equal).
_INTEGER_READS = {"PCM_16": ("int16", np.float32(2.0 ** -15)), "PCM_24": ("int32", np.float32(2.0 ** -31)),
                  "PCM_32": ("int32", np.float32(2.0 ** -31))}


def to_pcm16(block: np.ndarray) -> np.ndarray:
    """Float audio as 16-bit PCM, what a ``PCM_16`` file stores: ``rint(clip(x, -1, 1) * 32767)`` (round half to
    even), at most half a step from ``x`` and symmetric about 0. It replaces libsndfile's conversion, which
    libsndfile 1.2 computes as ``floor(x * 32768)`` (a bias of half a step) and which is slower: writing a 4-minute
    stereo song took 0.40-0.46 s with it, 0.21-0.24 s with this one."""
    scaled = np.clip(block, -1.0, 1.0) * np.float32(PCM16_SCALE)
    return np.rint(scaled, out=scaled).astype(np.int16)


@dataclass(frozen=True)
class AudioInfo:
    """What an audio file holds, without its samples."""

    path: str
    sample_rate: int
    channels: int
    frames: int
    duration_s: float
    format: str
    subtype: str


def _open(path) -> sf.SoundFile:
    """Open ``path`` for reading, or raise ``AudioError`` saying why it cannot be used."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise AudioError(path, "no such file")
    if os.path.isdir(path):
        raise AudioError(path, "is a directory")
    if not os.path.isfile(path):
        raise AudioError(path, "is not a regular file")
    if os.path.getsize(path) == 0:
        raise AudioError(path, "is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise AudioError(path, "permission denied")
    try:
        with native_stderr() as notes:  # e.g. the MP3 decoder's "Note: Illegal Audio-MPEG-Header ..."
            f = sf.SoundFile(path)
    except (sf.SoundFileError, RuntimeError) as exc:
        raise AudioError(path, f"not an audio file or an unknown format ({_open_failure(exc, notes)})") from None
    if f.frames <= 0:
        f.close()
        raise AudioError(path, "contains no audio frames")
    if not MIN_SAMPLE_RATE <= f.samplerate <= MAX_SAMPLE_RATE:
        f.close()
        raise AudioError(path, f"sample rate {f.samplerate} Hz is outside the supported {MIN_SAMPLE_RATE} Hz .. "
                               f"{MAX_SAMPLE_RATE} Hz (a corrupt header?)")
    return f


def _open_failure(exc: Exception, notes: list[str]) -> str:
    """Why libsndfile could not open an existing regular file: its decoder's own notes when it printed any (its
    error string then is often the misleading "File does not exist or is not a regular file"), else the error."""
    notes = [line.removeprefix("Note:").strip() for line in notes if line.strip()]
    if notes:
        return "; ".join(dict.fromkeys(note.rstrip(".") for note in notes[:2]))
    detail = getattr(exc, "error_string", "") or str(exc)
    return detail.strip().rstrip(".")


def _info_of(path, f: sf.SoundFile) -> AudioInfo:
    return AudioInfo(os.fspath(path), f.samplerate, f.channels, f.frames, f.frames / f.samplerate, f.format,
                     f.subtype)


def _check_finite(path, data: np.ndarray) -> None:
    if data.dtype.kind == "f" and not np.isfinite(data).all():
        raise AudioError(path, "contains NaN or Inf samples")


def _read_frames(path, f: sf.SoundFile, frames: int, dtype: str) -> np.ndarray:
    """Up to ``frames`` frames (-1: all the rest) as ``dtype``. Integer PCM read as float32 is read as integers and
    scaled here (:data:`_INTEGER_READS`): the same values bit for bit, and integers are finite."""
    integer = _INTEGER_READS.get(f.subtype) if dtype == "float32" else None
    try:
        data = f.read(frames, dtype=integer[0] if integer else dtype, always_2d=True)
    except (sf.SoundFileError, RuntimeError) as exc:
        raise AudioError(path, f"cannot decode ({exc})") from None
    if integer:
        return np.multiply(data, integer[1], dtype=np.float32)
    _check_finite(path, data)
    return data


def info(path) -> AudioInfo:
    """Properties of the audio file at ``path``; raises ``AudioError`` if it cannot be used."""
    with _open(path) as f:
        return _info_of(path, f)


def read(path, *, dtype: str = "float32") -> tuple[np.ndarray, int]:
    """The whole file as an array shaped (frames, channels) and its sample rate.

    Raises ``AudioError`` for a missing, empty, non-audio or frame-less file and for NaN/Inf samples."""
    with _open(path) as f:
        return _read_frames(path, f, -1, dtype), f.samplerate


class BlockReader:
    """Reads a long file in float32 blocks shaped (frames, channels) without loading all of it.

    Consecutive blocks share ``overlap`` frames: each block after the first starts with the last ``overlap`` frames
    of the one before. Every block has ``block_frames`` frames except the last, which may be shorter. Opening raises
    the same ``AudioError``s as ``read``; a block with NaN/Inf samples raises one while iterating. Iterating again
    starts from the beginning. Use as a context manager or call ``close()``."""

    def __init__(self, path, block_frames: int, overlap: int = 0):
        check_positive_int("block_frames", block_frames)
        if not 0 <= overlap < block_frames:
            raise InputError(f"overlap must be in [0, block_frames), got {overlap} with block_frames={block_frames}")
        self.path = os.fspath(path)
        self.block_frames = block_frames
        self.overlap = overlap
        self._file = _open(self.path)
        self.info = _info_of(self.path, self._file)
        self.sample_rate, self.channels, self.frames = self.info.sample_rate, self.info.channels, self.info.frames

    def __iter__(self) -> Iterator[np.ndarray]:
        self._file.seek(0)
        carry = np.zeros((0, self.channels), np.float32)
        while True:
            new = _read_frames(self.path, self._file, self.block_frames - len(carry), "float32")
            if len(new) == 0:
                return
            block = np.concatenate([carry, new]) if len(carry) else new
            if self.overlap:  # copied before yielding: the caller may process the block in place
                carry = block[len(block) - self.overlap:].copy()
            yield block

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> BlockReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def iter_blocks(path, block_frames: int, overlap: int = 0) -> Iterator[np.ndarray]:
    """Blocks of ``path`` as ``BlockReader`` yields them; the file is opened (and errors raised) at call time and
    closed when the iterator is exhausted or discarded."""
    reader = BlockReader(path, block_frames, overlap)

    def blocks():
        with reader:
            yield from reader

    return blocks()


def format_from_extension(path: str) -> tuple[str | None, str | None]:
    """``(format, subtype)`` the file name's extension names (``EXTENSION_FORMATS``, else a soundfile format name
    such as ``.wav`` or ``.flac``); ``(None, None)`` for an unknown extension, subtype ``None`` for the default."""
    ext = os.path.splitext(path)[1][1:].upper()
    format, subtype = EXTENSION_FORMATS.get(ext, (ext, None))
    return (format, subtype) if format in sf.available_formats() else (None, None)


def _resolve_format(path: str, like: AudioInfo | None, format: str | None, subtype: str | None) -> tuple[str, str]:
    """Format: the explicit one, else the target's extension, else that of ``like``. Subtype: the explicit one, else
    the extension's (``.opus``), else that of ``like`` when the format supports it, else the format's default."""
    ext_format, ext_subtype = format_from_extension(path)
    if format is None and ext_format is not None:
        subtype = subtype or ext_subtype
    format = (format or ext_format or (like.format if like else None) or "").upper()
    if not format:
        raise AudioError(path, "cannot tell the audio format from the file name; use a known extension such as .wav")
    if format not in sf.available_formats():
        raise AudioError(path, f"unknown audio format {format!r}")
    if subtype is None:
        if like is not None and sf.check_format(format, like.subtype):
            subtype = like.subtype
        else:
            subtype = sf.default_subtype(format)
    subtype = subtype.upper()
    if not sf.check_format(format, subtype):
        raise AudioError(path, f"format {format} cannot hold subtype {subtype}")
    return format, subtype


def check_writable_format(path: str, format: str, subtype: str, sample_rate: int, channels: int) -> None:
    """Raise ``AudioError`` unless libsndfile can write ``format``/``subtype`` at ``sample_rate`` with ``channels``
    in the directory of ``path``: ``WRITE_LIMITS`` first, then a header-only file opened and removed there."""
    for (limit_format, limit_subtype), (max_rate, max_channels) in WRITE_LIMITS.items():
        if format == limit_format and limit_subtype in (None, subtype):
            if max_rate is not None and sample_rate > max_rate:
                raise AudioError(path, f"{format} {subtype} holds sample rates up to {max_rate} Hz, not "
                                       f"{sample_rate} Hz; choose another format (e.g. .wav or .flac)")
            if channels > max_channels:
                raise AudioError(path, f"{format} {subtype} holds at most {max_channels} channel(s), not {channels};"
                                       f" choose another format (e.g. .wav)")
    directory = os.path.dirname(os.path.abspath(path))
    try:
        tmp = temporary_file(directory)
    except OSError as exc:
        raise AudioError(path, f"cannot create files in {directory}: {exc.strerror or exc}") from None
    try:
        with native_stderr():
            sf.SoundFile(tmp, "w", samplerate=sample_rate, channels=channels, format=format, subtype=subtype).close()
    except (sf.SoundFileError, RuntimeError) as exc:
        detail = (getattr(exc, "error_string", "") or str(exc)).replace(f"Error opening {tmp!r}: ", "")
        detail = detail.removeprefix("Error : ")
        raise AudioError(path, f"cannot be written as {format} {subtype} at {sample_rate} Hz with {channels} "
                               f"channel(s) ({detail.strip().rstrip('.')})") from None
    finally:
        os.remove(tmp)


def _write_failure(path: str, exc: Exception) -> AudioError:
    """The project's error for a failed libsndfile write or close of ``path``; libsndfile reports a full disk only
    as "System error", so the free space of the target's file system is looked at."""
    if isinstance(exc, OSError):
        return write_failure(path, exc, AudioError)
    detail = (getattr(exc, "error_string", "") or str(exc)).strip().rstrip(".")
    try:
        full = os.statvfs(os.path.dirname(os.path.abspath(path))).f_bavail == 0
    except OSError:
        full = False
    return AudioError(path, "cannot write: " + ("No space left on device" if full else detail))


class AtomicAudioWriter:
    """Writes an audio file block by block, atomically: blocks go to a hidden temporary file in the target directory
    that replaces the target on a clean exit from the ``with`` block and is deleted on an exception.

    ``like`` (a path or ``AudioInfo``) supplies the format and subtype unless ``format``/``subtype`` are given or the
    target's extension names a format. Refuses (``AudioError``) what ``atomic.check_output`` refuses (a target that
    is the same file as ``like``, an existing target unless ``overwrite``, a missing or unwritable directory, a
    non-regular file) and a format that cannot hold ``sample_rate`` or ``channels`` (``check_writable_format``), all
    at construction. Float blocks are clipped to [-1, 1] unless the subtype is FLOAT or DOUBLE; blocks with NaN/Inf
    samples raise ``RuntimeFailure``; a write the environment refuses (full disk, ...) raises ``AudioError``."""

    def __init__(self, path, sample_rate: int, channels: int, *, like=None, format: str | None = None,
                 subtype: str | None = None, overwrite: bool = False):
        self.path = os.fspath(path)
        self.sample_rate = check_positive_int("sample_rate", sample_rate)
        self.channels = check_positive_int("channels", channels)
        if isinstance(like, (str, os.PathLike)):
            like = info(like)
        check_output(self.path, inputs={"input": like.path if like is not None else None}, force=overwrite,
                     error=AudioError)
        self.format, self.subtype = _resolve_format(self.path, like, format, subtype)
        check_writable_format(self.path, self.format, self.subtype, self.sample_rate, self.channels)
        self.overwrite = overwrite
        self.frames_written = 0
        self._target = None
        self._file: sf.SoundFile | None = None

    def __enter__(self) -> AtomicAudioWriter:
        self._target = atomic_path(self.path, overwrite=self.overwrite)
        tmp = self._target.__enter__()
        try:
            self._file = sf.SoundFile(tmp, "w", samplerate=self.sample_rate, channels=self.channels,
                                      subtype=self.subtype, format=self.format)
        except BaseException as exc:
            self._target.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def write(self, block: np.ndarray) -> None:
        """Append ``block``, shaped (frames, channels) or (frames,) for a mono file."""
        if self._file is None:
            raise RuntimeError("AtomicAudioWriter.write outside its 'with' block")
        block = np.asarray(block)
        if block.ndim == 1 and self.channels == 1:
            block = block[:, None]
        if block.ndim != 2 or block.shape[1] != self.channels:
            raise InputError(f"block must be shaped (frames, {self.channels}), got {block.shape}")
        if block.dtype.kind == "f":
            if not np.isfinite(block).all():
                raise RuntimeFailure(f"{self.path}: refusing to write NaN or Inf samples")
            if self.subtype == "PCM_16":
                block = to_pcm16(block)
            elif self.subtype not in _FLOAT_SUBTYPES:
                block = np.clip(block, -1.0, 1.0)
        try:
            self._file.write(block)
        except (sf.SoundFileError, RuntimeError) as exc:
            raise _write_failure(self.path, exc) from None
        except OSError as exc:
            if exc.errno in WRITE_ERRNOS:
                raise _write_failure(self.path, exc) from None
            raise
        self.frames_written += len(block)

    def __exit__(self, exc_type, exc, tb) -> None:
        """Close the file; ``atomic_path`` then renames it into place, or deletes it after an exception (a failure to
        close after an exception goes unreported: the original error is the one to report)."""
        file, self._file = self._file, None
        close_error = None
        try:
            file.close()
        except (sf.SoundFileError, RuntimeError) as error:  # libsndfile writes the header on close
            close_error = _write_failure(self.path, error)
        except BaseException as error:
            close_error = error
        exc = exc if exc is not None else close_error
        try:
            self._target.__exit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)
        except InputError as error:
            if exc is None and not isinstance(error, AudioError):  # the target appeared meanwhile, overwrite off
                raise AudioError(self.path, "already exists; refusing to overwrite it") from None
            raise
        if exc is close_error is not None:
            raise close_error


def write(path, data: np.ndarray, sample_rate: int, *, like=None, format: str | None = None,
          subtype: str | None = None, overwrite: bool = False) -> None:
    """Write ``data`` (shaped (frames, channels) or (frames,)) to ``path`` atomically; see ``AtomicAudioWriter``
    for ``like``, ``format``, ``subtype``, ``overwrite`` and the refusals."""
    data = np.asarray(data)
    check_audio_shape(data.shape, layout="(frames,) or (frames, channels)")
    channels = 1 if data.ndim == 1 else data.shape[1]
    with AtomicAudioWriter(path, sample_rate, channels, like=like, format=format, subtype=subtype,
                           overwrite=overwrite) as writer:
        writer.write(data)
