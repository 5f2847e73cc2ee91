"""Which torch device a setting names: the one reading of `auto`, `cpu`, `cuda`, `cuda:N`.

Training (`train.device`), feature extraction (`--device`) and the MT backends (`device:`) all
take the same strings; reading them in one place keeps `auto` meaning the same everywhere and
gives one error for a GPU that is not there.
"""

from __future__ import annotations

import torch


def resolve_device(
    name: str = "auto", local_rank: int | None = None, what: str = "device"
) -> torch.device:
    """The device `name` names. `auto`: a CUDA GPU when there is one, else the CPU.

    `local_rank` (a torchrun process's GPU) is the index of a bare `cuda` or of `auto` on a GPU
    machine; `what` names the setting in errors. An unknown name, or a GPU where CUDA is not
    available, is a `ValueError` naming the setting (not a failure at the first tensor moved).

    Example::

        resolve_device("auto")          # device(type='cpu') on a machine without a GPU
        resolve_device("cuda:1")        # device(type='cuda', index=1), or a ValueError
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown {what} '{name}'; expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{what} is '{name}' but CUDA is not available here; use 'auto' or 'cpu'")
    if device.type == "cuda" and device.index is None and local_rank is not None:
        return torch.device("cuda", local_rank)
    return device
