"""The project's errors and the shared validators that raise them.

``InputError`` (bad input, also a ``ValueError``: exit code 2; ``PathError`` / ``AudioError`` name a path and the
reason) and ``RuntimeFailure`` (the work itself failed: exit code 1); ``Interrupted`` is what SIGTERM / SIGHUP raise
in the CLI. The CLI prints any ``AeboxError`` as one ``aebox-edge: error: ...`` line and exits with its code.
"""

from __future__ import annotations

import os


class AeboxError(Exception):
    """Base of the project's errors; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class InputError(AeboxError, ValueError):
    """The user gave something unusable: a missing or unreadable file, a bad option or argument value."""

    exit_code = 2


class PathError(InputError):
    """A file or directory that cannot be used (read, or written: refused, full disk, read-only); names the path and
    the reason."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class AudioError(PathError):
    """An audio file that cannot be used; names the path and the reason."""


class Interrupted(BaseException):
    """SIGTERM or SIGHUP arrived (raised by the CLI's handler, like ``KeyboardInterrupt`` for SIGINT, so that
    ``with`` blocks clean up); ``signum`` is the signal's number."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"signal {signum}")


class RuntimeFailure(AeboxError):
    """The work itself failed (a conversion, a model that produced NaN)."""

    exit_code = 1


def check_positive_int(name: str, value, minimum: int = 1) -> int:
    """``value`` as an int; raises ``InputError`` naming ``name`` unless it is an integer >= ``minimum``."""
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_audio_shape(shape: tuple[int, ...], name: str = "audio", layout: str = "(samples,) or (samples, channels)"
                      ) -> None:
    """Raise ``InputError`` unless an array of ``shape`` is one- or two-dimensional (as ``layout`` says)."""
    if len(shape) not in (1, 2):
        raise InputError(f"{name} must be shaped {layout}, got {shape}")
