"""A disk that fills up mid-write: checkpoint, index, translation cache and world writes end with
one clear error, the previous checkpoint/index intact and no partial file (issue 23).

The writes run in a child process (`full_disk_scenarios.py`) on a real 1 MiB tmpfs, mounted in a
private mount namespace (`unshare --mount`, with `--user --map-root-user` when not root), so the
test needs no privileges beyond what unprivileged user namespaces allow. Where no namespace can be
made (some containers), the same scenarios run with the child's files capped by RLIMIT_FSIZE
(writes fail with EFBIG instead of ENOSPC), except the translation cache: SQLite reports EFBIG as
an I/O error, not as a full disk.
"""

from __future__ import annotations

import functools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("full_disk_scenarios.py")
SIZE = 2**20


@functools.cache
def unshare_command() -> list[str] | None:
    """The `unshare` invocation that can mount a tmpfs here, or None."""
    unshare = shutil.which("unshare")
    if unshare is None or sys.platform != "linux":
        return None
    options = [["--mount"]] if os.geteuid() == 0 else []
    for option in [*options, ["--user", "--map-root-user", "--mount"]]:
        probe = [unshare, *option, "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"]
        if subprocess.run(probe, capture_output=True).returncode == 0:
            return [unshare, *option]
    return None


def run_scenarios(mode: str, tmp_path: Path, names: list[str]) -> dict[str, dict]:
    small, outside = tmp_path / "small", tmp_path / "outside"
    small.mkdir()
    outside.mkdir()
    python = [sys.executable, str(SCRIPT), str(small), str(outside), *names]
    if mode == "tmpfs":
        mount = f'mount -t tmpfs -o size={SIZE} tmpfs {small} && exec "$@"'
        command, limit = [*unshare_command(), "sh", "-c", mount, "sh", *python], None  # type: ignore[misc]
    else:
        command, limit = python, functools.partial(_cap_file_size, 2**20)
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, preexec_fn=limit,
                          cwd=Path(__file__).parent.parent)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {result.pop("scenario"): result for result in results}


def _cap_file_size(size: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the cap fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


def test_writes_on_a_full_disk(tmp_path, record_property):
    mode = "tmpfs" if unshare_command() is not None else "file-size-limit"
    record_property("full_disk_mode", mode)  # in the JUnit report; `pytest -rA` shows it too
    print(f"full disk simulated by: {mode}")
    names = ["checkpoint", "index", "world"] + (["cache"] if mode == "tmpfs" else [])
    results = run_scenarios(mode, tmp_path, names)

    checkpoint = results["checkpoint"]
    assert checkpoint["raised"] == "DiskFullError", checkpoint
    assert "no space left on device" in checkpoint["message"]
    assert checkpoint["kept_epoch"] == 1 and checkpoint["same_files"]

    index = results["index"]
    assert index["raised"] == "DiskFullError" and "previous index is unchanged" in index["message"]
    assert index["kept_count"] == 100
    assert sorted(index["files"]) == ["index", *(f"index/{n}" for n in (
        "index.faiss", "items.sqlite", "manifest.json", "vectors.npy"))]  # fmt: skip

    world = results["world"]
    assert world["status"] == 1 and len(world["stderr"]) == 1, world
    assert world["stderr"][0].startswith("ccrkit world: error: ")
    assert "no space left on device while generating the world" in world["stderr"][0]
    assert world["world_files"] == [] and world["record_status"] == "failed"

    if "cache" in results:
        cache = results["cache"]
        assert cache["raised"] == "DiskFullError" and "stored before" in cache["message"]
        assert cache["kept_rows"] == 100 and cache["intact"]
