"""Checkpoint files: atomic commit, checksum, shape checks, and the training-state codec."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from ccrkit.methods.checkpoint import (
    CheckpointError,
    checkpoint_path,
    load_module_state,
    model_tensors,
    read_checkpoint,
    write_checkpoint,
)
from ccrkit.train.state import decode, encode, rng_state, set_rng_state


def saved_linear(run_dir: Path, width: int = 3) -> nn.Module:
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(width, 2), nn.BatchNorm1d(2))
    write_checkpoint(run_dir, "last", {"epoch": 1}, model_tensors(module))
    return module


def test_round_trip_and_only_the_committed_tensor_file_remains(tmp_path: Path) -> None:
    module = saved_linear(tmp_path)
    with torch.no_grad():
        module[0].weight.add_(1.0)
    write_checkpoint(tmp_path, "last", {"epoch": 2}, model_tensors(module))
    record, tensors = read_checkpoint(checkpoint_path(tmp_path, "last"))
    assert record["epoch"] == 2
    assert [p.name for p in (tmp_path / "checkpoints").glob("last-*.safetensors")] == [
        record["tensors"]
    ]
    fresh = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    load_module_state(fresh, tensors, "test")
    assert torch.equal(fresh[0].weight, module[0].weight)


def test_a_flipped_byte_is_detected_and_nothing_is_loaded(tmp_path: Path) -> None:
    saved_linear(tmp_path)
    record = json.loads(checkpoint_path(tmp_path, "last").read_text())
    tensor_file = tmp_path / "checkpoints" / record["tensors"]
    data = bytearray(tensor_file.read_bytes())
    data[-1] ^= 0xFF
    tensor_file.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"checksum mismatch .* nothing was loaded"):
        read_checkpoint(checkpoint_path(tmp_path, "last"))


def test_a_truncated_record_is_reported(tmp_path: Path) -> None:
    saved_linear(tmp_path)
    path = checkpoint_path(tmp_path, "last")
    path.write_text(path.read_text()[:20])
    with pytest.raises(CheckpointError, match="corrupted checkpoint record"):
        read_checkpoint(path)
    with pytest.raises(CheckpointError, match="no checkpoint here"):
        read_checkpoint(checkpoint_path(tmp_path, "best"))


def test_another_model_shape_names_the_tensor_and_leaves_the_model_alone(tmp_path: Path) -> None:
    saved_linear(tmp_path, width=3)
    _, tensors = read_checkpoint(checkpoint_path(tmp_path, "last"))
    wider = nn.Sequential(nn.Linear(5, 2), nn.BatchNorm1d(2))
    before = {k: v.clone() for k, v in wider.state_dict().items()}
    with pytest.raises(
        CheckpointError, match=r"tensor '0.weight' has shape \(2, 3\) .* but \(2, 5\)"
    ):
        load_module_state(wider, tensors, "ckpt")
    assert all(torch.equal(before[k], v) for k, v in wider.state_dict().items())
    with pytest.raises(
        CheckpointError, match=r"missing tensors none; unexpected tensors 1.num_batches_tracked"
    ):
        load_module_state(nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2)), tensors, "ckpt")


def test_optimizer_and_rng_states_survive_the_codec() -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1, betas=(0.8, 0.9))
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    state = {"optimizer": optimizer.state_dict(), "rng": [rng_state()]}
    tensors: dict[str, torch.Tensor] = {}
    restored = decode(json.loads(json.dumps(encode(state, "s.", tensors))), tensors)
    again = torch.optim.AdamW(model.parameters(), lr=0.5)
    again.load_state_dict(restored["optimizer"])
    assert again.param_groups[0]["betas"] == (0.8, 0.9)
    assert torch.equal(
        again.state[model.weight]["exp_avg"], optimizer.state[model.weight]["exp_avg"]
    )
    draws = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_state(restored["rng"][0])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == draws


def test_an_edited_record_is_refused_as_the_checksum_covers_it(tmp_path: Path) -> None:
    saved_linear(tmp_path)
    path = checkpoint_path(tmp_path, "last")
    record = json.loads(path.read_text())
    record["epoch"], record["config"] = 7, {"plugins": ["os"]}
    path.write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match=r"record was modified .*\(config, epoch differ"):
        read_checkpoint(path)


def test_a_checkpoint_of_format_1_loads_with_a_warning(tmp_path: Path, capsys) -> None:
    """Format 1 (before the record was covered): runs trained earlier stay usable."""
    import hashlib

    from safetensors.torch import save

    module = nn.Linear(3, 2)
    data = save(model_tensors(module))
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    (folder / "last-old.safetensors").write_bytes(data)
    old = {"epoch": 3, "format": "ccrkit-checkpoint/1", "tensors": "last-old.safetensors",
           "sha256": hashlib.sha256(data).hexdigest()}  # fmt: skip
    checkpoint_path(tmp_path, "last").write_text(json.dumps(old))
    record, tensors = read_checkpoint(checkpoint_path(tmp_path, "last"))
    assert record["epoch"] == 3 and set(tensors) == {"model.weight", "model.bias"}
    assert "older ccrkit (format 1)" in capsys.readouterr().err


def test_the_tensor_file_name_cannot_leave_the_folder(tmp_path: Path) -> None:
    saved_linear(tmp_path / "run")
    path = checkpoint_path(tmp_path / "run", "last")
    record = json.loads(path.read_text())
    (tmp_path / record["tensors"]).write_bytes(b"elsewhere")
    record["tensors"] = "../../" + record["tensors"]
    path.write_text(json.dumps(record))
    record_read, _ = read_checkpoint(path)  # the name is taken inside checkpoints/ only
    assert record_read["epoch"] == 1


def test_temporary_files_a_kill_left_are_removed_by_the_next_write(tmp_path: Path) -> None:
    saved_linear(tmp_path)
    folder = tmp_path / "checkpoints"
    leftovers = [folder / ".last-0123456789abcdef.safetensors.k1ll3d.tmp",
                 folder / ".best.json.a8b9c0.tmp"]  # fmt: skip
    for leftover in leftovers:
        leftover.write_bytes(b"\0" * 4096)  # what a SIGKILL mid-write leaves
    saved_linear(tmp_path)
    assert not list(folder.glob(".*.tmp"))


def test_a_failed_record_write_leaves_the_previous_checkpoint_and_no_new_file(
    tmp_path: Path, monkeypatch
) -> None:
    """The JSON commit fails (a full disk, simulated): the tensors written before it go too."""
    import ccrkit.methods.checkpoint as checkpoint
    from ccrkit.runs import DiskFullError

    saved_linear(tmp_path)
    before = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())

    def full(path, obj):
        raise DiskFullError(path)

    monkeypatch.setattr(checkpoint, "write_json_atomic", full)
    with pytest.raises(DiskFullError, match="no space left on device"):
        write_checkpoint(tmp_path, "last", {"epoch": 2}, model_tensors(nn.Linear(5, 5)))
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == before
    assert read_checkpoint(checkpoint_path(tmp_path, "last"))[0]["epoch"] == 1
