"""``aebox-edge train``: fit an analyser through the DDSP layer (docs/architecture.md, section 6).

A run directory holds::

    config.json              the run's options, front end, parameter names, dataset and software versions
    model.keras              the analyser (features -> 24 normalized parameters) of the best epoch so far
    log.csv                  one row per epoch (loss, val_loss, epoch_seconds)
    tensorboard/             TensorBoard logs
    checkpoints/last.keras   the whole enhancer with its optimizer state after the last finished epoch
    checkpoints/best.keras   the same at the best epoch (lowest val_loss, or loss without validation)
    checkpoints/state.json   the last finished epoch and the best value so far

``--resume`` reloads ``last.keras`` (weights and optimizer state) and continues at the next epoch.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import shutil
import time

import keras
import numpy as np
import tensorflow as tf

from aebox_edge.data.dataset import open_dataset
from aebox_edge.errors import InputError, RuntimeFailure
from aebox_edge.io.atomic import atomic_path, write_json
from ddsp_kernels import PARAM_SPEC

from .config import CONFIG_FILE, MODEL_FILE, TrainConfig
from .data import make_dataset, sample_rate_and_window, split_dataset, whole_split
from .losses import MultiResolutionMelLoss
from .networks import build_analyser, build_enhancer, count_flops, front_end_for, output_kind
from .saved import load_saved_analyser

LOG_FILE = "log.csv"
CHECKPOINTS = "checkpoints"
STATE_FILE = "state.json"


def make_strategy(name: str) -> tf.distribute.Strategy:
    """``default`` (one device), ``mirrored`` (all local GPUs, or the CPU) or ``multiworker`` (``TF_CONFIG``).

    A multi-worker run starts the same ``train`` command on every worker of the ``TF_CONFIG`` cluster; the global
    ``--batch-size`` is split over the workers. Only the chief (the ``chief`` task, else worker 0) writes ``--out``;
    ``--resume`` needs that run directory where every worker can read it (a shared filesystem)."""
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def _is_chief(strategy: tf.distribute.Strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().jobs


def _multi_worker(strategy: tf.distribute.Strategy) -> bool:
    """Whether ``strategy`` spans more than this process (a ``TF_CONFIG`` cluster of several workers)."""
    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.num_replicas_in_sync > len(strategy.extended.worker_devices))


def _fit_across_workers(model: keras.Model, strategy: tf.distribute.Strategy) -> None:
    """Let Keras 3's ``model.fit`` run under a multi-worker ``MultiWorkerMirroredStrategy``, where it fails twice
    (keras-team/keras issue 20585, tensorflow/tensorflow issue 72388):

    - before the first step fit builds the model from one batch that it all-reduces across workers, and the
      collective all-reduce refuses a nested batch ("Attempt to convert a value ({'input_features': PerReplica...})
      to a Tensor"). The build needs only shapes and dtypes: this worker's own replica of the batch serves.
    - after each step it averages the step's logs over workers along axis 0, which a scalar metric does not have
      ("Invalid reduction dimension 0 for input with 0 dimensions"). Each metric is given that axis (one row per
      worker). The epoch's logs are unaffected: fit reads them from the metrics' variables, summed over workers.
    """
    if hasattr(model, "_maybe_symbolic_build"):  # absent from a Keras whose fit no longer has that step

        def build(iterator=None, data_batch=None):
            if data_batch is None and iterator is not None:
                for _, _, batches in iterator:
                    data_batch = tf.nest.map_structure(lambda v: strategy.experimental_local_results(v)[0],
                                                       next(batches))
                    break
            with strategy.scope():
                model._symbolic_build(data_batch=data_batch)

        model._maybe_symbolic_build = build

    compute_metrics = model.compute_metrics

    def metrics_with_worker_axis(*args, **kwargs):
        return tf.nest.map_structure(lambda v: tf.expand_dims(v, 0), compute_metrics(*args, **kwargs))

    model.compute_metrics = metrics_with_worker_axis


def _save_model(model: keras.Model, path: str) -> None:
    with atomic_path(path, suffix=".keras") as tmp:  # keras wants the extension
        model.save(tmp)


class RunCheckpoint(keras.callbacks.Callback):
    """After every epoch: ``last.keras``; on improvement ``best.keras`` and the analyser as ``model.keras``; then
    ``state.json``. Adds ``epoch_seconds`` to the epoch's logs. Writes only on the chief worker."""

    def __init__(self, run_dir: str, analyser_name: str, monitor: str, best: float, write: bool = True):
        super().__init__()
        self.run_dir = run_dir
        self.analyser_name = analyser_name
        self.monitor = monitor
        self.best = best
        self.write = write
        self._started = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["epoch_seconds"] = time.perf_counter() - self._started
        value = float(logs.get(self.monitor, np.nan))
        if not np.isfinite(value):
            return  # a diverged epoch is never checkpointed: resume starts from the last good one
        improved = value < self.best
        if improved:
            self.best = value
        if not self.write:
            return
        checkpoints = os.path.join(self.run_dir, CHECKPOINTS)
        last = os.path.join(checkpoints, "last.keras")
        _save_model(self.model, last)
        state_path = os.path.join(checkpoints, STATE_FILE)
        state = _read_state(state_path) or {}
        if improved:
            with atomic_path(os.path.join(checkpoints, "best.keras")) as tmp:
                shutil.copyfile(last, tmp)
            _save_model(self.model.get_layer(self.analyser_name), os.path.join(self.run_dir, MODEL_FILE))
            state["best_epoch"] = epoch
        state.update(epoch=epoch, monitor=self.monitor, best=self.best,
                     logs={k: float(v) for k, v in logs.items()})
        write_json(state_path, state, sort_keys=True)


def _read_state(path: str) -> dict | None:
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _optimizer(name: str, lr: float) -> keras.optimizers.Optimizer:
    return keras.optimizers.SGD(lr) if name == "sgd" else keras.optimizers.Adam(lr)


def _initial_weights(path: str, analyser: keras.Model) -> list:
    """The weights of the analyser saved at ``path`` (a ``.keras`` file or a run directory), which must have the
    architecture of ``analyser`` (``--init-from``: fine-tune a trained model under new options)."""
    source, path, _ = load_saved_analyser(path)
    shapes = [w.shape for w in source.get_weights()]
    if shapes != [w.shape for w in analyser.get_weights()]:
        raise InputError(f"--init-from {path}: its weights do not fit the {analyser.name} analyser "
                         "(another --config?)")
    return source.get_weights()


def _run_record(config: TrainConfig, data: str, front_end, split, sample_rate: int, window: int,
                analyser: keras.Model) -> dict:
    manifest = open_dataset(data).manifest
    return {
        "train": config.to_dict(),
        "data": {"path": os.path.abspath(data), "seed": manifest.get("seed"), "counts": manifest.get("counts"),
                 "config": manifest.get("config"), "sample_rate": sample_rate, "window_samples": window,
                 "split": {"first_val_clip": split.first_val_clip, "train": split.train, "val": split.val}},
        "front_end": front_end.to_dict(),
        "param_names": list(PARAM_SPEC.names),
        "model": {"name": analyser.name, "params": int(analyser.count_params()), "flops": count_flops(analyser)},
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
    }


def prepare_run(out_dir: str, resume: bool, data: str | None, **options) -> tuple[TrainConfig, str, int, float]:
    """Check the run directory and return ``(config, data, first epoch, best so far)``: a fresh run needs an empty
    or new ``out_dir``; ``--resume`` needs a run there and continues its saved config (see ``TrainConfig.resumed``)."""
    config_path = os.path.join(out_dir, CONFIG_FILE)
    state = _read_state(os.path.join(out_dir, CHECKPOINTS, STATE_FILE))
    if not resume:
        if os.path.exists(config_path):
            raise InputError(f"{out_dir} already holds a run; pass --resume to continue it or choose another --out")
        if data is None:
            raise InputError("--data is required")
        return TrainConfig(**{k: v for k, v in options.items() if v is not None}), data, 0, float("inf")
    if state is None or not os.path.exists(os.path.join(out_dir, CHECKPOINTS, "last.keras")):
        raise InputError(f"nothing to resume in {out_dir}: no finished epoch was checkpointed there")
    with open(config_path, encoding="utf-8") as f:
        record = json.load(f)
    config = TrainConfig.from_dict(record["train"]).resumed(**options)
    return config, data or record["data"]["path"], int(state["epoch"]) + 1, float(state["best"])


def _build_enhancer(config: TrainConfig, front_end, sample_rate: int, window: int, resume_from: str | None
                    ) -> keras.Model:
    """The compiled enhancer (analyser -> DDSP chain) of a new run (from ``--init-from`` weights when given), or the
    one checkpointed at ``resume_from`` with its optimizer state. Call inside the strategy's scope."""
    if resume_from is not None:
        return keras.models.load_model(resume_from)
    analyser = build_analyser(config.config, front_end)
    if config.init_from:
        analyser.set_weights(_initial_weights(config.init_from, analyser))
    enhancer = build_enhancer(analyser, sample_rate, window, config.grad, config.spsa_epsilon, config.seed)
    enhancer.compile(optimizer=_optimizer(config.optimizer, config.lr),
                     loss=MultiResolutionMelLoss(sample_rate, l1_weight=config.l1_weight,
                                                  loudness_weight=config.loudness_weight),
                     jit_compile=False)
    return enhancer


def _run_callbacks(out_dir: str, enhancer: keras.Model, analyser_name: str, monitor: str, best: float, chief: bool,
                   echo) -> list:
    """Reseeding SPSA per epoch, stopping on NaN, the run's checkpoints; on the chief also ``log.csv`` and
    TensorBoard logs (when tensorboard is installed)."""
    ddsp = enhancer.get_layer("ddsp")
    callbacks = [
        keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: ddsp.reseed(epoch)),
        keras.callbacks.TerminateOnNaN(),
        RunCheckpoint(out_dir, analyser_name, monitor, best, write=chief),
    ]
    if chief:
        callbacks.append(keras.callbacks.CSVLogger(os.path.join(out_dir, LOG_FILE), append=True))
        if importlib.util.find_spec("tensorboard") is None:
            echo("note: the tensorboard package is not installed; no TensorBoard logs (log.csv has the same)")
        else:
            callbacks.append(keras.callbacks.TensorBoard(os.path.join(out_dir, "tensorboard"), write_graph=False,
                                                         profile_batch=0))
    return callbacks


def train(out_dir: str, data: str | None = None, resume: bool = False, echo=print, callbacks=(), verbose="auto",
          **options) -> dict:
    """Train (or with ``resume`` continue) the run in ``out_dir``; ``options`` are :class:`TrainConfig` fields
    (``None`` = default, or the saved value on resume). Returns the final ``state.json`` content. Raises
    ``InputError`` for bad options, run directories or data, ``RuntimeFailure`` when training diverges."""
    config, data, initial_epoch, best = prepare_run(out_dir, resume, data, **options)
    if not os.path.isdir(data):
        raise InputError(f"dataset folder {data} does not exist")
    strategy = make_strategy(config.strategy)
    front_end = front_end_for(config.config)
    sample_rate, window = sample_rate_and_window(data)
    if sample_rate != front_end.sample_rate:
        raise InputError(f"{data} is at {sample_rate} Hz; the {config.config} front end analyses "
                         f"{front_end.sample_rate} Hz audio")
    if config.val_data is not None and not os.path.isdir(config.val_data):
        raise InputError(f"validation dataset folder {config.val_data} does not exist")
    split = whole_split(data, "train") if config.val_data else split_dataset(data, config.val_fraction)
    state_path = os.path.join(out_dir, CHECKPOINTS, STATE_FILE)
    if initial_epoch >= config.epochs:
        echo(f"{out_dir}: {initial_epoch} epoch(s) already done (--epochs {config.epochs}); nothing to train")
        return _read_state(state_path)

    keras.utils.set_random_seed(config.seed + initial_epoch)
    chief = _is_chief(strategy)
    if chief:  # the other workers of a cluster train alongside and write nothing
        os.makedirs(os.path.join(out_dir, CHECKPOINTS), exist_ok=True)
    with strategy.scope():
        enhancer = _build_enhancer(config, front_end, sample_rate, window,
                                   os.path.join(out_dir, CHECKPOINTS, "last.keras") if resume else None)
    analyser = enhancer.get_layer(f"analyser_{config.config}")
    if _multi_worker(strategy):
        _fit_across_workers(enhancer, strategy)
    if not resume and chief:
        write_json(os.path.join(out_dir, CONFIG_FILE),
                   _run_record(config, data, front_end, split, sample_rate, window, analyser), sort_keys=True)

    correction = output_kind(analyser) == "correction"
    train_ds = make_dataset(data, front_end, config.batch_size, split, "train", shuffle=True, seed=config.seed,
                            first_epoch=initial_epoch, correction=correction)
    if config.val_data:
        val_ds = make_dataset(config.val_data, front_end, config.batch_size, whole_split(config.val_data, "val"),
                              "val", correction=correction)
    else:
        val_ds = make_dataset(data, front_end, config.batch_size, split, "val", correction=correction) \
            if split.val else None
    monitor = "val_loss" if val_ds is not None else "loss"
    run_callbacks = _run_callbacks(out_dir, enhancer, analyser.name, monitor, best, chief, echo) + list(callbacks)
    echo(f"training {analyser.name} ({analyser.count_params():,} parameters) with {config.grad} gradients on "
         f"{split.train} examples, validating on {split.val}; epochs {initial_epoch + 1}..{config.epochs} "
         f"-> {out_dir}")
    history = enhancer.fit(train_ds, validation_data=val_ds, epochs=config.epochs, initial_epoch=initial_epoch,
                           callbacks=run_callbacks, verbose=verbose, shuffle=False)
    state = _read_state(state_path) or {}
    if not np.all(np.isfinite(history.history.get("loss", []))):
        raise RuntimeFailure(f"training diverged (non-finite loss); the last good checkpoint is epoch "
                             f"{state.get('epoch', -1) + 1} in {os.path.join(out_dir, CHECKPOINTS)}")
    if state:
        echo(f"best {state['monitor']} {state['best']:.4f} at epoch {state['best_epoch'] + 1}; analyser saved as "
             f"{os.path.join(out_dir, MODEL_FILE)}")
    return state
