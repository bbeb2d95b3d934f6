"""The ``aebox-edge`` command line. Every heavy import happens inside the command that needs it, so that
``aebox-edge --help`` starts instantly; project errors become a one-line message and their exit code."""

from __future__ import annotations

import importlib

import click

from .errors import AeboxError


# Sub-command groups that live in their own modules ("name": "module:attribute"); imported only when used or
# listed by --help, so those modules must keep numpy/scipy imports inside their commands.
LAZY_COMMANDS = {
    "data": "aebox_edge.data.cli:data",
    "train": "aebox_edge.training.cli:train",
    "eval": "aebox_edge.training.cli:evaluate",
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
        try:
            return super().invoke(ctx)
        except AeboxError as exc:
            click.echo(f"aebox-edge: error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="aebox-edge")
def main():
    """aebox-edge: make a live recording sound like a clean reference (EQ + compressor predicted by a tiny net)."""


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
