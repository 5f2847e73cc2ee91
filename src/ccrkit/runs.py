"""Run records and atomic files: every command that produces results writes `<run_dir>/run.json`.

The record holds the resolved config, the seed, package versions, the git commit when there is one,
start/end times, the status and the metrics, so any number can be traced back to what produced it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, BinaryIO

from ccrkit import __version__
from ccrkit.config import to_dict

RUN_RECORD = "run.json"
TRACKED_PACKAGES = (
    "torch", "numpy", "transformers", "tokenizers", "safetensors", "faiss-cpu", "omegaconf",
    "sacrebleu",
)  # fmt: skip


# errno values of a write that ran out of room: the disk, the user's quota, the file-size limit.
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class DiskFullError(OSError):
    """A write ran out of room. Its message names the file and says what was left as it was; the
    CLI prints it as one line (exit status 1)."""

    def __init__(
        self,
        path: str | Path,
        what: str = "",
        outcome: str = "the previous file (if any) is unchanged and no partial file was left",
    ) -> None:
        detail = f" {what}" if what else ""
        super().__init__(
            errno.ENOSPC,
            f"{path}: no space left on device{detail}; {outcome} — free some space and run the "
            "command again",
        )


def is_disk_full(err: BaseException) -> bool:
    """True for a write error of a full disk, also as SQLite or FAISS report it."""
    if isinstance(err, OSError):
        return err.errno in DISK_FULL_ERRNOS
    text = str(err)
    return "database or disk is full" in text or any(
        os.strerror(code) in text for code in DISK_FULL_ERRNOS
    )


def write_atomic(path: str | Path, data: bytes | memoryview) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file. A
    full disk raises `DiskFullError`, with `path` untouched and the temporary file removed."""
    write_atomic_with(path, lambda handle: handle.write(data), f"(writing {len(data):,} bytes)")


def write_atomic_with(path: str | Path, write: Callable[[BinaryIO], object], what: str) -> None:
    """`write_atomic` for content that `write(handle)` streams into the open file (a large FAISS
    index, without a serialised copy in memory); `what` describes it in a full disk's message."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if is_disk_full(err) and not isinstance(err, DiskFullError):
            raise DiskFullError(path, what) from err
        raise


def write_json_atomic(path: str | Path, obj: Any) -> None:
    text = json.dumps(obj, indent=2, ensure_ascii=False, default=json_default) + "\n"
    write_atomic(path, text.encode("utf-8"))


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "ccrkit": __version__}
    for name in TRACKED_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def git_commit(start: Path | None = None) -> str | None:
    """The commit of the source checkout ccrkit runs from (with '-dirty' when modified), if any."""
    where = start or Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where, capture_output=True, text=True, timeout=5,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class RunRecord:
    """What one command did; `save()` writes it as `run.json` in `run_dir`."""

    run_dir: Path
    command: str
    config: dict[str, Any]
    seed: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    status: str = "running"
    started: str = field(default_factory=now_iso)
    ended: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "argv": sys.argv,
            "status": self.status,
            "started": self.started,
            "ended": self.ended,
            "seed": self.seed,
            "config": self.config,
            "versions": package_versions(),
            "git_commit": git_commit(),
            "metrics": self.metrics,
            **self.extra,
        }

    def save(self) -> Path:
        path = Path(self.run_dir) / RUN_RECORD
        write_json_atomic(path, self.as_dict())
        return path


@contextlib.contextmanager
def run_record(
    run_dir: str | Path, command: str, config: Any, seed: int | None = None
) -> Iterator[RunRecord]:
    """Record a run: written when it starts, and again with status 'ok' or 'failed' when it ends."""
    record = RunRecord(Path(run_dir), command, to_dict(config) if config is not None else {}, seed)
    record.save()
    try:
        yield record
    except BaseException:
        record.status, record.ended = "failed", now_iso()
        with contextlib.suppress(OSError):  # a full disk: the error that stopped the run counts
            record.save()
        raise
    record.status, record.ended = "ok", now_iso()
    record.save()


def json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):  # numpy / torch scalars and arrays
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def default_run_dir(command: str, root: str | Path = "runs") -> Path:
    """`runs/<command>-<UTC timestamp>`: a fresh folder name for a command's outputs."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{command}-{stamp}"


def claim_run_dir(
    run_dir: str | Path, outputs: tuple[str, ...], force: bool, resumable: bool = False
) -> None:
    """A command never silently overwrites an earlier run's `outputs` in `run_dir`: it refuses,
    or with `force` deletes them first (so no stale file of the old run stays beside the new).
    `resumable`: the refusal also offers `--resume` (training)."""
    run_dir = Path(run_dir)
    existing = [name for name in outputs if (run_dir / name).exists()]
    if existing and not force:
        choices = (
            "resume it with --resume, choose another --out, or"
            if resumable
            else "choose another --out or"
        )
        raise FileExistsError(
            f"{run_dir} already holds a run ({', '.join(existing)}); {choices} pass --force to "
            "replace it"
        )
    for name in existing:
        path = run_dir / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()


@contextlib.contextmanager
def replaced_folder(out: str | Path) -> Iterator[Path]:
    """A fresh staging folder beside `out` to fill; when the block ends without error it takes
    the place of `out` (an old `out` is moved aside, then deleted), else it is deleted and `out`
    stays as it was. Readers never see a half-written folder."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.staging-"))
    try:
        yield staging
        old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
        if out.exists():
            os.rename(out, old)
        os.rename(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already after the rename
