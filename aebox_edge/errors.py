"""The project's errors. ``InputError`` (bad input: exit code 2) and ``RuntimeFailure`` (exit code 1)."""

from __future__ import annotations

import os


class AeboxError(Exception):
    """Base of the project's errors; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class InputError(AeboxError):
    """The user gave something unusable: a missing or unreadable file, a bad option value."""

    exit_code = 2


class AudioError(InputError):
    """An audio file that cannot be used; names the path and the reason."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class RuntimeFailure(AeboxError):
    """The work itself failed (a conversion, a model that produced NaN)."""

    exit_code = 1
