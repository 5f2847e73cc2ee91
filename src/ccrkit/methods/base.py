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
  configuration needs, checked at the same moment (NRF's round-trip scores).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from ccrkit.data.batch import TokenBatch, TrainBatch, VisualBatch
from ccrkit.models.base import TextEncoder, VisualEncoder

AuxiliaryStep = Callable[[torch.Tensor], None]
ENGLISH_ROLES = ("source", "bt", "human_to_en")  # views written in English whatever their suffix


@dataclass
class AuxiliaryOptimizer:
    """An optimiser a method steps itself: its parameters and how to build it from them."""

    name: str
    parameters: list[nn.Parameter]
    build: Callable[[list[nn.Parameter]], torch.optim.Optimizer]


class Method(nn.Module):
    """Base class of every method; subclasses set `config_class` and implement the four calls."""

    config_class: ClassVar[type]

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
        cls, config: Any, spec: Any, root: Path, split: str, langs: list[str]
    ) -> None:
        """Raise a `DataError` naming a file the configuration needs and the data lacks."""

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

    def prepare_training(self, train_set: Any) -> dict[str, Any]:
        """Training-only set-up from the whole training set; returns what to record (none here)."""
        return {}

    def start_epoch(self, epoch: int) -> None:
        """The trainer is about to run training epoch `epoch` (1-based); nothing to do here."""


def views_of_role(views: Mapping[str, Any], role: str) -> list[str]:
    """The view keys of a role in a batch: "source" -> ["source"], "mt" -> ["mt:de", "mt:fr"]."""
    return sorted(key for key in views if key == role or key.startswith(f"{role}:"))


def required_view(batch: Any, key: str, method: str, why: str = "") -> Any:
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


def target_views(batch: Any, method: str, why: str = "") -> list[str]:
    """The batch's MT views ("mt:de", "mt:fr", ...): at least one, else `required_view`'s error."""
    views = views_of_role(batch.views, "mt")
    if not views:
        required_view(batch, "mt", method, why)
    return views


def view_language(view: str) -> str:
    """The language a view is written in: "mt:de" -> "de", "bt:de" -> "en", "source" -> "en"."""
    role, _, lang = view.partition(":")
    return "en" if role in ENGLISH_ROLES or not lang else lang
