"""Atomic file writes and file hashing: the one rule every writer of the project follows.

A file is written to a hidden temporary file in the target's directory (``.NAME.XXXXXX.tmp``), flushed to disk and
renamed over the target only when it is complete, so a failed or interrupted write leaves nothing behind (POSIX
``rename`` is atomic within one file system). The new file gets the permissions the umask allows, as ``open`` would
give it (``mkstemp`` makes 0600 files).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import zipfile
from typing import Iterator

from ..errors import InputError

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed zip timestamps: equal arrays give equal .npz files


def new_file_mode() -> int:
    """Permissions a newly created file gets under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = True, suffix: str = ".tmp") -> Iterator[str]:
    """Yield a temporary path beside ``path`` to write to; on a clean exit it replaces ``path``, on an exception it
    is deleted. ``suffix`` ends the temporary name (e.g. ``.keras`` for writers that check the extension).

    Raises ``InputError`` when ``path`` exists at the rename and ``overwrite`` is false."""
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=suffix,
                               dir=os.path.dirname(os.path.abspath(path)))
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, new_file_mode())
        if not overwrite and os.path.exists(path):
            raise InputError(f"{path}: already exists; refusing to overwrite it")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


def write_json(path: str | os.PathLike, data, *, indent: int = 2, sort_keys: bool = False, default=None) -> None:
    """Write ``data`` as JSON (``json.dump`` options, then a newline) to ``path`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=indent, sort_keys=sort_keys, default=default)
        fh.write("\n")


def write_npz(path: str | os.PathLike, arrays: dict) -> str:
    """Write ``arrays`` (name -> numpy array) as an uncompressed ``.npz`` with fixed zip timestamps (``np.savez``
    stamps the current time) to ``path`` atomically; returns its sha256."""
    import numpy as np

    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name, array in arrays.items():
                info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME)
                info.external_attr = 0o644 << 16
                with zf.open(info, "w", force_zip64=True) as fh:
                    np.lib.format.write_array(fh, np.ascontiguousarray(array), allow_pickle=False)
    return sha256_file(path)


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
