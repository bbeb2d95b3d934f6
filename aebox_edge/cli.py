"""The ``aebox-edge`` command line. Every heavy import happens inside the command that needs it, so that
``aebox-edge --help`` starts instantly.

Exit codes: 0 done; 1 internal error (or a failed check: bench FAIL, export over its limits); 2 bad input, a refused
output or an environment failure (full disk, read-only file system, permissions); 130 / 143 / 129 interrupted by
SIGINT (Ctrl-C) / SIGTERM / SIGHUP (128 + the signal number, as shells report it). Every error is one
``aebox-edge: error: ...`` line; an internal error prints its traceback only when ``AEBOX_EDGE_DEBUG=1``
(``DEBUG_ENV``). SIGTERM and SIGHUP unwind like Ctrl-C, so every temporary file is removed on the way out.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import threading
import traceback

import click

from .errors import AeboxError, Interrupted

DEBUG_ENV = "AEBOX_EDGE_DEBUG"
EXIT_INTERNAL, EXIT_INPUT = 1, 2
HANDLED_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


# Sub-command groups that live in their own modules ("name": "module:attribute"); imported only when used or
# listed by --help, so those modules must keep numpy/scipy imports inside their commands.
LAZY_COMMANDS = {
    "data": "aebox_edge.data.cli:data",
    "train": "aebox_edge.training.cli:train",
    "eval": "aebox_edge.training.cli:evaluate",
    "examples": "aebox_edge.training.cli:examples",
    "train-corrections": "aebox_edge.training.cli:train_corrections",
    "export": "export.cli:export",
    "run": "aebox_edge.runtime.cli:run",
    "bench": "aebox_edge.runtime.cli:bench",
}


class _Group(click.Group):
    """A click group with lazily imported sub-commands that turns the project's errors into
    ``aebox-edge: error: ...`` and their exit code."""

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx, name):
        if name in LAZY_COMMANDS:
            module, attr = LAZY_COMMANDS[name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        from .runtime.allocator import tune_allocator

        tune_allocator()  # numpy's freed arrays reused instead of returned to the kernel (see there)
        with _signals_as_interrupts():
            try:
                return super().invoke(ctx)
            except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
                raise  # usage errors and ctx.exit(): click reports them
            except AeboxError as exc:
                _fail(ctx, str(exc), exc.exit_code)
            except OSError as exc:  # the environment refused something no check caught (disk full, permissions)
                where = f"{exc.filename}: " if exc.filename else ""
                _fail(ctx, f"{where}{exc.strerror or exc}", EXIT_INPUT)
            except KeyboardInterrupt:
                _fail(ctx, "interrupted", 128 + signal.SIGINT)
            except Interrupted as exc:
                _fail(ctx, f"interrupted ({signal.Signals(exc.signum).name})", 128 + exc.signum)
            except Exception as exc:  # noqa: BLE001  (the last resort: one line, the traceback on request)
                if os.environ.get(DEBUG_ENV) == "1":
                    raise
                _fail(ctx, f"internal error: {type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 for the traceback)",
                      EXIT_INTERNAL)


def _fail(ctx, message: str, code: int):
    click.echo(f"aebox-edge: error: {message}", err=True)
    if os.environ.get(DEBUG_ENV) == "1" and code != EXIT_INPUT:
        traceback.print_exc()
    ctx.exit(code)


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


@contextlib.contextmanager
def _signals_as_interrupts():
    """While a command runs, SIGTERM and SIGHUP raise ``Interrupted`` (a ``BaseException``, like the
    ``KeyboardInterrupt`` of SIGINT), so ``with`` blocks (atomic writes) clean up; the old handlers come back after.
    Only the main thread can set handlers: elsewhere (a test runner's thread) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _raise_interrupted) for signum in HANDLED_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="aebox-edge")
def main():
    """aebox-edge: make a live recording sound like a clean reference (EQ + compressor predicted by a tiny net).

    Exit codes: 0 ok, 1 internal error, 2 bad input or refused, 130/143/129 interrupted (SIGINT/SIGTERM/SIGHUP).
    Set AEBOX_EDGE_DEBUG=1 for the traceback of an internal error."""


@main.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="demo_out", show_default=True,
              help="Directory for the demo's wav files.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--clips", type=click.IntRange(min=1), default=8, show_default=True,
              help="Recordings (seeds SEED, SEED+1, ...) the metrics are averaged over; the first is written.")
@click.option("--force", is_flag=True, help="Overwrite existing demo files.")
@click.option("--model", type=click.Path(dir_okay=False), default=None,
              help="Model .tflite [default: the shipped int8 model].")
def demo(out_dir, seed, clips, force, model):
    """Enhance a generated live-venue recording with the shipped model; write wavs, a PNG and the bench summary."""
    from .evaluation.demo import run_demo

    run_demo(out_dir, seed=seed, clips=clips, force=force, model=model, echo=click.echo)




@main.command()
@click.argument("audio", required=False, type=click.Path(dir_okay=False))
def info(audio):
    """Show versions and backends, or the properties of an AUDIO file."""
    from .runtime.info import run_info

    run_info(audio, echo=click.echo)
