"""Time `ccrkit world` (default: world-default; target at most 5 minutes on 2 quiet cores,
pretraining world-clip and world-mbert included: the world is written into a fresh temporary
folder, so nothing comes from the pretrained cache).

    python benchmarks/bench_world.py [CONFIG] [KEY=VALUE ...]

Prints the wall time of every stage (from world.json) and the total; other processes on the
machine slow it down, so say how loaded the machine was when quoting the figure.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from ccrkit.allocator import keep_freed_memory
from ccrkit.config import load_config
from ccrkit.world.config import WorldConfig
from ccrkit.world.world import generate_world, summary


def main(argv: list[str]) -> int:
    name = argv[0] if argv and "=" not in argv[0] else "world-default"
    overrides = [a for a in argv if "=" in a]
    cfg = load_config(WorldConfig, name, overrides)
    keep_freed_memory()  # as every `ccrkit` command does
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = generate_world(
            cfg, Path(tmp) / "world", show_progress=False, pretrained_cache=Path(tmp) / "cache"
        )
        wall = time.perf_counter() - start
    print(summary(result.info))
    stages = ", ".join(f"{k} {v:.1f}" for k, v in result.info["timings_s"].items())
    print(
        f"\n{name}: {wall:.1f} s wall on {os.cpu_count()} cores (load before: {load:.2f}); stages (s): {stages}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
