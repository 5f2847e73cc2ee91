"""`NrfConfig`: NRF's reconstruction (methods.md §2) as config values with the spec's defaults.

No official code and no paper body: the abstract fixes the ingredients ([abs]: a noise filter
guided by the source, contrastive learning across modalities, selected parallel data, no
target-language vision–text pairs); every number and rule here is the project's reconstruction
([R]) or its own default where the spec is silent ([ours]). See docs/methods/nrf.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ccrkit.losses.negatives import ALL, check_negatives
from ccrkit.methods.towers import TowerConfig

DEFAULT_SELECTOR = "roundtrip"


@dataclass
class NrfConfig(TowerConfig):
    # --- the noise filter F over target tokens [R] ----------------------------------------------
    filter_layers: int = 1  # Transformer layers over the MT tokens (0: no filter, f(t) = e_t)
    filter_ffn: int | None = None  # feed-forward width (None: 2 × hidden) [ours]
    filter_dropout: float = 0.1
    # --- loss terms, τ and weights [R]/[ours] ---------------------------------------------------
    tau: float = 0.07  # every InfoNCE [ours, NRCCR's distillation τ]
    source_weight: float = 1.0  # InfoNCE(v, e_s)
    mt_weight: float = 1.0  # InfoNCE(v, f(t)) on every pair (0: no MT vision–text term) [R]
    cross_lingual_weight: float = 1.0  # InfoNCE(f(t), e_s) on the selected pairs
    guidance_weight: float = 1.0  # ‖f(t) − sg(teacher)‖² on the selected pairs
    cross_teacher: bool = False  # teacher e_c (source attends to the MT, NRCCR) instead of e_s
    english_epochs: int = 0  # first epochs: English vision–text fine-tuning only [R, ours 0]
    # --- parallel-data selection (selection.py) -------------------------------------------------
    selector: str = DEFAULT_SELECTOR  # roundtrip | fraction | similarity | all
    selection: dict[str, Any] = field(default_factory=dict)  # that selector's parameters
    gather: bool = True  # under DDP, contrastive terms see every process's batch
    negatives: str = ALL  # mask_identical_text: identical caption texts are no InfoNCE negatives

    def __post_init__(self) -> None:
        super().__post_init__()
        check_negatives(self.negatives)
        if self.tau <= 0:
            raise ValueError(f"tau must be > 0, got {self.tau}")
        if self.filter_layers < 0 or self.english_epochs < 0:
            raise ValueError(
                f"filter_layers and english_epochs must be >= 0, got {self.filter_layers}, "
                f"{self.english_epochs}"
            )
        weights = ("source_weight", "mt_weight", "cross_lingual_weight", "guidance_weight")
        negative = [name for name in weights if getattr(self, name) < 0]
        if negative:
            raise ValueError(f"loss weights must be >= 0: {', '.join(negative)}")
        from ccrkit.methods.nrf.selection import build_selector

        build_selector(self.selector, dict(self.selection), "method.selector")  # validates early
