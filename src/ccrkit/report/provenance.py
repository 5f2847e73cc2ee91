"""Which code made a results page, and whether it has changed since.

A page records the git commit and a content hash of the code and configs that produced it: one
sha256 per part (each top-level package of `ccrkit`, and `configs`), over the files' bytes, so
the hash is the same in any checkout or install of the same code. `stale_parts` names the parts
whose hash differs now: their numbers may no longer be what the code gives (`ccrkit report
--check`, the warnings of `results/README.md`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ccrkit.config import GROUPS, PACKAGE_DIR, config_files
from ccrkit.runs import git_commit

CONFIGS = "configs"


def _parts() -> dict[str, list[tuple[str, Path]]]:
    parts: dict[str, list[tuple[str, Path]]] = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        relative = path.relative_to(PACKAGE_DIR)
        if "_configs" in relative.parts:
            continue
        name = relative.parts[0] if len(relative.parts) > 1 else "ccrkit"
        parts.setdefault(name, []).append((relative.as_posix(), path))
    parts[CONFIGS] = sorted(_config_entries(), key=lambda entry: entry[0].split("/"))
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


def code_state() -> dict[str, Any]:
    """{"commit": ..., "digest": ..., "parts": {part: digest}} of the running code."""
    digests = {}
    for name, files in _parts().items():
        digest = hashlib.sha256()
        for relative, path in files:
            digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
        digests[name] = digest.hexdigest()[:16]
    whole = hashlib.sha256(repr(sorted(digests.items())).encode()).hexdigest()[:16]
    return {"commit": git_commit(), "digest": whole, "parts": digests}


def stale_parts(recorded: dict[str, Any] | None, current: dict[str, Any]) -> list[str] | None:
    """The parts changed since `recorded` (sorted), [] when none, None when nothing was recorded."""
    if not recorded or "parts" not in recorded:
        return None
    old, new = recorded["parts"], current["parts"]
    return sorted(name for name in set(old) | set(new) if old.get(name) != new.get(name))
