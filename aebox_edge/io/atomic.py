"""Atomic file writes, the output guard and file hashing: the rules every writer of the project follows.

A file is written to a hidden temporary file in the target's directory (``.aebox-XXXXXXXX.tmp``: short, so that
every legal target name works), flushed to disk and renamed over the target only when it is complete, so a failed
or interrupted write leaves nothing behind (POSIX ``rename`` is atomic within one file system). The new file gets
the permissions the umask allows, as ``open`` would give it (``mkstemp`` makes 0600 files). A write that fails for
a reason of the environment (full disk, read-only file system, permissions) raises ``PathError`` naming the target.

``check_outputs`` is the one guard every command runs on its output paths before the work starts: never an input,
never two outputs of one command on the same file, never a directory or a non-regular file (a device such as
``/dev/null``, a pipe or a socket is refused rather than replaced by a regular file), an existing file only with
``force``, a name the file system can hold, and a directory this process can create files in (checked by creating
and deleting a temporary file there).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
import tempfile
import zipfile
from typing import Iterator, Mapping

from ..errors import InputError, PathError

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed zip timestamps: equal arrays give equal .npz files
TEMP_PREFIX = ".aebox-"  # temporary files: .aebox-XXXXXXXX.tmp beside the target
# errno values that mean "the environment refuses this write" (reported as PathError, not as a traceback)
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG,
                          errno.ENAMETOOLONG, errno.EIO})


def new_file_mode() -> int:
    """Permissions a newly created file gets under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_failure(path: str | os.PathLike, exc: OSError, error: type[PathError] = PathError) -> PathError:
    """The project's error for an ``OSError`` while writing ``path`` (``error(path, "cannot write: <reason>")``)."""
    return error(path, f"cannot write: {exc.strerror or exc}")


def temporary_file(directory: str, suffix: str = ".tmp") -> str:
    """Create an empty hidden temporary file (``.aebox-XXXXXXXX<suffix>``) in ``directory``; returns its path.
    Raises ``OSError`` when the directory refuses it."""
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=suffix, dir=directory)
    os.close(fd)
    return tmp


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = True, suffix: str = ".tmp") -> Iterator[str]:
    """Yield a temporary path beside ``path`` to write to; on a clean exit it replaces ``path``, on an exception it
    is deleted. ``suffix`` ends the temporary name (e.g. ``.keras`` for writers that check the extension).

    Raises ``InputError`` when ``path`` exists at the rename and ``overwrite`` is false, and ``PathError`` naming
    ``path`` when the environment refuses the write (an ``OSError`` with an errno of ``WRITE_ERRNOS``: no space,
    read-only file system, permission denied, ...)."""
    path = os.fspath(path)
    tmp = None
    try:
        tmp = temporary_file(os.path.dirname(os.path.abspath(path)), suffix)
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, new_file_mode())
        if not overwrite and os.path.exists(path):
            raise InputError(f"{path}: already exists; refusing to overwrite it")
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno in WRITE_ERRNOS:
            raise write_failure(path, exc) from None
        raise
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


def _name_max(directory: str) -> int:
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def _same(a: str, b: str) -> bool:
    """Whether paths ``a`` and ``b`` name one file: the same inode when both exist, else the same resolved path."""
    if os.path.exists(a) and os.path.exists(b):
        return os.path.samefile(a, b)
    return os.path.realpath(a) == os.path.realpath(b)


def check_output(path: str | os.PathLike, *, inputs: Mapping[str, str | os.PathLike | None] | None = None,
                 force: bool = False, error: type[PathError] = PathError) -> str:
    """Check one output path before the work starts (see the module docstring); returns it as a ``str``.

    ``inputs`` maps a label (e.g. ``"input"``, ``"reference"``) to a path this command reads (``None`` skips).
    Raises ``error(path, reason)``: a name ending in a separator, a directory, an existing non-regular file, an
    input file (even with ``force``), an existing file without ``force``, a missing parent directory, a name longer
    than the file system allows, or a directory where no file can be created (the reason the system gives)."""
    path = os.fspath(path)
    if path.endswith(os.sep) or (os.altsep and path.endswith(os.altsep)):
        raise error(path, "names a directory (ends in a path separator); give a file name")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise error(path, f"output directory does not exist: {directory}")
    if os.path.isdir(path):
        raise error(path, "is a directory")
    if os.path.exists(path) and not stat.S_ISREG(os.stat(path).st_mode):
        raise error(path, "is not a regular file (a device, pipe or socket); refusing to replace it")
    for label, other in (inputs or {}).items():
        if other is not None and _same(path, os.fspath(other)):
            raise error(path, f"is the {label} file; refusing to overwrite an input")
    if os.path.exists(path) and not force:
        raise error(path, "already exists; refusing to overwrite it (use --force)")
    name_bytes, limit = len(os.fsencode(os.path.basename(path))), _name_max(directory)
    if name_bytes > limit:
        raise error(path, f"file name is {name_bytes} bytes; this file system allows at most {limit}")
    try:
        os.remove(temporary_file(directory, ".tmp"))
    except OSError as exc:
        raise error(path, f"cannot create files in {directory}: {exc.strerror or exc}") from None
    return path


def check_outputs(outputs: Mapping[str, str | os.PathLike | None], *,
                  inputs: Mapping[str, str | os.PathLike | None] | None = None, force: bool = False) -> None:
    """``check_output`` on every path of ``outputs`` (label -> path; ``None`` skips), and refuse two labels naming
    one file (``PathError``: e.g. ``--params-out`` equal to ``-o`` would replace the audio with JSON)."""
    given = [(label, os.fspath(p)) for label, p in outputs.items() if p is not None]
    for i, (label, path) in enumerate(given):
        for other_label, other in given[:i]:
            if _same(path, other):
                raise PathError(path, f"{label} and {other_label} name the same file")
        check_output(path, inputs=inputs, force=force)


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
