"""NRF (methods.md §2): the method, its config and its parallel-data selectors."""

from __future__ import annotations

from ccrkit.methods.nrf.config import NrfConfig
from ccrkit.methods.nrf.method import NoiseFilter, Nrf
from ccrkit.methods.nrf.selection import (
    PAIR_SELECTORS,
    PairSelector,
    SelectionInput,
    build_selector,
    kept_count,
    top_fraction,
)

__all__ = [
    "PAIR_SELECTORS",
    "NoiseFilter",
    "Nrf",
    "NrfConfig",
    "PairSelector",
    "SelectionInput",
    "build_selector",
    "kept_count",
    "top_fraction",
]
