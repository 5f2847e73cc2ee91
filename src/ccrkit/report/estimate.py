"""What a report will train and how long that should take, said before anything starts.

A run's expected cost is its expected epochs × seconds per epoch. Both come from the finished runs
of the same grid method and training mode in the grid's runs folder when there are any (their
wall-clock seconds, validation and test included, over their epochs: measured on this machine);
otherwise from the grid config (`seconds_per_epoch` by method key, from `benchmarks/bench_train.py`
figures; `expected_epochs`, else `max_epochs` as an upper bound). A joint run over n languages
is counted (1 + n) / 2 times a one-language run (one source and n MT text passes against two).
An interrupted run that will resume owes only its remaining epochs; a run that differs from a
trained one only at test time is scored from its weights and owes no training. The wall-clock
estimate divides the total by the grid's `jobs` (runs trained at once) and adds the worlds to
generate.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from ccrkit.report.execute import read_record, resumable_epoch, run_seconds, run_state
from ccrkit.report.plan import PlannedRun, rescored_from
from ccrkit.report.spec import GridSpec
from ccrkit.report.worlds import DIFFERENT, READY, UNFINISHED, World

ASSUMED_SECONDS_PER_EPOCH = 60.0  # where neither a measurement nor the grid gives one
RESCORE = "rescore"  # the state of a run scored from another's weights (`plan.rescored_from`)


@dataclass
class MethodCost:
    seconds_per_epoch: float
    epochs: float
    source: str  # where the figures come from


@dataclass
class Plan:
    """One grid's runs by state, their expected cost, and the worlds to generate."""

    grid: GridSpec
    runs: list[PlannedRun]
    states: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # method key -> expected seconds
    counts: dict[str, int] = field(default_factory=dict)  # method key -> runs to train
    costs: dict[str, MethodCost] = field(default_factory=dict)
    worlds_to_generate: list[World] = field(default_factory=list)
    more_seeds: int = 0  # runs that close comparisons may add (an upper bound)
    more_seconds: float = 0.0

    @property
    def train_seconds(self) -> float:
        return sum(self.seconds.values())

    @property
    def wall_seconds(self) -> float:
        worlds = len(self.worlds_to_generate) * self.grid.world.seconds
        return worlds + self.train_seconds / self.grid.jobs

    def lines(self, name: str) -> list[str]:
        g = self.grid
        order = ("cached", "resume", "redo", "new", RESCORE)
        counts = sorted(self.states.items(), key=lambda item: order.index(item[0]))
        states = ", ".join(f"{count} {state}" for state, count in counts if count)
        todo = len(self.runs) - self.states.get("cached", 0)
        lines = [f"grid {name}: {len(self.runs)} runs, {todo} to train ({states or 'none'})"]
        for world in self.worlds_to_generate:
            lines.append(
                f"  world for MT noise {world.noise:g}: {world.state} -> {world.root} "
                f"(~{g.world.seconds / 60:.0f} min)"
                + (
                    "; regenerated only with --force"
                    if world.state in (UNFINISHED, DIFFERENT)
                    else ""
                )
            )
        if self.states.get(RESCORE):
            lines.append(
                f"  {self.states[RESCORE]} run(s) differ from a trained run only at test time: "
                "scored from its weights, without training (minutes each)"
            )
        for key, count in self.counts.items():
            cost = self.costs[key]
            lines.append(
                f"  {key}: {count} run(s) x ~{cost.epochs:.0f} epochs x {cost.seconds_per_epoch:.0f} "
                f"s/epoch ({cost.source}) = {_hours(self.seconds[key])}"
            )
        lines.append(
            f"  expected: {_hours(self.train_seconds)} of training, {_hours(self.wall_seconds)} "
            f"wall clock with {g.jobs} run(s) at a time x {g.threads} thread(s)"
        )
        if self.more_seeds:
            lines.append(
                f"  then up to {self.more_seeds} more run(s) for comparisons within two standard "
                f"deviations (more_seeds): up to {_hours(self.more_seconds / g.jobs)} more"
            )
        return lines


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def plan_costs(
    grid: GridSpec, runs: list[PlannedRun], worlds: dict[float, World],
    extra: list[PlannedRun] = (),  # type: ignore[assignment]
) -> Plan:  # fmt: skip
    """The plan of one grid: `runs` (unique), `extra` the most runs `more_seeds` may add."""
    plan = Plan(grid, runs)
    plan.worlds_to_generate = [w for w in worlds.values() if w.generated and w.state != READY]
    measured = _measured(grid, runs)
    rescored = rescored_from([*runs, *extra])
    plan.states = defaultdict(int)
    for run in runs:
        state = planned_state(run, rescored)
        plan.states[state] += 1
        if state in ("cached", RESCORE):
            continue
        key = run.key.method
        cost = plan.costs.setdefault(key, _cost(grid, key, measured.get(key)))
        plan.counts[key] = plan.counts.get(key, 0) + 1
        plan.seconds[key] = plan.seconds.get(key, 0.0) + _run_seconds(run, cost)
    plan.states = dict(plan.states)
    for run in extra:
        if run.digest in rescored:
            continue
        key = run.key.method
        cost = plan.costs.get(key) or _cost(grid, key, measured.get(key))
        plan.more_seeds += 1
        plan.more_seconds += _run_seconds(run, cost)
    return plan


def planned_state(run: PlannedRun, rescored: Mapping[str, PlannedRun]) -> str:
    """`run_state`, or RESCORE for a run still to be scored from another's weights (`rescored`:
    `plan.rescored_from`)."""
    state = run_state(run)
    return RESCORE if state != "cached" and run.digest in rescored else state


def _run_seconds(run: PlannedRun, cost: MethodCost) -> float:
    langs = len(run.key.langs)
    scale = (1 + langs) / 2 if langs > 1 else 1.0
    done = resumable_epoch(run) or 0
    epochs = max(cost.epochs - done, 1.0)
    return epochs * cost.seconds_per_epoch * scale


def _measured(grid: GridSpec, runs: list[PlannedRun]) -> dict[str, list[tuple[float, int]]]:
    """Method key -> (seconds per one-language epoch, epochs) of its finished runs."""
    found: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for run in runs:
        record = read_record(run)
        if not record or record.get("status") != "ok" or record.get("retest_of"):
            continue  # a rescored run's seconds are its test's alone
        seconds, epochs = run_seconds(record), record.get("epochs")
        if seconds and epochs:
            langs = len(run.key.langs)
            scale = (1 + langs) / 2 if langs > 1 else 1.0
            found[run.key.method].append((seconds / epochs / scale, int(epochs)))
    return found


def _cost(grid: GridSpec, key: str, measured: list[tuple[float, int]] | None) -> MethodCost:
    cap = grid.max_epochs
    if measured:
        per_epoch = statistics.median(s for s, _ in measured)
        epochs = statistics.fmean(e for _, e in measured)
        return MethodCost(per_epoch, epochs, f"measured on {len(measured)} finished run(s)")
    epochs = grid.expected_epochs or cap or 20
    source_epochs = "expected" if grid.expected_epochs else "the cap" if cap else "assumed"
    parent = grid.methods[key].matched or key
    for name in (key, parent):
        if name in grid.seconds_per_epoch:
            return MethodCost(
                grid.seconds_per_epoch[name], epochs, f"grid figure, epochs {source_epochs}"
            )
    return MethodCost(ASSUMED_SECONDS_PER_EPOCH, epochs, f"assumed, epochs {source_epochs}")
