"""`load_grid`: a grid spec read and checked as a whole, above the modules that check it.

It lives apart from `spec` (the dataclasses) because the check of matched baselines
(`matched.check_grid`) resolves run configs through `plan`, which reads the spec: `spec` below
`plan` below `matched` below this module, one direction.
"""

from __future__ import annotations

from pathlib import Path

from ccrkit.config import ConfigError, load_config
from ccrkit.report.matched import check_grid
from ccrkit.report.spec import GridSpec


def load_grid(name_or_path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> GridSpec:
    """A grid from `configs/report/<name>.yaml` or a path, with `key=value` overrides.

    Example::

        grid = load_grid("nrccr-world", ["experiments.0.seeds=[0]"])
        plan_grid(grid)  # the runs it names, nothing trained
    """
    grid = load_config(GridSpec, name_or_path, overrides, subdir="report")
    if not grid.experiments:
        raise ConfigError(f"{name_or_path}: the grid has no experiments")
    check_grid(grid)  # a matched baseline that differs from its method in more is refused here
    return grid
