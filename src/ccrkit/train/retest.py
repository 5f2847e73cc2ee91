"""Score a finished run again under a config that differs from its own only at test time.

A method's `TEST_TIME_KEYS` (NRCCR's `bn_stats`) are read by `before_test` and the test alone.
Training the same config and seed again to change one of them would rebuild the same weights
at the cost of a whole run; `retest_from_config` copies the run's checkpoints and assets into a
new run folder and runs the test there as training ends it (`before_test` included). The new
run.json says which run it was scored from and repeats that run's epochs and history, so the two
compare on exactly the same weights.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from torch.utils.data import DataLoader

from ccrkit.config import not_naming_paths, to_dict
from ccrkit.methods.checkpoint import ASSETS_DIR, CHECKPOINTS_DIR
from ccrkit.methods.registry import resolve_model
from ccrkit.runs import RUN_RECORD, claim_run_dir, run_record
from ccrkit.train.config import ResolvedRun, RunConfig, resolve_run
from ccrkit.train.distributed import DistEnv, resolve_device
from ccrkit.train.run import (
    OUTPUTS,
    build_run_method,
    open_run_data,
    test_best,
    training_batches,
    visual_dim,
)
from ccrkit.train.trainer import flatten_config

# logged, never learned from; not `NOT_NAMING` only because cached run names hash it
LOGGING_KEYS = ("train.log_every",)
# what a rescored run repeats from the run it was scored from (`run_training`'s summary)
TRAINING_SUMMARY = ("resumed", "epochs", "best_epoch", "best_score", "finish_reason", "history")


def retest_from_config(
    config: RunConfig | ResolvedRun, run_dir: str | Path, trained_dir: str | Path
) -> dict[str, dict[str, float]]:
    """Test the best checkpoint of the finished run in `trained_dir` under `config` (equal to
    its config but for the method's `TEST_TIME_KEYS`) in `run_dir`; returns the test metrics."""
    run = resolve_run(config)
    run_dir, trained_dir = Path(run_dir), Path(trained_dir)
    source = _finished_record(trained_dir)
    check_test_time_only(source["config"], to_dict(run.config), run, trained_dir)
    claim_run_dir(run_dir, OUTPUTS, force=True)
    for folder in (CHECKPOINTS_DIR, ASSETS_DIR):
        shutil.copytree(trained_dir / folder, run_dir / folder)
    data = open_run_data(run)
    if data.test is None:
        raise ValueError(f"{run_dir}: the config names no test split to score")
    env = DistEnv.from_environ()
    device = resolve_device(run.config.train.device, env)
    method = build_run_method(run, run_dir, data.train, {"visual_dim": visual_dim(data.train)}, env)
    loader = DataLoader(
        data.train, batch_size=run.config.train.batch_size, collate_fn=data.collate(method.tokenize)
    )

    def batches() -> Any:
        return training_batches(data.train, loader, device)

    with run_record(run_dir, "train", run.config, run.config.seed) as record:
        record.extra.update({key: source[key] for key in TRAINING_SUMMARY if key in source})
        record.extra["retest_of"] = str(trained_dir)
        record.save()
        results = test_best(method, data.test, run.config, run_dir, device, batches, record)
        record.metrics.update(results)
    return results


def _finished_record(trained_dir: Path) -> dict[str, Any]:
    path = trained_dir / RUN_RECORD
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: cannot read the trained run's record ({err})") from None
    if record.get("status") != "ok" or not (trained_dir / CHECKPOINTS_DIR).is_dir():
        raise ValueError(f"{trained_dir}: not a finished run (status {record.get('status')!r})")
    return record


def check_test_time_only(
    trained: dict[str, Any], wanted: dict[str, Any], run: ResolvedRun, trained_dir: Path
) -> None:
    """Refuse a config that differs from the trained run's in a key training reads, naming it.
    The method and encoder sections are compared with their defaults filled in; a key of the
    other sections that the trained run's record lacks (added to the code since) is not."""
    free = {f"method.{key}" for key in run.model.method.entry.TEST_TIME_KEYS}
    free |= not_naming_paths(run.config) | set(LOGGING_KEYS)  # how a run is shown or how fast
    saved = resolve_model(trained, str(trained_dir / RUN_RECORD))
    old = flatten_config({**trained, **saved.sections()})
    new = flatten_config({**wanted, **run.model.sections()})
    for key in sorted(old.keys() & new.keys()):
        if key not in free and old[key] != new[key]:
            raise ValueError(
                f"{trained_dir}: cannot be scored under this config: {key} is {old[key]!r} "
                f"there and {new[key]!r} here, and training reads it (only "
                f"{', '.join(sorted(free))} may differ)"
            )
