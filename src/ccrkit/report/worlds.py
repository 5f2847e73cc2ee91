"""The worlds a grid reads, one per MT noise level: given folders, or generated once each through
the world package (`ccrkit world` with the noise level as an override) and reused afterwards.

Planning reads the folders and writes nothing (`locate_worlds`): a world not generated yet is
named by the hash of the config it will be generated from, the same identity its `world.json`
will carry, so a dry run names the very runs a real one trains. `generate_worlds` then makes the
missing ones; a folder holding an unfinished (interrupted) or a different world is regenerated
with `force`, and refused without it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ccrkit.config import load_config
from ccrkit.report.spec import GridSpec, WorldSpec
from ccrkit.world.config import WorldConfig, config_hash
from ccrkit.world.layout import WORLD_JSON
from ccrkit.world.world import generate_world

READY, MISSING, UNFINISHED, DIFFERENT = "ready", "to generate", "unfinished", "different"


@dataclass
class World:
    noise: float
    root: Path
    identity: str
    state: str = READY  # READY | MISSING | UNFINISHED | DIFFERENT
    generated: bool = False  # the grid generates it (not one of world.roots)

    def blocker(self, force: bool, command: str) -> str | None:
        """Why training cannot go on with this world, or None."""
        if self.state in (READY, MISSING) or force:
            return None
        what = (
            "an unfinished world (its generation was interrupted)"
            if self.state == UNFINISHED
            else "a different world"
        )
        return f"{self.root} holds {what}; `{command} --force` regenerates it"


def world_identity(root: Path) -> str:
    """What the runs' cache keys depend on: the world's config hash when it has one (a regenerated
    world invalidates the runs on it), else the folder's absolute path."""
    found = _recorded_hash(root)
    if found:
        return f"world:{found}"
    return "path:" + hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]


def _recorded_hash(root: Path) -> str | None:
    marker = root / WORLD_JSON
    if not marker.is_file():
        return None
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("config_hash")
    except (ValueError, OSError):
        return None


def noise_root(spec: WorldSpec, noise: float) -> Path:
    return Path(spec.root) / f"noise-{noise:g}"


def locate_worlds(grid: GridSpec, levels: list[float]) -> dict[float, World]:
    """noise level -> its world, found or planned; nothing is written."""
    given = {float(w.noise): Path(w.root) for w in grid.world.roots}
    worlds = {}
    for noise in sorted(set(levels)):
        if noise in given:
            root = given[noise]
            if not root.is_dir():
                raise FileNotFoundError(
                    f"world.roots: the world for noise {noise:g} ({root}) does not exist"
                )
            worlds[noise] = World(noise, root, world_identity(root))
            continue
        if given:
            listed = ", ".join(f"{n:g}" for n in sorted(given))
            raise ValueError(
                f"no world for noise {noise:g}: world.roots lists {listed}; add it there or "
                "drop world.roots to generate every level"
            )
        worlds[noise] = _planned(grid.world, noise)
    return worlds


def _planned(spec: WorldSpec, noise: float) -> World:
    root = noise_root(spec, noise)
    digest = config_hash(_world_config(spec, noise))
    found = _recorded_hash(root)
    if found == digest:
        state = READY
    elif found is not None:
        state = DIFFERENT
    elif root.exists() and any(root.iterdir()):
        state = UNFINISHED
    else:
        state = MISSING
    return World(noise, root, f"world:{digest}", state, generated=True)


def _world_config(spec: WorldSpec, noise: float) -> WorldConfig:
    return load_config(WorldConfig, spec.config, [*spec.overrides, f"{spec.noise_key}={noise}"])


def generate_worlds(
    grid: GridSpec, worlds: dict[float, World], force: bool = False,
    command: str = "ccrkit report", progress: bool = True,
) -> None:  # fmt: skip
    """Generate the grid's worlds that are not ready (`force`: also replace unfinished or
    different ones); an unfinished or different world without `force` is an error."""
    blockers = [why for world in worlds.values() if (why := world.blocker(force, command))]
    if blockers:
        raise FileExistsError(blockers[0])
    for world in worlds.values():
        if world.generated and world.state != READY:
            if progress:
                print(f"generating the world for MT noise {world.noise:g} -> {world.root} "
                      f"(~{grid.world.seconds / 60:.0f} min)", flush=True)  # fmt: skip
            config = _world_config(grid.world, world.noise)
            generate_world(config, world.root, force=force, show_progress=progress)
            world.state = READY
