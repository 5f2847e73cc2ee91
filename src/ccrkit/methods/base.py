"""The method protocol: what every CCR method is to the trainer, the evaluator and the server.

A method is an `nn.Module` that owns its encoders, projections and loss terms:

- `forward(batch: TrainBatch) -> dict[str, Tensor]`: named, already weighted loss terms; the
  trainer sums them, logs each, and never asks which method it runs;
- `tokenize(texts) -> TokenBatch`, `encode_text(tokens, lang) -> Tensor` and
  `encode_visual(visual) -> Tensor`: L2-normalised embeddings for evaluation, indexing, serving;
- `extra_optimizers()`: optimisers the method steps itself inside `forward` (NRCCR's language
  discriminator, methods.md §1.2 F). The trainer builds each one and binds an `AuxiliaryStep`
  (a callable taking that sub-loss) through `bind_auxiliary_steps`; the method calls
  `self.auxiliary_step(name, loss)` at the right moment — e.g. on detached features before adding
  its fooling term. The step backpropagates into that optimiser's parameters only, averages their
  gradients over processes under DDP, and steps it; those parameters are left out of the main
  optimiser;
- `save_assets(directory)`: tokenizers and model configs a saved run needs to rebuild;
- `prepare_training(train_set)`: called once by a training run before its first step (fresh or
  resumed), never when a saved run is loaded to evaluate, index or serve: what a method derives
  from the whole training set (NRF's parallel-data selection) is computed here; the returned
  summary is recorded in run.json (`preparation`);
- `start_epoch(epoch)`: called by the trainer before every training epoch (1-based, also after a
  resume), for methods with a schedule of their own (CL2CM's two stages);
- `required_roles(config)` (class method): the caption roles a configuration needs beyond the
  English source, each with a hint on how to do without it — checked against the data before
  training, so a missing file is reported before any model is built;
- `check_training_data(config, spec, root, split, langs)` (class method): any other file the
  configuration needs, checked at the same moment (NRF's round-trip scores);
- `matched_baseline(name, params)` (class method): the method section of translate-train on
  this method's own towers, heads, loss family and weights — its components switched off
  (`MATCHED_OFF`) — which the report compares it with (`ccrkit.report.matched`);
- `before_test(batches)`: called once on the selected checkpoint before the test (NRCCR's
  BatchNorm re-estimation); returns what it changed, recorded in run.json, or {} (nothing).
  The method keys it alone reads are listed in `TEST_TIME_KEYS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from ccrkit.data.batch import TokenBatch, TrainBatch, VisualBatch
from ccrkit.data.datasets import TrainingData
from ccrkit.data.spec import DataSpec
from ccrkit.losses.negatives import MASK_IDENTICAL_TEXT, identical_pairs, text_keys
from ccrkit.models.base import TextEncoder, VisualEncoder
from ccrkit.registry import Registry

AuxiliaryStep = Callable[[torch.Tensor], None]
ENGLISH_ROLES = ("source", "bt", "human_to_en")  # views written in English whatever their suffix


# Methods by name (the run config's `method.name`): each registers itself where it is defined,
# `@METHODS.register("name")`; importing `ccrkit.methods` registers the built-in ones.
METHODS: Registry[type[Method]] = Registry("method")


@dataclass
class AuxiliaryOptimizer:
    """An optimiser a method steps itself: its parameters and how to build it from them."""

    name: str
    parameters: list[nn.Parameter]
    build: Callable[[list[nn.Parameter]], torch.optim.Optimizer]


class Method(nn.Module):
    """Base class of every method; subclasses set `config_class` and implement the four calls."""

    config_class: ClassVar[type]
    # method keys -> the values that switch the method's own components off, leaving the
    # translate-train terms on its towers (the report's matched baseline); None: it has none
    MATCHED_OFF: ClassVar[dict[str, Any] | None] = None
    # method keys read only by `before_test` and the test, never in training: runs that differ
    # only in them share their trained weights (the report scores them from one training)
    TEST_TIME_KEYS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Any, text: TextEncoder, visual: VisualEncoder) -> None:
        super().__init__()
        self.config, self.text, self.visual = config, text, visual
        self._auxiliary_steps: dict[str, AuxiliaryStep] = {}

    @classmethod
    def required_roles(cls, config: Any) -> dict[str, str]:
        """{role: why it is needed / how to do without it}; none beyond the source by default."""
        return {}

    @classmethod
    def check_training_data(
        cls, config: Any, spec: DataSpec, root: Path, split: str, langs: list[str]
    ) -> None:
        """Raise a `DataError` naming a file the configuration needs and the data lacks."""

    @classmethod
    def matched_baseline(
        cls, name: str, params: dict[str, Any]
    ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """(method name, parameters, the switched keys with their values) of the translate-train
        baseline matched to method `name` configured with `params`: by default the same method
        and parameters with `MATCHED_OFF` applied."""
        if cls.MATCHED_OFF is None:
            raise ValueError(
                f"method '{name}' has no matched baseline: it has no components to switch off"
            )
        return name, {**params, **cls.MATCHED_OFF}, dict(cls.MATCHED_OFF)

    def forward(self, batch: TrainBatch) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def tokenize(self, texts: list[str]) -> TokenBatch:
        return self.text.tokenize(texts)

    def encode_text(self, tokens: TokenBatch, lang: str) -> torch.Tensor:
        raise NotImplementedError

    def encode_visual(self, visual: VisualBatch) -> torch.Tensor:
        raise NotImplementedError

    def extra_optimizers(self) -> list[AuxiliaryOptimizer]:
        return []

    def bind_auxiliary_steps(self, steps: Mapping[str, AuxiliaryStep]) -> None:
        self._auxiliary_steps = dict(steps)

    def auxiliary_step(self, name: str, loss: torch.Tensor) -> None:
        """Backpropagate `loss` into auxiliary optimiser `name`'s parameters and step it."""
        if name not in self._auxiliary_steps:
            raise RuntimeError(
                f"auxiliary optimiser '{name}' is not bound; the trainer binds every optimiser "
                "that extra_optimizers() returns before training"
            )
        self._auxiliary_steps[name](loss)

    def save_assets(self, directory: Path) -> None:
        self.text.save_assets(directory)
        self.visual.save_assets(directory)

    def prepare_training(self, train_set: TrainingData) -> dict[str, Any]:
        """Training-only set-up from the whole training set; returns what to record (none here)."""
        return {}

    def start_epoch(self, epoch: int) -> None:
        """The trainer is about to run training epoch `epoch` (1-based); nothing to do here."""

    def before_test(self, batches: Callable[[], Iterable[TrainBatch]]) -> dict[str, Any]:
        """Adjust the selected model before its test, from the training batches (`batches()`
        iterates them once, in order, on the method's device); nothing here."""
        return {}


def views_of_role(views: Mapping[str, Any], role: str) -> list[str]:
    """The view keys of a role in a batch: "source" -> ["source"], "mt" -> ["mt:de", "mt:fr"]."""
    return sorted(key for key in views if key == role or key.startswith(f"{role}:"))


def configured_views(batch: TrainBatch, role: str) -> list[str]:
    """The batch's views of a role named in `method.views`, or a ValueError saying how to load
    them: a configured role the data does not give would otherwise be silently left out."""
    keys = views_of_role(batch.views, role)
    if not keys:
        have = ", ".join(sorted(batch.views)) or "none"
        raise ValueError(
            f"method.views names caption role '{role}' but the batch has views: {have}; "
            "load it with data.roles / data.target_langs or remove it from method.views"
        )
    return keys


def required_view(batch: TrainBatch, key: str, method: str, why: str = "") -> TokenBatch:
    """The batch's `key` captions, or a ValueError naming what the batch has and the role to add
    to data.roles (`why`: the method's reason for needing it)."""
    if key not in batch.views:
        have = ", ".join(sorted(batch.views)) or "none"
        role = key.partition(":")[0]
        raise ValueError(
            f"{method} needs the '{key}' captions in every batch but the batch has: {have}; "
            f"add '{role}' to data.roles" + (f" ({why})" if why else "")
        )
    return batch.views[key]


def target_views(batch: TrainBatch, method: str, why: str = "") -> list[str]:
    """The batch's MT views ("mt:de", "mt:fr", ...): at least one, else `required_view`'s error."""
    views = views_of_role(batch.views, "mt")
    if not views:
        required_view(batch, "mt", method, why)
    return views


def view_language(view: str) -> str:
    """The language a view is written in: "mt:de" -> "de", "bt:de" -> "en", "source" -> "en"."""
    role, _, lang = view.partition(":")
    return "en" if role in ENGLISH_ROLES or not lang else lang


def identical_text(negatives: str, gather: Callable[[torch.Tensor], torch.Tensor],
                   *views: TokenBatch) -> torch.Tensor | None:  # fmt: skip
    """The `exclude` mask of a loss under `negatives: mask_identical_text`: (B, B) pairs of the
    (process-gathered) batch whose texts are identical in any of `views`; None under `all`."""
    if negatives != MASK_IDENTICAL_TEXT:
        return None
    return identical_pairs(*(gather(view_text_keys(view)) for view in views))


def view_text_keys(view: TokenBatch) -> torch.Tensor:
    """(B,) keys of a view's raw texts (`losses.negatives.text_keys`), on its device."""
    if len(view.texts) != len(view):
        raise ValueError(
            "negatives: mask_identical_text compares caption texts, but this batch's TokenBatch "
            "has no texts; tokenize with the texts kept or use negatives: all"
        )
    return text_keys(view.texts, view.input_ids.device)
