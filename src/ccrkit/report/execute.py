"""Train the runs a grid still lacks (alone or `jobs` at a time), score its test-time variants
from the weights they share, and read every run's record."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime
from typing import Any

import torch
from tqdm import tqdm

from ccrkit.allocator import keep_freed_memory
from ccrkit.methods.checkpoint import CHECKPOINTS_DIR
from ccrkit.report.plan import PlannedRun, rescored_from
from ccrkit.runs import RUN_RECORD
from ccrkit.train.retest import retest_from_config
from ccrkit.train.run import train_from_config


def read_record(run: PlannedRun) -> dict[str, Any] | None:
    path = run.run_dir / RUN_RECORD
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def is_done(run: PlannedRun) -> bool:
    record = read_record(run)
    return bool(record and record.get("status") == "ok" and record.get("metrics"))


def resumable_epoch(run: PlannedRun) -> int | None:
    """The epochs an interrupted run of this config completed, when its last checkpoint can be
    resumed (written, not finished); else None."""
    try:
        last = json.loads((run.run_dir / CHECKPOINTS_DIR / "last.json").read_text("utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return None if last.get("finished") else int(last.get("epoch") or 0)


def run_state(run: PlannedRun) -> str:
    """ "cached" (finished), "resume" (interrupted after a saved epoch), "redo" (a folder with
    an unfinished run and nothing to resume) or "new"."""
    if is_done(run):
        return "cached"
    if resumable_epoch(run) is not None:
        return "resume"
    return "redo" if run.run_dir.exists() else "new"


def train_one(run: PlannedRun, threads: int, force: bool = False) -> tuple[str, float, str | None]:
    """Train one run (in a worker process or in-process); returns (name, seconds, error). An
    interrupted run resumes from its last checkpoint; with `force`, it starts again."""
    torch.set_num_threads(threads)
    started = time.perf_counter()
    resume = not force and run_state(run) == "resume"
    try:
        # a folder here without an 'ok' record is an interrupted run of this very config
        train_from_config(run.config, run.run_dir, resume=resume, force=not resume)
    except Exception as err:  # reported with the others at the end; the grid goes on
        return run.name, time.perf_counter() - started, f"{type(err).__name__}: {err}"
    return run.name, time.perf_counter() - started, None


def rescore_one(
    run: PlannedRun, trained: PlannedRun, threads: int
) -> tuple[str, float, str | None]:
    """Score `run` from the weights of `trained`, the run it differs from only in test-time keys
    (`ccrkit.train.retest`); returns (name, seconds, error) as `train_one` does."""
    torch.set_num_threads(threads)
    started = time.perf_counter()
    if not is_done(trained):
        return run.name, 0.0, f"not scored: {trained.name}, whose weights it shares, did not finish"
    try:
        retest_from_config(run.config, run.run_dir, trained.run_dir)
    except Exception as err:
        return run.name, time.perf_counter() - started, f"{type(err).__name__}: {err}"
    return run.name, time.perf_counter() - started, None


def execute(
    runs: list[PlannedRun], jobs: int = 1, threads: int = 2, progress: bool = True,
    force: bool = False,
) -> dict[str, str]:  # fmt: skip
    """Train every run that is not done yet, and score each run that differs from a trained one
    only at test time from its weights: first those whose weights exist (minutes each), the others
    after the training. Returns {run name: error} of the failed ones."""
    todo = [run for run in runs if not is_done(run)]
    if not todo:
        return {}
    sources = rescored_from(runs)
    rescorings = [(rescore_one, run, sources[run.digest], threads) for run in todo
                  if run.digest in sources]  # fmt: skip
    ready = [task for task in rescorings if is_done(task[2])]
    later = [task for task in rescorings if not is_done(task[2])]
    trainings = [(train_one, run, threads, force) for run in todo if run.digest not in sources]
    bar = tqdm(total=len(todo), desc="report runs", disable=not progress)
    failures = _run_all(ready, jobs, bar)
    failures |= _run_all(trainings, jobs, bar)
    failures |= _run_all(later, jobs, bar)
    bar.close()
    return failures


def _run_all(tasks: list[tuple[Any, ...]], jobs: int, bar: tqdm) -> dict[str, str]:
    """Run `(function, *arguments)` tasks alone or `jobs` at a time in worker processes."""
    if not tasks:
        return {}
    if jobs == 1:
        return _collect((function(*arguments) for function, *arguments in tasks), bar)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, context, start_worker) as pool:
        futures = [pool.submit(function, *arguments) for function, *arguments in tasks]
        return _collect((f.result() for f in as_completed(futures)), bar)


def start_worker() -> None:
    """Set up a spawned worker: the CLI's allocator setting (a spawned process starts a fresh one,
    ccrkit.allocator), and an exit when the report process is gone. A report stopped by SIGTERM
    or SIGKILL (a scheduler's time limit, `kill PID`) would otherwise leave its workers training
    for as long as their runs take; they resume from their last epoch when the report runs again.
    """
    keep_freed_memory()
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: multiprocessing.process.BaseProcess) -> None:
    parent.join()  # returns when the parent process has ended, however it ended
    os._exit(1)


def _collect(results: Any, bar: tqdm) -> dict[str, str]:
    failures = {}
    for name, seconds, error in results:
        bar.update()
        tqdm.write(
            f"{'FAILED' if error else 'done'} {name} ({seconds:.0f} s){': ' + error if error else ''}"
        )
        if error:
            failures[name] = error
    return failures


def run_seconds(record: dict[str, Any]) -> float | None:
    """Wall-clock seconds of a recorded run (from its start and end times)."""
    try:
        started = datetime.fromisoformat(record["started"])
        ended = datetime.fromisoformat(record["ended"])
    except (KeyError, TypeError, ValueError):
        return None
    return (ended - started).total_seconds()
