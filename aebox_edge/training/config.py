"""The options of a training run (standard library only, so that ``aebox-edge --help`` stays fast)."""

from __future__ import annotations

import dataclasses

from aebox_edge.errors import InputError

MODEL_CONFIGS = ("edge", "paper")
GRAD_METHODS = ("spsa", "autodiff")
OPTIMIZERS = ("sgd", "adam")
STRATEGIES = ("default", "mirrored", "multiworker")
CONFIG_FILE = "config.json"  # in a run directory: the run's record
MODEL_FILE = "model.keras"  # in a run directory: the analyser of the best epoch

# train-corrections (training/corrections.py): what learns, and the recipe of the shipped head (models/MODEL_CARD.md)
CORRECTION_LAYERS = ("controller", "head", "bias")
CORRECTION_EPOCHS, CORRECTION_BATCH, CORRECTION_LR, CORRECTION_L2 = 8, 32, 1e-4, 0.2
CORRECTION_WEIGHTS = (4.0, 1.0, 1.0, 1.0)  # MSD, RMS, SCE, LUFS


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a run besides the data (saved as ``config.json`` in the run directory).

    The paper trained its small model with SGD, learning rate 1.9e-3, batch 64 and L1 weight 2.79; our defaults are
    Adam 1e-3 and batch 16, which converge in fewer epochs on CPU. SPSA's noisier gradients want a smaller rate
    (3e-4 in the CPU experiment of issue 4; at 1e-3 its validation loss wandered above the untrained model's).
    """

    config: str = "edge"
    grad: str = "spsa"
    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-3
    optimizer: str = "adam"
    strategy: str = "default"
    seed: int = 0
    spsa_epsilon: float = 1e-3
    l1_weight: float = 2.79
    loudness_weight: float = 0.0
    val_fraction: float = 0.1
    init_from: str | None = None
    val_data: str | None = None  # a validation dataset folder of its own (then --val-fraction is not used)

    def __post_init__(self):
        for name, allowed in (("config", MODEL_CONFIGS), ("grad", GRAD_METHODS), ("optimizer", OPTIMIZERS),
                              ("strategy", STRATEGIES)):
            if getattr(self, name) not in allowed:
                raise InputError(f"--{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise InputError(f"--epochs and --batch-size must be >= 1, got {self.epochs} and {self.batch_size}")
        if not self.lr > 0:
            raise InputError(f"--lr must be positive, got {self.lr}")
        if not 0.0 < self.spsa_epsilon <= 0.5:
            raise InputError(f"--spsa-epsilon must be in (0, 0.5], got {self.spsa_epsilon}")
        if self.l1_weight < 0:
            raise InputError(f"--l1-weight must be >= 0, got {self.l1_weight}")
        if self.loudness_weight < 0:
            raise InputError(f"--loudness-weight must be >= 0, got {self.loudness_weight}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise InputError(f"--val-fraction must be in [0, 1), got {self.val_fraction}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def resumed(self, **given) -> "TrainConfig":
        """This (saved) config with the options given on a ``--resume`` command line: ``epochs`` may change (the run
        continues to the new total); any other option that differs from the saved run is an error."""
        changed = {k: v for k, v in given.items() if v is not None and k != "epochs" and getattr(self, k) != v}
        if changed:
            saved = ", ".join(f"--{k.replace('_', '-')} {getattr(self, k)}" for k in changed)
            raise InputError(f"--resume continues the saved run ({saved}); drop the conflicting options or start a "
                             "new run with another --out")
        epochs = given.get("epochs")
        return dataclasses.replace(self, epochs=self.epochs if epochs is None else epochs)
