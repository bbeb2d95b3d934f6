"""``aebox-edge train`` and ``aebox-edge eval``. Imports only click and the standard-library run options at module
level (``aebox-edge --help`` stays fast); TensorFlow and numpy are imported inside the commands."""

from __future__ import annotations

import os
import sys

import click

from ..options import FINITE, FiniteFloat
from .config import (CORRECTION_BATCH, CORRECTION_EPOCHS, CORRECTION_L2, CORRECTION_LAYERS, CORRECTION_LR,
                     CORRECTION_WEIGHTS, GRAD_METHODS, MODEL_CONFIGS, OPTIMIZERS, STRATEGIES, TrainConfig)

_DEFAULT = TrainConfig()


def _quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ start-up chatter (oneDNN, CUDA probing) off the terminal unless asked for."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _default(name: str) -> str:
    return f"[default: {getattr(_DEFAULT, name)}; on --resume: the saved run's]"


@click.command()
@click.option("--config", type=click.Choice(MODEL_CONFIGS),
              help=f"Analyser: edge (ours, int8-friendly) or paper (the paper's small model). {_default('config')}")
@click.option("--data", type=click.Path(exists=True, file_okay=False),
              help="Dataset directory from 'aebox-edge data synth/build' (on --resume: the saved one).")
@click.option("--grad", type=click.Choice(GRAD_METHODS),
              help=f"Gradient through the DSP: SPSA over the numpy kernels, or the TF twins. {_default('grad')}")
@click.option("--epochs", type=click.IntRange(min=1),
              help=f"Total epochs (on --resume: may be raised to continue). [default: {_DEFAULT.epochs}]")
@click.option("--batch-size", type=click.IntRange(min=1), help=_default("batch_size"))
@click.option("--lr", type=FiniteFloat(min=0, min_open=True), help=f"Learning rate. {_default('lr')}")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), help=_default("optimizer"))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Run directory: config, checkpoints, logs, model.keras.")
@click.option("--resume", is_flag=True, help="Continue the run in --out at its next epoch, with optimizer state.")
@click.option("--strategy", type=click.Choice(STRATEGIES),
              help=f"tf.distribute strategy (multiworker reads TF_CONFIG). {_default('strategy')}")
@click.option("--seed", type=int, help=_default("seed"))
@click.option("--spsa-epsilon", type=FINITE, help=f"SPSA perturbation (normalized units). {_default('spsa_epsilon')}")
@click.option("--l1-weight", type=FINITE, help=f"Weight of the time-domain L1 loss. {_default('l1_weight')}")
@click.option("--loudness-weight", type=FINITE,
              help=f"Weight of the clip RMS term |20 ln rms(out) - 20 ln rms(target)|. {_default('loudness_weight')}")
@click.option("--init-from", type=click.Path(exists=True, resolve_path=True),
              help="Start a new run from the weights of this analyser (.keras or run directory): fine-tuning.")
@click.option("--val-fraction", type=FINITE, help=f"Fraction of clips held out for validation. "
                                                 f"{_default('val_fraction')}")
@click.option("--val-data", type=click.Path(exists=True, file_okay=False, resolve_path=True),
              help="Validate on this dataset folder (e.g. the val/ of a corpus build) instead of a --val-fraction.")
def train(out_dir, data, resume, **options):
    """Train an analyser through the EQ + compressor chain on a dataset directory."""
    _quiet_tensorflow()
    from .train import train as run_train

    run_train(out_dir, data=data, resume=resume, echo=click.echo, **options)


@click.command("eval")
@click.option("--model", "model_path", required=True, type=click.Path(),
              help="A run directory, a model.keras, or a model.tflite (--excerpts: the .tflite that run uses).")
@click.option("--data", type=click.Path(),
              help="Dataset directory of held-out examples (analysis-rate clips; rows Corrupt, Baseline, model).")
@click.option("--excerpts", type=click.Path(),
              help="Real-music excerpts directory (excerpts.json from 'aebox-edge data build'): whole excerpts at "
                   "their native rate through run's own code, beside a loudness match, the Baseline and Matchering. "
                   "No TensorFlow.")
@click.option("--model-float", type=click.Path(),
              help="--excerpts: a float32 .tflite for the float row, made with 'aebox-edge export --model "
                   "models/aebox_edge_edge.keras --quantize none --out models/aebox_edge_edge_float32.tflite' "
                   "[default: the row is left out].")
@click.option("--ceiling", is_flag=True,
              help="--excerpts: add the chain's ceiling, its 24 parameters fitted to each target (slow).")
@click.option("--ceiling-evals", type=click.IntRange(min=1), default=1500, show_default=True,
              help="--excerpts --ceiling: objective evaluations per song.")
@click.option("--limit", type=click.IntRange(min=1), help="--excerpts: only the first N items.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the results as JSON here.")
@click.option("--figures", type=click.Path(file_okay=False),
              help="Write spectrogram (and waveform / parameter-track) figures of the first clips here.")
@click.option("--figure-count", type=click.IntRange(min=0), default=3, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True)
def evaluate(model_path, data, excerpts, model_float, ceiling, ceiling_evals, limit, json_out, figures,
             figure_count, batch_size):
    """Evaluate a model against the Corrupt and Baseline rows (MSD, SCE, RMS, LUFS), on a dataset (--data; mean
    +- std over clips) or on real-music excerpts through the device path (--excerpts; mean / median, items beating
    Corrupt)."""
    from aebox_edge.errors import InputError

    if (data is None) == (excerpts is None):
        raise InputError("give exactly one of --data DIR and --excerpts DIR")
    if excerpts is not None:
        _evaluate_excerpts(model_path, excerpts, model_float, ceiling, ceiling_evals, limit, json_out, figures,
                           figure_count)
        return
    extra = [name for name, value in (("--model-float", model_float), ("--ceiling", ceiling), ("--limit", limit))
             if value]
    if extra:
        raise InputError(f"{', '.join(extra)}: only with --excerpts")
    for path, option in ((model_path, "--model"), (data, "--data")):
        if not os.path.exists(path):
            raise InputError(f"{path}: does not exist ({option})")
    from aebox_edge.data.dataset import open_dataset
    from aebox_edge.evaluation.realmusic import check_model, check_outputs
    from aebox_edge.io.atomic import write_json

    from .saved import saved_model_file

    # every path is checked before TensorFlow is imported (seconds, and its log lines)
    if model_path.endswith(".tflite"):
        check_model(model_path, "--model")
    else:
        saved_model_file(model_path)
    check_outputs(json_out, figures, inputs={"--model": model_path})
    total = len(open_dataset(data))
    _quiet_tensorflow()
    from .evaluate import evaluate_model, load_predictor

    loaded = load_predictor(model_path)
    with click.progressbar(length=total, label="evaluating", file=sys.stderr) as bar:
        result = evaluate_model(model_path, data, batch_size=batch_size, figures=figures,
                                figure_count=figure_count, progress=bar.update, loaded=loaded)
    click.echo(result["table"])
    if json_out:
        write_json(json_out, result)
        click.echo(f"results written to {json_out}")


def _evaluate_excerpts(model_path, excerpts, model_float, ceiling, ceiling_evals, limit, json_out, figures,
                       figure_count):
    """The --excerpts mode: every path is checked before scipy, the interpreter or any peer is imported; TensorFlow
    never is."""
    from aebox_edge.evaluation import realmusic
    from aebox_edge.io.atomic import write_json

    realmusic.check_excerpts(excerpts, limit)
    realmusic.check_model(model_path, "--model")
    realmusic.check_model(model_float, "--model-float")
    realmusic.check_outputs(json_out, figures, inputs={"--model": model_path, "--model-float": model_float})
    result = realmusic.evaluate_excerpts(excerpts, model_path, model_float, ceiling=ceiling,
                                         ceiling_evals=ceiling_evals, limit=limit, figures=figures,
                                         figure_count=figure_count, echo=lambda line: click.echo(line, err=True))
    click.echo(result["table"])
    if json_out:
        write_json(json_out, result)
        click.echo(f"results written to {json_out}")


@click.command("examples")
@click.option("--excerpts", "directories", required=True, multiple=True, type=click.Path(exists=True, file_okay=False),
              help="Excerpts directory from 'aebox-edge data build --corpus' (repeatable).")
@click.option("--model", required=True, type=click.Path(exists=True, dir_okay=False),
              help="An exported correction model (.tflite with its metadata): its front end and analytic fit make "
                   "the windows' inputs; its corrections are not used.")
@click.option("--exclude-songs-of", "exclude", multiple=True, type=click.Path(exists=True, file_okay=False),
              help="Leave out the songs of this excerpts directory (e.g. the tuning set, so it stays held out).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Examples archive (.npz) to write.")
@click.option("--force", is_flag=True, help="Replace an existing --out.")
@click.option("--workers", type=click.IntRange(min=1), default=os.cpu_count() or 1, show_default=True)
def examples(directories, model, exclude, out, force, workers):
    """Excerpt-level examples for 'aebox-edge train-corrections': each excerpt's windows as the runtime analyses
    them, its analytic fit, and what the metrics need of its runtime output and target."""
    from ..io.atomic import check_outputs
    from .excerpt_data import build_examples
    from ..evaluation.realmusic import check_excerpts

    check_outputs({"--out": out}, force=force)
    songs = {e.get("song") for d in exclude for e in check_excerpts(d)}
    count = build_examples(list(directories), model, out, exclude_songs=songs, workers=workers, echo=click.echo)
    click.echo(f"{out}: {count} excerpts")


@click.command("train-corrections")
@click.option("--model", required=True, type=click.Path(exists=True),
              help="The edge analyser to start from (.keras or run directory); its encoder is kept.")
@click.option("--train", "train_path", required=True, multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Training examples ('aebox-edge examples'; repeatable).")
@click.option("--val", "val_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Validation examples of other songs: the epoch is chosen on them (epoch 0 = the analytic fit).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The trained analyser (.keras).")
@click.option("--epochs", type=click.IntRange(min=1), default=CORRECTION_EPOCHS, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=CORRECTION_BATCH, show_default=True)
@click.option("--lr", type=FiniteFloat(min=0, min_open=True), default=CORRECTION_LR, show_default=True)
@click.option("--l2", type=FiniteFloat(min=0), default=CORRECTION_L2, show_default=True,
              help="Weight of the mean squared logit correction.")
@click.option("--weights", type=(FiniteFloat(min=0),) * 4, default=CORRECTION_WEIGHTS, show_default=True,
              help="Weights of MSD, RMS, SCE and LUFS (each relative to its value at the analytic fit).")
@click.option("--train-layers", type=click.Choice(CORRECTION_LAYERS), default=CORRECTION_LAYERS[0],
              show_default=True, help="What learns: the controller's dense layers and head, the head, or its bias.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--force", is_flag=True, help="Replace an existing --out.")
def train_corrections(model, train_path, val_path, out, force, **options):
    """Train the edge analyser's controller on excerpt examples with the four metrics as the loss."""
    from ..io.atomic import check_outputs

    if not out.endswith(".keras"):
        raise click.BadParameter("must end in .keras", param_hint="--out")
    check_outputs({"--out": out}, inputs={"--val": val_path, **{f"--train {p}": p for p in train_path}}, force=force)
    _quiet_tensorflow()
    from .corrections import train_corrections as run

    record = run(model, list(train_path), val_path, out, echo=click.echo, **options)
    click.echo(f"{out}: epoch {record['chosen_epoch']} kept")
