"""Checkpoint files: safetensors tensors + a JSON record with their SHA-256, written atomically.

`<run_dir>/checkpoints/<which>.json` ("best" or "last") is the commit point: it names a
content-addressed `<which>-<sha256 prefix>.safetensors` written before it, so a run killed at any
moment leaves a consistent checkpoint. Reading verifies the checksum, then the safetensors header,
then every tensor name and shape against the model, and only then loads: a corrupted file or a
checkpoint of another model shape is reported, never half-loaded. Keys: `model.<param>` for the
method's state; the trainer adds `optim.*` and `rng.*` to the "last" checkpoint.

This module sits below the trainer so that evaluation, indexing and serving can load a method
(`load_method`) without importing `ccrkit.train`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn

from ccrkit.methods.base import Method
from ccrkit.models.base import BuildContext
from ccrkit.registry import import_plugins
from ccrkit.runs import write_atomic, write_json_atomic

FORMAT = "ccrkit-checkpoint/1"
CHECKPOINTS_DIR = "checkpoints"
ASSETS_DIR = "assets"
MODEL_PREFIX = "model."


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupted, or does not fit the model; nothing was loaded."""


def checkpoint_path(run_dir: str | Path, which: str) -> Path:
    return Path(run_dir) / CHECKPOINTS_DIR / f"{which}.json"


def model_tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    """The module's state as `model.<name>` CPU tensors (cloned: safetensors refuses shared ones)."""
    return {
        MODEL_PREFIX + name: value.detach().to("cpu", copy=True).contiguous()
        for name, value in module.state_dict().items()
    }


def write_checkpoint(
    run_dir: str | Path, which: str, record: dict[str, Any], tensors: dict[str, torch.Tensor]
) -> Path:
    """Write the tensors, then the JSON record naming them (the commit), then drop stale files."""
    folder = Path(run_dir) / CHECKPOINTS_DIR
    data = save_safetensors(tensors)
    digest = hashlib.sha256(data).hexdigest()
    name = f"{which}-{digest[:16]}.safetensors"
    write_atomic(folder / name, data)
    path = checkpoint_path(run_dir, which)
    write_json_atomic(path, {**record, "format": FORMAT, "tensors": name, "sha256": digest})
    for stale in folder.glob(f"{which}-*.safetensors"):
        if stale.name != name:
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
    return path


def read_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The JSON record and the verified tensors of a checkpoint, or a `CheckpointError`."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no checkpoint here") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: corrupted checkpoint record (not JSON: {err})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a ccrkit checkpoint record (expected format {FORMAT})")
    tensors_path = path.parent / str(record.get("tensors"))
    try:
        data = tensors_path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise CheckpointError(f"{path}: its tensor file {tensors_path.name} is missing") from None
    if hashlib.sha256(data).hexdigest() != record.get("sha256"):
        raise CheckpointError(
            f"{tensors_path}: checksum mismatch — the file is corrupted or was modified; "
            "nothing was loaded"
        )
    try:
        return record, load_safetensors(data)
    except SafetensorError as err:
        raise CheckpointError(f"{tensors_path}: unreadable safetensors file ({err})") from None


def load_module_state(
    module: nn.Module, tensors: dict[str, torch.Tensor], source: str, prefix: str = MODEL_PREFIX
) -> None:
    """Load `prefix*` tensors into `module` after checking every name and shape first."""
    state = module.state_dict()
    found = {key[len(prefix) :]: value for key, value in tensors.items() if key.startswith(prefix)}
    missing, unexpected = sorted(set(state) - set(found)), sorted(set(found) - set(state))
    if missing or unexpected:
        raise CheckpointError(
            f"{source}: the checkpoint does not fit this model (another method or model shape): "
            f"missing tensors {_few(missing)}; unexpected tensors {_few(unexpected)}"
        )
    for name, value in state.items():
        if tuple(found[name].shape) != tuple(value.shape):
            raise CheckpointError(
                f"{source}: tensor '{name}' has shape {tuple(found[name].shape)} in the checkpoint "
                f"but {tuple(value.shape)} in the model (a checkpoint of another model shape)"
            )
    module.load_state_dict(found, strict=True)


def load_method(
    run_dir: str | Path, which: str = "best", device: str | torch.device = "cpu"
) -> tuple[Method, dict[str, Any]]:
    """Rebuild a trained method from its run folder (config, assets, checkpoint) in eval mode."""
    from ccrkit.methods.registry import build_method

    path = checkpoint_path(run_dir, which)
    record, tensors = read_checkpoint(path)
    config = record.get("config") or {}
    import_plugins(config.get("plugins", []))
    build_info = record.get("build") or {}
    context = BuildContext(
        visual_dim=build_info.get("visual_dim"), assets_dir=Path(run_dir) / ASSETS_DIR
    )
    method = build_method(config, context, source=str(path))
    load_module_state(method, tensors, str(path))
    return method.to(device).eval(), record


def _few(names: list[str], shown: int = 5) -> str:
    if not names:
        return "none"
    more = f" (+{len(names) - shown} more)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more
