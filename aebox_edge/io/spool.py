"""Audio frames spooled to disk between two passes over a signal, so that memory stays flat for any length: raw
float32 frames in an unnamed temporary file (no header; nothing else reads it; the OS deletes it whatever
happens). ``aebox-edge run`` spools the chain's output for the level stage (its loudness is known only at the end)
and a compressed input for the render pass (a second decode of a 4-minute FLAC or Ogg Vorbis song costs 0.5-0.7 s,
reading the spool back 0.015 s; an uncompressed input is read again instead, as fast and without the disk).
"""

from __future__ import annotations

import tempfile
from typing import Iterable, Iterator

import numpy as np

from ..errors import RuntimeFailure

# subtypes libsndfile decodes by copying or converting samples: reading them again is as cheap as a spool
UNCOMPRESSED_SUBTYPES = frozenset({"PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"})


def is_compressed(format: str, subtype: str) -> bool:
    """Whether decoding a file of this soundfile ``format`` and ``subtype`` costs more than reading raw frames
    (FLAC, Ogg, MP3, ADPCM, ...)."""
    return format.upper() in ("FLAC", "OGG", "MPEG", "MP3") or subtype.upper() not in UNCOMPRESSED_SUBTYPES


class Spool:
    """Frames of ``channels`` channels written with :meth:`write` (or :meth:`tee`), read back in order with
    :meth:`blocks`. Use as a context manager (closing deletes the file). A write the disk refuses (full, quota)
    raises ``RuntimeFailure``."""

    def __init__(self, channels: int):
        self.channels = int(channels)
        self.frames = 0
        self._file = tempfile.TemporaryFile()

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def write(self, block: np.ndarray) -> None:
        block = np.ascontiguousarray(block, dtype=np.float32).reshape(-1, self.channels)
        try:
            self._file.write(memoryview(block).cast("B"))
        except OSError as exc:
            raise RuntimeFailure(f"cannot write the temporary audio file: {exc.strerror or exc}") from exc
        self.frames += len(block)

    def tee(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """``blocks`` unchanged, each one written on the way."""
        for block in blocks:
            self.write(block)
            yield block

    def blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        """Everything written so far, from the start, as new (frames, channels) float32 arrays of ``block_frames``
        frames (the last one shorter)."""
        self._file.flush()
        self._file.seek(0)
        frame_bytes = 4 * self.channels
        while True:
            block = np.empty((block_frames, self.channels), np.float32)
            read = self._file.readinto(memoryview(block).cast("B"))
            if not read:
                return
            yield block[:read // frame_bytes]
