"""The official NRCCR checkpoint file (HuiGuanLab/nrccr, methods.md §1.9), read and checked.

`train_base.save_checkpoint` writes `{'epoch', 'model', 'best_rsum', 'opt', 'Eiters'}`; `model`
is `BaseModel.state_dict()`: five state dicts in the order of `COMPONENTS`, the first two with
DataParallel's `module.` prefix; `opt` is the trainer's `argparse.Namespace`. Only that class is
allowed in the pickle. The tensors are kept under `<component>.<key>` (prefix removed).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ccrkit.methods.official.mapping import qualify, strip_prefix
from ccrkit.methods.official.torchfile import OfficialCheckpointError, load_restricted

WHAT = "an NRCCR checkpoint"
COMPONENTS = ("vid_encoding", "text_encoding", "vid_mapping", "text_mapping", "AdvAgent")
KEYS = ("epoch", "model", "best_rsum", "opt", "Eiters")
BERT = "text_encoding.text_bert.text_bert."


@dataclass
class OfficialNrccr:
    """What an official NRCCR checkpoint holds, checked for shape but not yet mapped."""

    path: Path
    opt: dict[str, Any]
    state: dict[str, torch.Tensor]  # "<component>.<key>", `module.` stripped
    epoch: Any
    best_rsum: Any
    eiters: Any

    @property
    def variant(self) -> str:
        if self.opt.get("model_type", "video") != "img":
            return "video"
        return "image-clip" if self.opt.get("img_encoder") == "clip" else "image-features"

    def shape(self, key: str) -> tuple[int, ...]:
        if key not in self.state:
            raise OfficialCheckpointError(
                f"{self.path}: not {WHAT} of the {self.variant} kind: no tensor {key}"
            )
        return tuple(self.state[key].shape)


def read_nrccr(path: str | Path) -> OfficialNrccr:
    """Read and check the structure of an official NRCCR checkpoint (nothing unpickled but
    containers, tensors and `argparse.Namespace`)."""
    path = Path(path)
    saved = load_restricted(path, [argparse.Namespace], WHAT)
    if not isinstance(saved, dict) or "model" not in saved or "opt" not in saved:
        raise OfficialCheckpointError(
            f"{path}: not {WHAT}: found {_describe(saved)}; expected a dict with keys {', '.join(KEYS)}"
        )
    model, opt = saved["model"], saved["opt"]
    if not isinstance(opt, argparse.Namespace):
        raise OfficialCheckpointError(
            f"{path}: not {WHAT}: 'opt' is {_describe(opt)}, expected the trainer's argparse.Namespace"
        )
    if (
        not isinstance(model, list | tuple)
        or len(model) != len(COMPONENTS)
        or not all(isinstance(part, dict) for part in model)
    ):
        raise OfficialCheckpointError(
            f"{path}: not {WHAT}: 'model' is {_describe(model)}; expected a list of {len(COMPONENTS)} state dicts "
            f"({', '.join(COMPONENTS)})"
        )  # fmt: skip
    state: dict[str, torch.Tensor] = {}
    for name, part in zip(COMPONENTS, model, strict=True):
        tensors = {k: v for k, v in part.items() if isinstance(v, torch.Tensor)}
        if len(tensors) != len(part):
            raise OfficialCheckpointError(
                f"{path}: not {WHAT}: state dict '{name}' holds non-tensor values"
            )
        state |= qualify(name, strip_prefix(tensors, "module."))
    found = OfficialNrccr(
        path, vars(opt), state, saved.get("epoch"), saved.get("best_rsum"), saved.get("Eiters")
    )
    _check_supported(found)
    return found


def _check_supported(found: OfficialNrccr) -> None:
    opt, where = found.opt, f"{found.path}"
    for key, expected in (
        ("text_pooling", "mean"),
        ("video_pooling", "mean"),
        ("measure", "cosine"),
    ):
        if opt.get(key, expected) != expected:
            raise OfficialCheckpointError(
                f"{where}: opt.{key} = {opt[key]!r}; ccrkit's NRCCR reproduces {key} {expected!r} only"
            )
    if found.variant == "video" and int(opt.get("video_layer", 1)) != 1:
        raise OfficialCheckpointError(
            f"{where}: opt.video_layer = {opt['video_layer']}: the official code runs the extra video layers "
            "untrained and does not save them (methods.md §1.7 item 6), so no import can reproduce it"
        )  # fmt: skip
    if not any(key.startswith(BERT) for key in found.state):
        raise OfficialCheckpointError(
            f"{where}: not {WHAT}: the text encoding holds no mBERT ({BERT}*)"
        )


def _describe(obj: Any) -> str:
    if isinstance(obj, dict):
        keys = ", ".join(map(str, list(obj)[:6])) + (" ..." if len(obj) > 6 else "")
        return f"a dict with keys {keys or '(none)'}"
    if isinstance(obj, list | tuple):
        return f"a {type(obj).__name__} of {len(obj)}"
    return f"a {type(obj).__name__}"
