"""CL2CM (methods.md §3): the method, its config and its cross-lingual network."""

from __future__ import annotations

from ccrkit.methods.cl2cm.config import Cl2cmConfig
from ccrkit.methods.cl2cm.method import Cl2cm, CrossLingualNetwork

__all__ = ["Cl2cm", "Cl2cmConfig", "CrossLingualNetwork"]
