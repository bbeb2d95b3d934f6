"""``aebox-edge data``: synthesize, build and preview training data. Imports only click and the standard library
at module level (``aebox-edge --help`` must stay instant); the work is imported inside each command."""

from __future__ import annotations

import os
import sys

import click

from ..options import FINITE, FiniteFloat

from ..defaults import STYLE_NAMES



def _styles(ctx, param, values):
    names = tuple(dict.fromkeys(n.strip() for v in values for n in v.split(",") if n.strip()))
    bad = [n for n in names if n not in STYLE_NAMES]
    if bad:
        raise click.BadParameter(f"unknown style(s) {', '.join(bad)}; choose from {', '.join(STYLE_NAMES)}")
    return names or STYLE_NAMES


def _venue_options(f):
    """Options shared by ``synth`` and ``build``: everything that shapes the examples."""
    for decorator in reversed((
        click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
                     help="Directory for the shards and manifest.json."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random choice."),
        click.option("--styles", multiple=True, callback=_styles, metavar="NAME[,NAME...]",
                     help=f"Production styles to draw from (repeatable or comma-separated): "
                          f"{', '.join(STYLE_NAMES)}. Default: all."),
        click.option("--irs", "irs_dir", type=click.Path(exists=True, file_okay=False),
                     help="Folder of impulse-response files (any rate/channels) used instead of synthesized "
                          "club IRs; files under a sub-folder named 'phone' replace the phone IRs."),
        click.option("--noise-snr", nargs=2, type=FINITE, default=(10.0, 30.0), show_default=True,
                     metavar="LO HI", help="Crowd-noise SNR range in dB."),
        click.option("--no-crowd", is_flag=True, help="Add no crowd noise."),
        click.option("--rt60", nargs=2, type=FINITE, default=(0.3, 1.5), show_default=True, metavar="LO HI",
                     help="RT60 range (s) of synthesized club rooms (mid-frequency)."),
        click.option("--no-swap", is_flag=True, help="One example per clip instead of the triple and its swap."),
        click.option("--shard-size", type=click.IntRange(min=1), default=256, show_default=True,
                     help="Examples per shard file."),
        click.option("--workers", type=click.IntRange(min=1), default=None,
                     help="Worker processes [default: CPU count]. Results do not depend on it."),
        click.option("--force", is_flag=True, help="Replace a dataset already in --out."),
    )):
        f = decorator(f)
    return f


def _config(seed, styles, irs_dir, noise_snr, no_crowd, rt60, no_swap, shard_size):
    from .dataset import DataConfig

    return DataConfig(seed=seed, styles=styles, swap=not no_swap, crowd_snr_db=None if no_crowd else noise_snr,
                      rt60_s=rt60, irs=irs_dir, shard_size=shard_size)


def _warn(message: str) -> None:
    click.echo(f"aebox-edge: warning: {message}", err=True)


def _summary(manifest: dict, out_dir: str) -> None:
    counts = manifest["counts"]
    styles = ", ".join(f"{k} {v}" for k, v in manifest["style_histogram"].items())
    click.echo(f"wrote {counts['examples']} examples ({counts['clips']} clips) in {counts['shards']} shard(s) "
               f"to {out_dir}; styles: {styles}")


@click.group()
def data():
    """Make training data: synthesized music or your own folder, styles, venue IRs, crowd noise."""


@data.command()
@click.option("--count", type=click.IntRange(min=1), required=True,
              help="Number of examples (each clip gives two: the triple and its swap).")
@_venue_options
def synth(count, out_dir, seed, styles, irs_dir, noise_snr, no_crowd, rt60, no_swap, shard_size, workers, force):
    """Synthesize --count examples from procedural music."""
    from .dataset import synth_dataset

    config = _config(seed, styles, irs_dir, noise_snr, no_crowd, rt60, no_swap, shard_size)
    with click.progressbar(length=count, label="synth", file=sys.stderr) as bar:
        manifest = synth_dataset(out_dir, count, config, workers=workers, progress=bar.update, warn=_warn,
                                 force=force)
    _summary(manifest, out_dir)


@data.command()
@click.option("--music", "music_dir", type=click.Path(file_okay=False),
              help="Folder of audio files (any format soundfile reads, any rate and channel count).")
@click.option("--corpus", "corpus_dir", type=click.Path(file_okay=False),
              help="A real-music corpus (manifest.json of 'data fetch') instead of --music: writes OUT/train, "
                   "OUT/val (split by song, as the corpus splits its packages) and OUT/excerpts; clean = the "
                   "original song, dirty = style + PA/venue IR + crowd + phone chain (recording gain, AGC, "
                   "limiter, codec).")
@click.option("--patches-per-file", type=click.IntRange(min=1), default=4, show_default=True,
              help="Random non-silent clips cut from each file (each song with --corpus, unless sized by "
                   "--train-examples/--val-examples).")
@click.option("--train-examples", type=click.IntRange(min=1), default=None,
              help="With --corpus: about this many train examples, clips spread over the songs by length.")
@click.option("--val-examples", type=click.IntRange(min=1), default=None,
              help="With --corpus: about this many val examples, clips spread over the songs by length.")
@click.option("--excerpts", type=click.IntRange(min=0), default=30, show_default=True,
              help="With --corpus: whole-excerpt evaluation items from val songs (one per song, two when more "
                   "are asked than there are songs).")
@click.option("--excerpt-seconds", type=FiniteFloat(min=1.0), default=15.0, show_default=True,
              help="With --corpus: length of each excerpt (native rate and channels).")
@click.option("--excerpt-split", type=click.Choice(["val", "train"]), default="val", show_default=True,
              help="With --corpus: the songs excerpts come from; 'train' makes a tuning set of training songs, "
                   "so that choices are not made on the val excerpts that are reported.")
@_venue_options
def build(music_dir, corpus_dir, patches_per_file, train_examples, val_examples, excerpts, excerpt_seconds,
          excerpt_split, out_dir, seed, styles, irs_dir, noise_snr, no_crowd, rt60, no_swap, shard_size, workers,
          force):
    """Build examples from a folder of real music or from a real-music corpus."""
    from ..errors import InputError

    if (music_dir is None) == (corpus_dir is None):
        raise InputError("give exactly one of --music FOLDER and --corpus FOLDER")
    config = _config(seed, styles, irs_dir, noise_snr, no_crowd, rt60, no_swap, shard_size)
    if corpus_dir is not None:
        _build_corpus(corpus_dir, out_dir, config, patches_per_file, train_examples, val_examples, excerpts,
                      excerpt_seconds, excerpt_split, workers, force)
        return
    from .dataset import build_dataset
    from .sources import find_audio_files

    if not os.path.isdir(music_dir):
        raise InputError(f"music folder {music_dir} does not exist or is not a directory")
    with click.progressbar(length=len(find_audio_files(music_dir)), label="build", file=sys.stderr) as bar:
        manifest = build_dataset(out_dir, music_dir, config, patches_per_file=patches_per_file, workers=workers,
                                 progress=bar.update, warn=_warn, force=force)
    _summary(manifest, out_dir)
    if manifest["skipped"]:
        click.echo(f"skipped {len(manifest['skipped'])} unreadable or unusable file(s); see manifest.json")


def _build_corpus(corpus_dir, out_dir, config, patches_per_file, train_examples, val_examples, excerpts,
                  excerpt_seconds, excerpt_split, workers, force):
    from ..errors import InputError
    from .corpus_build import CorpusOptions, build_corpus_dataset, read_corpus, split_songs

    if not os.path.isdir(corpus_dir):
        raise InputError(f"corpus folder {corpus_dir} does not exist or is not a directory")
    options = CorpusOptions(patches_per_song=patches_per_file, train_examples=train_examples,
                            val_examples=val_examples, excerpts=excerpts, excerpt_seconds=excerpt_seconds,
                            excerpt_split=excerpt_split)
    splits, _ = split_songs(read_corpus(corpus_dir)["entries"])
    length = len(splits["train"]) + len(splits["val"]) + options.excerpts
    with click.progressbar(length=length, label="build", file=sys.stderr) as bar:
        summary = build_corpus_dataset(out_dir, corpus_dir, config, options, workers=workers,
                                       progress=bar.update, warn=_warn, force=force)
    for s, counts in summary["splits"].items():
        click.echo(f"{s}: {counts['examples']} examples ({counts['clips']} clips) from {counts['songs']} songs "
                   f"in {os.path.join(out_dir, s)}")
    click.echo(f"excerpts: {summary['excerpts']} in {os.path.join(out_dir, 'excerpts')}")
    if summary["skipped"]:
        click.echo(f"skipped {len(summary['skipped'])} file(s); see build.json")


@data.command()
@click.argument("dataset_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--index", type=int, default=0, show_default=True, help="Example to show.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Directory for input.wav, reference.wav, target.wav and spectrograms.png.")
@click.option("--force", is_flag=True, help="Replace those files when --out already holds them.")
def preview(dataset_dir, index, out_dir, force):
    """Write one example as three wav files and a spectrogram PNG."""
    from ..errors import InputError
    from .dataset import open_dataset
    from .preview import write_preview

    reader = open_dataset(dataset_dir)
    if not 0 <= index < len(reader):
        raise InputError(f"--index {index} out of range: {dataset_dir} has {len(reader)} examples")
    for path in write_preview(reader, index, out_dir, warn=_warn, force=force):
        click.echo(path)


@data.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Corpus folder: debs/, music/<split>/<package>/, irs/, crowd/, manifest.json.")
@click.option("--list", "list_only", is_flag=True, help="Print each package, its split/kind and download size; "
                                                         "download nothing.")
@click.option("--only", multiple=True, metavar="PKG", help="Fetch only these packages (repeatable).")
def fetch(out_dir, list_only, only):
    """Fetch the real-music corpus (plus real IRs and crowd) from Debian packages; resumable."""
    from .fetch import fetch_corpus, list_packages

    if list_only:
        rows = list_packages(only, out_dir)
        total = 0
        for r in rows:
            size = "?" if r["bytes"] is None else f"{r['bytes'] / 1e6:.1f} MB"
            total += r["bytes"] or 0
            click.echo(f"{r['package']:28s} {r['kind']:6s} {r['split'] or '-':6s} {size:>10s}")
        click.echo(f"{'total':28s} {'':6s} {'':6s} {total / 1e6:>7.1f} MB")
        return
    manifest = fetch_corpus(out_dir, only, log=lambda m: click.echo(m, err=True))
    t = manifest["totals"]
    for split, s in sorted(t["music"].items()):
        click.echo(f"music {split}: {s['files']} files, {s['songs']} songs, {s['hours']:.2f} h")
    click.echo(f"irs: {t['ir']['files']} files; crowd: {t['crowd']['files']} files, {t['crowd']['minutes']:.1f} min")
    click.echo(f"skipped: {', '.join(f'{k} {v}' for k, v in sorted(t['skipped'].items())) or 'none'}")
