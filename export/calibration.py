"""Clips for int8 calibration and for verification, turned into the network's inputs by the one numpy front end.

Clips are (input, reference) pairs of the training data's kind (input = dirty A, reference = clean B): either made
on the fly by the data synthesizer (``aebox_edge.data.dataset.synth_clip``: clip ``i`` of seed ``s``, its first
example) or read from a dataset directory. Calibration takes clips ``0..n-1`` and verification the next ``m``, so the
verification clips are never seen by the calibrator. From a dataset directory both sets are drawn without overlap from
one seeded permutation of its examples (a clip's swapped twin may land in the other set).
"""

from __future__ import annotations

import numpy as np

from aebox_edge.errors import InputError
from aebox_edge.frontend import analysis_features


def synthetic_pairs(start: int, count: int, seed: int):
    """(input, reference) audio of synthesized clips ``start..start+count-1`` (24 kHz, one window each)."""
    from aebox_edge.data.dataset import DataConfig, synth_clip

    config = DataConfig(seed=seed)
    for index in range(start, start + count):
        example = synth_clip(config, index).examples(config)[0]
        yield example["input"], example["reference"]


def dataset_pairs(root: str, n_calibration: int, n_verify: int, seed: int):
    """(calibration pairs, verification pairs) drawn without overlap from the dataset at ``root``."""
    from aebox_edge.data.dataset import open_dataset

    reader = open_dataset(root)
    if reader.manifest["sample_rate"] != 24000:
        raise InputError(f"{root}: dataset sample rate {reader.manifest['sample_rate']} Hz, the analyser needs 24000")
    if len(reader) < n_verify + 1:
        raise InputError(f"{root} has {len(reader)} examples; calibration and verification need at least "
                         f"{n_verify + 1}")
    order = np.random.default_rng(seed).permutation(len(reader))
    verify_idx = order[:n_verify]
    calib_idx = order[n_verify:n_verify + n_calibration]

    def pairs(indices):
        for i in sorted(int(i) for i in indices):  # sorted: one shard in memory at a time
            example = reader[i]
            yield example["input"], example["reference"]

    return pairs(calib_idx), pairs(verify_idx)


def features(pairs, config, progress=None):
    """Stack the front end's features of ``pairs``: (inputs, references, input audio), the first two shaped
    (n, frames, n_mels, 1) float32, the audio (n, window_samples). ``progress(1)`` is called per clip."""
    inputs, references, audio = [], [], []
    for x, ref in pairs:
        feat_x, feat_ref = analysis_features(x, ref, config)
        inputs.append(feat_x)
        references.append(feat_ref)
        audio.append(np.asarray(x, dtype=np.float32))
        if progress is not None:
            progress(1)
    if not inputs:
        raise InputError("no clips to calibrate or verify with")
    return np.stack(inputs), np.stack(references), np.stack(audio)


def clip_sets(config, n_calibration: int, n_verify: int, seed: int = 0, data_dir: str | None = None,
              progress=None):
    """Features of the calibration clips (``n_calibration`` may be 0) and of the held-out verification clips.

    Returns ``(calibration, verification)``, each ``(inputs, references, input audio)`` as :func:`features` makes
    them (``calibration`` is None when ``n_calibration`` is 0).
    """
    if data_dir is not None:
        calib_pairs, verify_pairs = dataset_pairs(data_dir, n_calibration, n_verify, seed)
    else:
        calib_pairs = synthetic_pairs(0, n_calibration, seed)
        verify_pairs = synthetic_pairs(n_calibration, n_verify, seed)
    calibration = features(calib_pairs, config, progress) if n_calibration else None
    return calibration, features(verify_pairs, config, progress)


def representative_dataset(inputs, references, input_names):
    """The converter's representative dataset: one dict ``{input name: (1, frames, n_mels, 1)}`` per clip, in the
    order of ``input_names`` (dirty input's features, reference's features)."""
    def generate():
        for x, ref in zip(inputs, references):
            yield dict(zip(input_names, (x[None], ref[None])))
    return generate
