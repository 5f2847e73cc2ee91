"""Methods: each composes encoders and named loss terms behind one protocol (see `base`).

Importing this package registers the built-in methods in `METHODS` (each module registers its
class with `@METHODS.register(name)`).
"""

from __future__ import annotations

from ccrkit.methods.base import AuxiliaryOptimizer, Method, view_language, views_of_role
from ccrkit.methods.baseline import Baseline, BaselineConfig
from ccrkit.methods.checkpoint import CheckpointError, load_method
from ccrkit.methods.cl2cm import Cl2cm, Cl2cmConfig
from ccrkit.methods.nrccr import Nrccr, NrccrConfig
from ccrkit.methods.nrf import Nrf, NrfConfig
from ccrkit.methods.one_to_k import OneToK, OneToKConfig
from ccrkit.methods.registry import METHODS, build_method, required_roles

__all__ = [
    "METHODS",
    "AuxiliaryOptimizer",
    "Baseline",
    "BaselineConfig",
    "CheckpointError",
    "Cl2cm",
    "Cl2cmConfig",
    "Method",
    "Nrccr",
    "NrccrConfig",
    "Nrf",
    "NrfConfig",
    "OneToK",
    "OneToKConfig",
    "build_method",
    "load_method",
    "required_roles",
    "view_language",
    "views_of_role",
]
