"""The worlds a grid reads, one per MT noise level: given folders, or generated once each through
the world package (`ccrkit world` with the noise level as an override) and reused afterwards."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ccrkit.report.spec import GridSpec, WorldSpec

WORLD_JSON = "world.json"  # written last by `ccrkit world`: its presence marks a finished world


def world_identity(root: Path) -> str:
    """What the runs' cache keys depend on: the world's config hash when it has one (a regenerated
    world invalidates the runs on it), else the folder's absolute path."""
    marker = root / WORLD_JSON
    if marker.is_file():
        try:
            found = json.loads(marker.read_text(encoding="utf-8")).get("config_hash")
        except (ValueError, OSError):
            found = None
        if found:
            return f"world:{found}"
    return "path:" + hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]


def noise_root(spec: WorldSpec, noise: float) -> Path:
    return Path(spec.root) / f"noise-{noise:g}"


def prepare_worlds(grid: GridSpec, levels: list[float]) -> dict[float, tuple[Path, str]]:
    """noise level -> (world root, identity), generating the worlds that do not exist yet."""
    given = {float(w.noise): Path(w.root) for w in grid.world.roots}
    worlds = {}
    for noise in sorted(set(levels)):
        if noise in given:
            root = given[noise]
            if not root.is_dir():
                raise FileNotFoundError(
                    f"world.roots: the world for noise {noise:g} ({root}) does not exist"
                )
        else:
            if given:
                listed = ", ".join(f"{n:g}" for n in sorted(given))
                raise ValueError(
                    f"no world for noise {noise:g}: world.roots lists {listed}; add it there or "
                    "drop world.roots to generate every level"
                )
            root = generate(grid.world, noise)
        worlds[noise] = (root, world_identity(root))
    return worlds


def generate(spec: WorldSpec, noise: float) -> Path:
    """`ccrkit world --config <spec.config> <overrides> <noise_key>=<noise> --out <root>`: generated
    once, then reused (the world package recognises a finished world of the same config)."""
    from ccrkit.config import load_config

    try:
        from ccrkit.world.config import WorldConfig
        from ccrkit.world.world import generate_world
    except ImportError:
        raise ValueError(
            "generating worlds needs the synthetic world package (ccrkit.world); "
            "give ready worlds in world.roots instead"
        ) from None
    root = noise_root(spec, noise)
    overrides = [*spec.overrides, f"{spec.noise_key}={noise}"]
    config = load_config(WorldConfig, spec.config, overrides)
    generate_world(config, root, show_progress=False)
    return root
