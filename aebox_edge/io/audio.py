"""Audio file I/O: reading (whole or block by block), resampling (``resample``, from ``io.resample``), and atomic
writing.

Everything soundfile (libsndfile) reads is accepted. Unusable inputs raise ``AudioError(path, reason)``; audio comes
back shaped (frames, channels). Writes go to a hidden temporary file in the target directory that is renamed over the
target only once it is complete, so a failed or interrupted write leaves nothing behind and an input is never
overwritten.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import soundfile as sf

from ..errors import AudioError, InputError, RuntimeFailure, check_audio_shape, check_positive_int
from .atomic import atomic_path
from .resample import resample  # noqa: F401  (re-exported: audio.resample is the one resampler)

# Extensions soundfile does not map to a format by itself.
_EXTENSION_ALIASES = {"AIF": "AIFF", "AIFC": "AIFF", "OGA": "OGG"}
# Subtypes that store floats as they are; every other subtype clips, so float data is clipped to [-1, 1] first.
_FLOAT_SUBTYPES = frozenset({"FLOAT", "DOUBLE"})


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
        f = sf.SoundFile(path)
    except (sf.SoundFileError, RuntimeError) as exc:
        detail = getattr(exc, "error_string", "") or str(exc)
        raise AudioError(path, f"not an audio file or an unknown format ({detail.strip().rstrip('.')})") from None
    if f.frames <= 0:
        f.close()
        raise AudioError(path, "contains no audio frames")
    return f


def _info_of(path, f: sf.SoundFile) -> AudioInfo:
    return AudioInfo(os.fspath(path), f.samplerate, f.channels, f.frames, f.frames / f.samplerate, f.format,
                     f.subtype)


def _check_finite(path, data: np.ndarray) -> None:
    if data.dtype.kind == "f" and not np.isfinite(data).all():
        raise AudioError(path, "contains NaN or Inf samples")


def _read_frames(path, f: sf.SoundFile, frames: int, dtype: str) -> np.ndarray:
    try:
        data = f.read(frames, dtype=dtype, always_2d=True)
    except (sf.SoundFileError, RuntimeError) as exc:
        raise AudioError(path, f"cannot decode ({exc})") from None
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


def _format_from_extension(path: str) -> str | None:
    ext = os.path.splitext(path)[1][1:].upper()
    ext = _EXTENSION_ALIASES.get(ext, ext)
    return ext if ext in sf.available_formats() else None


def _resolve_format(path: str, like: AudioInfo | None, format: str | None, subtype: str | None) -> tuple[str, str]:
    """Format: the explicit one, else the target's extension, else that of ``like``. Subtype: the explicit one, else
    that of ``like`` when the format supports it, else the format's default."""
    format = (format or _format_from_extension(path) or (like.format if like else None) or "").upper()
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


class AtomicAudioWriter:
    """Writes an audio file block by block, atomically: blocks go to a hidden temporary file in the target directory
    that replaces the target on a clean exit from the ``with`` block and is deleted on an exception.

    ``like`` (a path or ``AudioInfo``) supplies the format and subtype unless ``format``/``subtype`` are given or the
    target's extension names a format. Refuses (``AudioError``) a missing target directory, an existing target unless
    ``overwrite``, and a target that is the same file as ``like``. Float blocks are clipped to [-1, 1] unless the
    subtype is FLOAT or DOUBLE; blocks with NaN/Inf samples raise ``RuntimeFailure``."""

    def __init__(self, path, sample_rate: int, channels: int, *, like=None, format: str | None = None,
                 subtype: str | None = None, overwrite: bool = False):
        self.path = os.fspath(path)
        self.sample_rate = check_positive_int("sample_rate", sample_rate)
        self.channels = check_positive_int("channels", channels)
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise AudioError(self.path, f"output directory does not exist: {directory}")
        if os.path.isdir(self.path):
            raise AudioError(self.path, "is a directory")
        if isinstance(like, (str, os.PathLike)):
            like = info(like)
        if like is not None and os.path.exists(self.path) and os.path.exists(like.path) and os.path.samefile(
                self.path, like.path):
            raise AudioError(self.path, "is the input file; refusing to overwrite an input")
        if os.path.exists(self.path) and not overwrite:
            raise AudioError(self.path, "already exists; refusing to overwrite it")
        self.format, self.subtype = _resolve_format(self.path, like, format, subtype)
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
            if self.subtype not in _FLOAT_SUBTYPES:
                block = np.clip(block, -1.0, 1.0)
        self._file.write(block)
        self.frames_written += len(block)

    def __exit__(self, exc_type, exc, tb) -> None:
        """Close the file; ``atomic_path`` then renames it into place, or deletes it after an exception (a failure to
        close after an exception goes unreported: the original error is the one to report)."""
        file, self._file = self._file, None
        close_error = None
        try:
            file.close()
        except BaseException as error:
            close_error = error
        exc = exc if exc is not None else close_error
        try:
            self._target.__exit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)
        except InputError:  # the target appeared while writing and overwrite is off
            raise AudioError(self.path, "already exists; refusing to overwrite it") from None
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
