"""Training and validation input pipelines over a dataset directory (``aebox_edge.data.dataset``).

Examples are split by clip (an example and its swapped twin share a clip, so they land on the same side): the last
``val_fraction`` of the clips validate. Features come from the one numpy front end (``analysis_features``),
computed per batch in the tf.data pipeline, never inside the model graph.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from aebox_edge.data.dataset import open_dataset
from aebox_edge.errors import InputError
from aebox_edge.frontend import MATCH_FEATURES, FrontEndConfig, analysis_features, clip_match_inputs
from ddsp_kernels import PARAM_SPEC
from ddsp_kernels.match import BAND_CENTRES_HZ

from .networks import INPUT_NAMES


@dataclass(frozen=True)
class Split:
    """Examples with ``clip < first_val_clip`` train, the others validate."""

    first_val_clip: int
    train: int
    val: int


def split_dataset(root: str, val_fraction: float) -> Split:
    """Split by clip; reads only the ``clip`` array of each shard."""
    reader = open_dataset(root)
    clips = np.concatenate([_shard_clips(reader.root, s["file"]) for s in reader.manifest["shards"]])
    distinct = np.unique(clips)
    n_val = max(1, int(round(val_fraction * len(distinct)))) if val_fraction > 0 else 0
    if n_val >= len(distinct):
        raise InputError(f"{root} holds {len(distinct)} clip(s): too few to split off {val_fraction:.0%} "
                         "for validation (use more examples or --val-fraction 0)")
    first_val = int(distinct[len(distinct) - n_val]) if n_val else int(distinct[-1]) + 1
    n_val_examples = int(np.sum(clips >= first_val))
    return Split(first_val, len(clips) - n_val_examples, n_val_examples)


def _shard_clips(root: str, name: str) -> np.ndarray:
    with np.load(os.path.join(root, name), allow_pickle=False) as z:
        return z["clip"]


def sample_rate_and_window(root: str) -> tuple[int, int]:
    manifest = open_dataset(root).manifest
    return int(manifest["sample_rate"]), int(manifest["window_samples"])


def whole_split(root: str, subset: str) -> Split:
    """All of a dataset as ``subset`` ("train" or "val"): for a validation set kept in its own folder."""
    reader = open_dataset(root)
    n = sum(int(s["examples"]) for s in reader.manifest["shards"])
    return Split(np.iinfo(np.int64).max, n, 0) if subset == "train" else Split(0, 0, n)


def make_dataset(root: str, front_end: FrontEndConfig, batch_size: int, split: Split, subset: str,
                 shuffle: bool = False, seed: int = 0, first_epoch: int = 0, correction: bool = False
                 ) -> tf.data.Dataset:
    """``({"input_features", "reference_features", "input_audio"}, target)`` batches of ``subset`` ("train" or
    "val"); with ``correction`` (an edge analyser) also ``match_features``, ``analytic`` and ``reference_audio``
    (``aebox_edge.frontend.clip_match_inputs``). With ``shuffle``, each pass (epoch) permutes shards and examples
    with a seed of ``(seed, epoch)``; passes count from ``first_epoch``."""
    if subset not in ("train", "val"):
        raise ValueError(f"subset must be 'train' or 'val', got {subset!r}")
    count = split.train if subset == "train" else split.val
    reader = open_dataset(root)
    window = int(reader.manifest["window_samples"])
    epochs = itertools.count(first_epoch)

    def examples():
        pass_seed = int(np.random.SeedSequence([seed, next(epochs)]).generate_state(1)[0])
        for example in reader.batches(1, shuffle=shuffle, seed=pass_seed):
            if (example["clip"][0] >= split.first_val_clip) == (subset == "val"):
                yield example["input"][0], example["reference"][0], example["target"][0]

    def features(inputs, references):
        return analysis_features(inputs, references, front_end)

    def match(inputs, references):
        return clip_match_inputs(inputs, references, front_end)

    def with_features(inputs, references, targets):
        f_in, f_ref = tf.numpy_function(features, [inputs, references], [tf.float32, tf.float32], stateful=False)
        for f in (f_in, f_ref):
            f.set_shape((None, *front_end.shape, 1))
        batch = {INPUT_NAMES[0]: f_in, INPUT_NAMES[1]: f_ref, "input_audio": inputs}
        if correction:
            difference, analytic = tf.numpy_function(match, [inputs, references], [tf.float32, tf.float32],
                                                     stateful=False)
            difference.set_shape((None, len(BAND_CENTRES_HZ)))
            analytic.set_shape((None, len(PARAM_SPEC)))
            batch.update({MATCH_FEATURES: difference, "analytic": analytic, "reference_audio": references})
        return batch, targets

    spec = tf.TensorSpec((window,), tf.float32)
    ds = tf.data.Dataset.from_generator(examples, output_signature=(spec, spec, spec))
    ds = ds.batch(batch_size).map(with_features, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.apply(tf.data.experimental.assert_cardinality(-(-count // batch_size)))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)
