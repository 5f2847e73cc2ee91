"""Which code made a results page, and whether it has changed since.

A page records the git commit and a content hash of the code and configs that produced it: one
sha256 per part (each top-level package of `ccrkit`, and `configs`), over the files' bytes, so
the hash is the same in any checkout or install of the same code. `stale_parts` names the parts
whose hash differs now: their numbers may no longer be what the code gives (`ccrkit report
--check`, the warnings of `results/README.md`).

The `configs` part of a page covers the config files its grid reads (`configs` in the record:
the grid, its run, world and data configs with their `base:` chains), so that editing NRCCR's
config leaves a page that never read it current. A page without that list (made before stop 29)
is checked against every config.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from ccrkit.config import GROUPS, PACKAGE_DIR, config_files
from ccrkit.runs import git_commit

CONFIGS = "configs"


def _parts(configs: Collection[str] | None = None) -> dict[str, list[tuple[str, Path]]]:
    parts: dict[str, list[tuple[str, Path]]] = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        relative = path.relative_to(PACKAGE_DIR)
        if "_configs" in relative.parts:
            continue
        name = relative.parts[0] if len(relative.parts) > 1 else "ccrkit"
        parts.setdefault(name, []).append((relative.as_posix(), path))
    entries = [e for e in _config_entries() if configs is None or e[0] in configs]
    parts[CONFIGS] = sorted(entries, key=lambda entry: entry[0].split("/"))
    return parts


def _config_entries() -> list[tuple[str, Path]]:
    """(the name a config is read by, as `[group/]name.yaml`; its file) for every config: keyed
    by name, not by the sub-folder it is sorted into, so moving a file within its group changes
    no hash (a results page stays current: its numbers depend on contents, not on folders)."""
    return [
        (f"{group}/{name}.yaml" if group else f"{name}.yaml", path)
        for group in ("", *GROUPS)
        for name, paths in config_files(group).items()
        for path in paths
    ]


def config_names(paths: Iterable[Path]) -> list[str]:
    """The names (`[group/]name.yaml`) of those of `paths` that are ccrkit configs; a file
    elsewhere (a grid given by path) has no name and no part in the hash."""
    by_path = {path.resolve(): name for name, path in _config_entries()}
    return sorted({by_path[p.resolve()] for p in paths if p.resolve() in by_path})


def code_state(configs: Collection[str] | None = None) -> dict[str, Any]:
    """{"commit": ..., "digest": ..., "parts": {part: digest}} of the running code; with
    `configs` (names, see `config_names`) its `configs` part covers those files alone, and the
    record keeps their list so that a later check hashes the same ones."""
    digests = {}
    for name, files in _parts(configs).items():
        digest = hashlib.sha256()
        for relative, path in files:
            digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
        digests[name] = digest.hexdigest()[:16]
    whole = hashlib.sha256(repr(sorted(digests.items())).encode()).hexdigest()[:16]
    state: dict[str, Any] = {"commit": git_commit(), "digest": whole, "parts": digests}
    if configs is not None:
        state["configs"] = sorted(configs)
    return state


def stale_parts(recorded: dict[str, Any] | None, current: dict[str, Any]) -> list[str] | None:
    """The parts changed since `recorded` (sorted), [] when none, None when nothing was recorded."""
    if not recorded or "parts" not in recorded:
        return None
    old, new = recorded["parts"], current["parts"]
    return sorted(name for name in set(old) | set(new) if old.get(name) != new.get(name))
