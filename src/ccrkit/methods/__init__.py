"""Methods: each composes encoders and named loss terms behind one protocol (see `base`)."""

from __future__ import annotations

from ccrkit.methods.base import AuxiliaryOptimizer, Method, view_language, views_of_role
from ccrkit.methods.baseline import Baseline, BaselineConfig
from ccrkit.methods.checkpoint import CheckpointError, load_method
from ccrkit.methods.registry import METHODS, build_method

__all__ = [
    "METHODS",
    "AuxiliaryOptimizer",
    "Baseline",
    "BaselineConfig",
    "CheckpointError",
    "Method",
    "build_method",
    "load_method",
    "view_language",
    "views_of_role",
]
