"""NRCCR (methods.md §1): the method, its config and its text tower."""

from __future__ import annotations

from ccrkit.methods.nrccr.config import ABLATION_SWITCHES, NrccrConfig
from ccrkit.methods.nrccr.method import Nrccr, clean_english
from ccrkit.methods.nrccr.towers import NrccrTextTower

__all__ = ["ABLATION_SWITCHES", "Nrccr", "NrccrConfig", "NrccrTextTower", "clean_english"]
