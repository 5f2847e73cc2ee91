"""The typed configuration of a training run (`ccrkit train --config NAME key=value ...`).

Sections: `data` (which data spec, root, languages), `text_encoder` / `visual_encoder` / `method`
(`name:` plus that plug-in's own parameters, validated against its dataclass when it is built),
`train` (optimiser, schedule, checkpoints, device) and `eval` (the evaluation protocol).

`resolve_run` turns a loaded `RunConfig` into a `ResolvedRun` once, before any data or weights are
read: the plug-in sections become their registered classes with typed configs, and training takes
that object from there on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ccrkit.config import NOT_NAMING, Sources
from ccrkit.evaluate.crosslang import default_eval_langs
from ccrkit.evaluate.protocol import EvalConfig
from ccrkit.methods.registry import ResolvedModel, resolve_model
from ccrkit.registry import import_plugins

OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("constant", "cosine", "linear", "plateau")
DEVICES = ("auto", "cpu", "cuda")
AMP_DTYPES = ("bfloat16", "float16")


@dataclass
class DataConfig:
    name: str = "world-image"  # a data spec (configs/data/<name>.yaml) or a path to one
    root: str = "data/world"
    lang: str = "de"  # the target language evaluated with human queries
    target_langs: list[str] = field(default_factory=lambda: ["de"])  # MT languages for training
    # languages validated (selection on the mean score) and tested (each, plus MRV across them);
    # empty: every target language when there are several (lang first), else lang alone
    eval_langs: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=lambda: ["mt"])  # target roles loaded: mt, bt
    feature: str | None = None  # which visual feature of the spec (None: its default)
    train_split: str = "train"
    val_split: str | None = "val"  # None: no validation, the last epoch is also the best
    test_split: str | None = "test"
    num_workers: int = field(default=0, metadata=NOT_NAMING)  # speed only: not in report hashes
    # a view key (e.g. "source"): each batch's examples sorted by its token count, longest first
    # (NRCCR's collate); None keeps the sampler's order
    sort_batch_by: str | None = None

    def evaluation_langs(self) -> list[str]:
        return default_eval_langs(self.lang, self.target_langs, self.eval_langs)


@dataclass
class TrainConfig:
    epochs: int = 20
    batch_size: int = 128  # global: split evenly over processes under DDP
    optimizer: str = "adamw"
    lr: float = 1e-4
    weight_decay: float = 0.01  # never on biases and norm parameters
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    lr_mult: dict[str, float] = field(default_factory=dict)  # name substring -> lr multiplier
    schedule: str = "cosine"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0  # cosine/linear decay to lr * min_lr_ratio
    plateau_decay: float = 0.99  # plateau (NRCCR §1.3): lr x0.99 every epoch ...
    plateau_factor: float = 0.5  # ... and x0.5 when validation did not improve ...
    plateau_patience: int = 3  # ... and this many epochs passed since the last cut
    early_stop: int = 0  # stop after this many epochs without improvement (0: never; NRCCR 11)
    grad_clip: float = 0.0  # max gradient norm (0: off; NRCCR 2)
    grad_accum: int = 1
    drop_last: bool = False
    device: str = "auto"
    amp: bool = True  # autocast on CUDA only
    amp_dtype: str = "bfloat16"
    dist_backend: str = "auto"  # auto: nccl on CUDA, gloo on CPU
    find_unused_parameters: bool = False
    sync_batchnorm: bool = False
    log_every: int = 10  # optimiser steps between TensorBoard scalars
    # how a run is shown, never its numbers: left out of the report's run hashes
    tensorboard: bool = field(default=True, metadata=NOT_NAMING)
    progress: bool = field(default=True, metadata=NOT_NAMING)

    def __post_init__(self) -> None:
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("device", self.device, DEVICES)
        _choice("amp_dtype", self.amp_dtype, AMP_DTYPES)
        for name in ("epochs", "batch_size", "grad_accum", "log_every", "plateau_patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if len(self.betas) != 2:
            raise ValueError(f"betas must be two numbers, got {self.betas}")


@dataclass
class RunConfig:
    seed: int = 0
    plugins: list[str] = field(default_factory=list)  # modules imported first (registrations)
    data: DataConfig = field(default_factory=DataConfig)
    text_encoder: dict[str, Any] = field(default_factory=lambda: {"name": "builtin"})
    visual_encoder: dict[str, Any] = field(default_factory=lambda: {"name": "feature"})
    method: dict[str, Any] = field(default_factory=lambda: {"name": "baseline"})
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


@dataclass(frozen=True)
class ResolvedRun:
    """A run config resolved once (`resolve_run`): the config itself for its typed sections
    (`data`, `train`, `eval`) and the resolved plug-in sections (`model`) in place of the raw
    `method` / `text_encoder` / `visual_encoder` mappings.

    Example::

        run = resolve_run(load_config(RunConfig, "nrccr-world", ["train.epochs=2"]))
        run.model.method.config.back_translation  # True: NrccrConfig's typed field
        train_from_config(run, "runs/nrccr")
    """

    config: RunConfig
    model: ResolvedModel


def resolve_run(config: RunConfig | ResolvedRun, sources: str | Sources = "config") -> ResolvedRun:
    """`config`'s plug-ins imported (`plugins:`) and its plug-in sections resolved; a run already
    resolved is returned as it is, so every entry point may call this."""
    if isinstance(config, ResolvedRun):
        return config
    import_plugins(config.plugins)
    return ResolvedRun(config, resolve_model(config, sources))


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
