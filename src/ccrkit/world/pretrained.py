"""Where the pretrained models live: one cache folder per model and config hash, shared by every
world whose config they do not depend on (`config.pretrained_hash`), and a copy in each world's
DATA_ROOT/models/<name>/ that run configs point at.

A model folder is complete when its marker (`ccrkit-pretrained.json`: the hash, what was
measured) is there: the marker is written last, into a staging folder that is then renamed into
place, so a process killed while training or copying leaves no folder that looks finished. A
folder without the marker, or with another hash, is removed and made again, never loaded.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ccrkit.runs import write_atomic

MARKER = "ccrkit-pretrained.json"
CACHE_ENV = "CCRKIT_PRETRAINED_CACHE"
MODELS_DIR = "models"


def default_cache(root: Path) -> Path:
    """$CCRKIT_PRETRAINED_CACHE, else `world-pretrained/` beside DATA_ROOT (so the worlds of one
    folder, e.g. a report's noise levels, share their pretrained models)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path(root).resolve().parent / "world-pretrained"


def model_dir(root: Path, name: str) -> Path:
    """DATA_ROOT/models/<name>: the folder run configs name (e.g. `models/world-mbert`)."""
    return Path(root) / MODELS_DIR / name


def cache_folder(cache: Path, name: str, digest: str) -> Path:
    return Path(cache) / f"{name}-{digest}"


def read_marker(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_complete(folder: Path, digest: str) -> bool:
    marker = read_marker(folder)
    return marker is not None and marker.get("hash") == digest


def build_once(
    cache: Path, name: str, digest: str, build: Callable[[Path], dict[str, Any]]
) -> tuple[Path, dict[str, Any], bool]:
    """The cached folder of model `name` with this hash, built by `build(staging_dir)` (which
    returns what to record in the marker) unless already complete. Returns (folder, marker,
    built)."""
    folder = cache_folder(cache, name, digest)
    if is_complete(folder, digest):
        return folder, read_marker(folder) or {}, False
    info = build_into(folder, lambda staging: {"hash": digest, "name": name, **build(staging)})
    return folder, info, True


def build_into(folder: Path, build: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
    """Run `build(staging)` in a fresh sibling folder, write its marker last, and rename it over
    `folder` (whatever was there, finished or half-written, is replaced)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp")
    staging.mkdir()
    try:
        info = build(staging)
        write_atomic(staging / MARKER, (json.dumps(info, indent=2) + "\n").encode())
        _replace(staging, folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return info


def install(source: Path, target: Path) -> None:
    """Make `target` a complete copy of the complete folder `source` (hard links where the file
    system allows: the files are never written in place). Nothing is done when it already is."""
    marker = read_marker(source)
    if marker is None:
        raise FileNotFoundError(
            f"{source}: not a complete pretrained model folder ({MARKER} missing)"
        )
    if read_marker(target) == marker:
        return

    def link_all(staging: Path) -> dict[str, Any]:
        for path in sorted(source.iterdir()):
            if path.name != MARKER and path.is_file():
                _link_or_copy(path, staging / path.name)
        return marker

    build_into(target, link_all)


def link_files(source: Path, folder: Path, names: list[str]) -> None:
    """Files `names` of `source` into `folder` (which keeps its other files), replacing any
    older ones: hard links where possible."""
    for name in names:
        target = folder / name
        staging = folder / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
        _link_or_copy(source / name, staging)
        os.replace(staging, target)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _replace(staging: Path, folder: Path) -> None:
    """Rename `staging` to `folder`; an existing `folder` is moved aside first and then removed."""
    if folder.exists():
        old = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.old")
        folder.rename(old)
        staging.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(folder)
