"""Checkpoint files: safetensors tensors + a JSON record, one SHA-256 over both, written atomically.

`<run_dir>/checkpoints/<which>.json` ("best" or "last") is the commit point: it names a
content-addressed `<which>-<sha256 prefix>.safetensors` written before it, so a run killed at any
moment leaves a consistent checkpoint; temporary files a kill left are removed by the next write.
The record (config, progress, metrics) is also stored in the safetensors header
(`__metadata__["ccrkit.record"]`), so the file's SHA-256 covers it: reading verifies the checksum,
checks that the JSON's record is the covered one, then every tensor name and shape against the
model, and only then loads. A corrupted or edited file, or a checkpoint of another model shape, is
reported, never half-loaded. Keys: `model.<param>` for the method's state; the trainer adds
`optim.*` and `rng.*` to the "last" checkpoint.

Loading never imports code a checkpoint names (its config's `plugins:`): a record is data, and an
edited one must not run anything. A run trained with plug-ins loads after the user imports them
(`ccrkit --plugin MODULE ...`). Checkpoints of format 1 (record not covered) load with a warning.

This module sits below the trainer so that evaluation, indexing and serving can load a method
(`load_method`) without importing `ccrkit.train`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import struct
import sys
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn

from ccrkit.methods.base import Method
from ccrkit.models.base import BuildContext
from ccrkit.runs import json_default, write_atomic, write_json_atomic

FORMAT = "ccrkit-checkpoint/2"
FORMAT_V1 = "ccrkit-checkpoint/1"  # record not covered by the checksum: read with a warning
RECORD_KEY = "ccrkit.record"  # the record's copy in the safetensors header
POINTER_KEYS = ("format", "tensors", "sha256")
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
    """Write the tensors with the record in their header, then the JSON record naming them (the
    commit), then drop stale files. A failed write (a full disk) leaves the previous checkpoint
    as it was and no file of this one."""
    folder = Path(run_dir) / CHECKPOINTS_DIR
    path = checkpoint_path(run_dir, which)
    _remove_temporaries(folder)
    record = {k: v for k, v in record.items() if k not in POINTER_KEYS}  # e.g. one read back
    record = json.loads(json.dumps(record, default=json_default))  # as it will read back
    data = save_safetensors(tensors, metadata={RECORD_KEY: json.dumps(record, sort_keys=True)})
    digest = hashlib.sha256(data).hexdigest()
    name = f"{which}-{digest[:16]}.safetensors"
    committed = _committed_tensors(path)
    write_atomic(folder / name, data)
    try:
        write_json_atomic(path, {**record, "format": FORMAT, "tensors": name, "sha256": digest})
    except BaseException:
        if name != committed:
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()
        raise
    for stale in folder.glob(f"{which}-*.safetensors"):
        if stale.name != name:
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
    return path


def read_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The verified record and tensors of a checkpoint, or a `CheckpointError`."""
    path = Path(path)
    try:
        pointer = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no checkpoint here") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: corrupted checkpoint record (not JSON: {err})") from None
    if not isinstance(pointer, dict) or pointer.get("format") not in (FORMAT, FORMAT_V1):
        raise CheckpointError(f"{path}: not a ccrkit checkpoint record (expected format {FORMAT})")
    tensors_path = path.parent / Path(str(pointer.get("tensors"))).name
    try:
        data = tensors_path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise CheckpointError(f"{path}: its tensor file {tensors_path.name} is missing") from None
    if hashlib.sha256(data).hexdigest() != pointer.get("sha256"):
        raise CheckpointError(
            f"{tensors_path}: checksum mismatch — the file is corrupted or was modified; "
            "nothing was loaded"
        )
    try:
        tensors = load_safetensors(data)
    except SafetensorError as err:
        raise CheckpointError(f"{tensors_path}: unreadable safetensors file ({err})") from None
    if pointer["format"] == FORMAT_V1:
        print(f"warning: {path} is a checkpoint of an older ccrkit (format 1): its record is "
              "not covered by the checksum", file=sys.stderr)  # fmt: skip
        return pointer, tensors
    return _covered_record(path, pointer, data), tensors


def _covered_record(path: Path, pointer: dict[str, Any], data: bytes) -> dict[str, Any]:
    """The record stored in the checksummed safetensors header, after checking that the JSON file
    says the same (an edited JSON record is refused, not silently replaced)."""
    try:
        (size,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + size])
        covered = json.loads(header["__metadata__"][RECORD_KEY])
    except (struct.error, ValueError, KeyError, TypeError):
        raise CheckpointError(f"{path}: its tensor file holds no checkpoint record") from None
    shown = {key: value for key, value in pointer.items() if key not in POINTER_KEYS}
    if _canonical(shown) != _canonical(covered):
        changed = sorted(
            k for k in {*shown, *covered} if _canonical(shown.get(k)) != _canonical(covered.get(k))
        )
        raise CheckpointError(
            f"{path}: the record was modified after it was written ({', '.join(changed)} "
            "differ from the checksummed copy); nothing was loaded"
        )
    return {**covered, **{key: pointer[key] for key in POINTER_KEYS}}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)  # NaN compares equal to NaN as text


def _committed_tensors(path: Path) -> str | None:
    """The tensor file the current record of `path` names, if it can be read."""
    try:
        return str(json.loads(path.read_text(encoding="utf-8")).get("tensors"))
    except (OSError, ValueError, AttributeError):
        return None


def _remove_temporaries(folder: Path) -> None:
    """Temporary files of writes a kill interrupted: this folder has one writer (rank 0), so any
    temporary file found before a write is a leftover."""
    for leftover in folder.glob(".*.tmp") if folder.is_dir() else ():
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()


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
    check_plugins_loaded(config, path)
    build_info = record.get("build") or {}
    context = BuildContext(
        visual_dim=build_info.get("visual_dim"), assets_dir=Path(run_dir) / ASSETS_DIR
    )
    method = build_method(config, context, source=str(path))
    load_module_state(method, tensors, str(path))
    return method.to(device).eval(), record


def check_plugins_loaded(config: dict[str, Any], path: str | Path) -> None:
    """A run trained with plug-ins needs them imported by the user: a checkpoint names code but
    never gets it imported."""
    missing = [m for m in config.get("plugins") or [] if str(m) not in sys.modules]
    if missing:
        modules = " ".join(f"--plugin {m}" for m in missing)
        raise CheckpointError(
            f"{path}: the run was trained with plug-in module(s) {', '.join(map(str, missing))}, "
            f"which are not imported; checkpoints never import code they name — if you trust "
            f"them, pass `ccrkit {modules} ...`"
        )


def _few(names: list[str], shown: int = 5) -> str:
    if not names:
        return "none"
    more = f" (+{len(names) - shown} more)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more
