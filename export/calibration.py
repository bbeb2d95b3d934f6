"""Clips for int8 calibration and for verification, turned into the network's inputs by the one numpy front end.

Clips are (input, reference) pairs of the training data's kind (input = dirty A, reference = clean B): either made
on the fly by the data synthesizer (``aebox_edge.data.dataset.synth_clip``: clip ``i`` of seed ``s``, its first
example) or read from a dataset directory. Calibration takes clips ``0..n-1`` and verification the next ``m``, so the
verification clips are never seen by the calibrator. From a dataset directory both sets are drawn without overlap from
one seeded permutation of its examples (a clip's swapped twin may land in the other set).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aebox_edge.errors import InputError
from aebox_edge.frontend import analysis_features, clip_match_inputs


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


@dataclass(frozen=True)
class Clips:
    """Prepared clips: ``inputs``, the model's input arrays in its input order (the input's and the reference's
    features (n, frames, n_mels, 1), and a correction model's match features (n, bands)); ``analytic``, the
    analytic fits (n, 24) a correction model corrects (None otherwise); ``audio``, the dirty inputs (n, samples)."""

    inputs: tuple[np.ndarray, ...]
    analytic: np.ndarray | None
    audio: np.ndarray

    def __len__(self) -> int:
        return len(self.audio)

    def example(self, i: int) -> tuple:
        """The arguments of the runtime's ``Analyser.predict`` for clip ``i``."""
        return (*(a[i] for a in self.inputs), *(() if self.analytic is None else (self.analytic[i],)))


def features(pairs, config, progress=None, correction: bool = False) -> Clips:
    """The :class:`Clips` of ``pairs`` (input, reference audio at ``config.sample_rate``); ``correction`` adds the
    match features and analytic fits (``aebox_edge.frontend.clip_match_inputs``). ``progress(1)`` per clip."""
    inputs, references, audio, reference_audio = [], [], [], []
    for x, ref in pairs:
        feat_x, feat_ref = analysis_features(x, ref, config)
        inputs.append(feat_x)
        references.append(feat_ref)
        audio.append(np.asarray(x, dtype=np.float32))
        reference_audio.append(np.asarray(ref, dtype=np.float32))
        if progress is not None:
            progress(1)
    if not inputs:
        raise InputError("no clips to calibrate or verify with")
    audio, arrays = np.stack(audio), (np.stack(inputs), np.stack(references))
    if not correction:
        return Clips(arrays, None, audio)
    match, analytic = clip_match_inputs(audio, np.stack(reference_audio), config)
    return Clips((*arrays, match), analytic, audio)


def clip_sets(config, n_calibration: int, n_verify: int, seed: int = 0, data_dir: str | None = None,
              progress=None, correction: bool = False):
    """:class:`Clips` of the calibration clips (``n_calibration`` may be 0: None) and of the held-out verification
    clips, ``(calibration, verification)``; ``correction`` as in :func:`features`."""
    if data_dir is not None:
        calib_pairs, verify_pairs = dataset_pairs(data_dir, n_calibration, n_verify, seed)
    else:
        calib_pairs = synthetic_pairs(0, n_calibration, seed)
        verify_pairs = synthetic_pairs(n_calibration, n_verify, seed)
    calibration = features(calib_pairs, config, progress, correction) if n_calibration else None
    return calibration, features(verify_pairs, config, progress, correction)


def representative_dataset(clips: Clips, input_names):
    """The converter's representative dataset: one dict ``{input name: batch-1 array}`` per clip, the names in the
    order of ``clips.inputs``."""
    def generate():
        for i in range(len(clips)):
            yield {name: a[i][None] for name, a in zip(input_names, clips.inputs)}
    return generate
