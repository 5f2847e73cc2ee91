"""Training state in a checkpoint: optimiser, schedule and RNG states split into JSON + tensors.

Optimiser and RNG states are nested Python structures holding tensors and NumPy arrays. `encode`
moves every tensor into the checkpoint's safetensors dict (under a key) and leaves a JSON-ready
skeleton; `decode` puts them back, restoring tuples, int dictionary keys and NumPy dtypes, so
`optimizer.load_state_dict` gets exactly what `state_dict` gave.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

TENSOR, NDARRAY, TUPLE, ITEMS = "__tensor__", "__ndarray__", "__tuple__", "__items__"


def encode(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """A JSON-ready copy of `obj`; its tensors and arrays are added to `tensors` as `prefix<n>`."""
    if isinstance(obj, torch.Tensor):
        key = f"{prefix}{len(tensors)}"
        tensors[key] = obj.detach().to("cpu", copy=True).contiguous()
        return {TENSOR: key}
    if isinstance(obj, np.ndarray):
        key = f"{prefix}{len(tensors)}"
        tensors[key] = torch.from_numpy(
            obj.astype(np.int64 if obj.dtype.kind in "iu" else np.float64)
        )
        return {NDARRAY: key, "dtype": str(obj.dtype)}
    if isinstance(obj, dict):
        return {ITEMS: [[key, encode(value, prefix, tensors)] for key, value in obj.items()]}
    if isinstance(obj, tuple):
        return {TUPLE: [encode(value, prefix, tensors) for value in obj]}
    if isinstance(obj, list):
        return [encode(value, prefix, tensors) for value in obj]
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint")


def decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """The inverse of `encode`."""
    if isinstance(obj, list):
        return [decode(value, tensors) for value in obj]
    if not isinstance(obj, dict):
        return obj
    if TENSOR in obj:
        return tensors[obj[TENSOR]]
    if NDARRAY in obj:
        return tensors[obj[NDARRAY]].numpy().astype(obj["dtype"])
    if TUPLE in obj:
        return tuple(decode(value, tensors) for value in obj[TUPLE])
    return {key: decode(value, tensors) for key, value in obj[ITEMS]}


def rng_state() -> dict[str, Any]:
    """Every random generator the training loop may draw from, on this process."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
