"""Builds killed at random moments, run by `test_killed_builds.py` in a child process.

`python tests/killed_build_scenarios.py index|world FOLDER TRIALS SEED` imports everything once,
then per trial forks a process (in its own process group) that builds an index or a world into
FOLDER, SIGKILLs the group at a random moment of the writing, and checks what a later reader
finds: nothing, or something complete — never a folder opened as if complete. Prints one JSON
object per trial.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import sys
import time
from pathlib import Path

import faiss
import numpy as np

faiss.omp_set_num_threads(1)  # OpenMP threads do not survive fork(); keep to one


def kill_at_random(build, started, seconds: float, rng: random.Random) -> float:
    """Fork `build()`; once `started()` holds, wait a random part of `seconds`, then SIGKILL the
    child's process group (its own workers too). Returns the delay used."""
    pid = os.fork()
    if pid == 0:  # the child: build, then leave without running the parent's cleanup
        os.setpgid(0, 0)
        try:
            build()
        finally:
            os._exit(0)
    deadline = time.monotonic() + 120
    while not started() and time.monotonic() < deadline:
        time.sleep(0.01)
    delay = rng.uniform(0, seconds)
    time.sleep(delay)
    with contextlib.suppress(ProcessLookupError):  # finished before the kill
        os.killpg(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return delay


def index_trials(folder: Path, trials: int, rng: random.Random) -> None:
    from ccrkit.index import SearchIndex, build_index
    from ccrkit.index.toy import ToyModel, VectorGallery

    count = 20_000
    gallery = VectorGallery(folder, np.random.default_rng(0).random((count, 64), np.float32))
    out, marker = folder / "index", folder / "started"

    def build() -> None:
        marker.touch()
        for _ in range(3):  # a few builds in a row: kills land in every phase of one
            build_index(ToyModel(), gallery, out, force=True, progress=False)

    for trial in range(trials):
        marker.unlink(missing_ok=True)
        if trial % 2 == 0 and out.exists():  # half the trials build where no index was
            shutil.rmtree(out)
        delay = kill_at_random(build, marker.exists, 1.5, rng)
        state = "absent"
        if out.exists():
            opened = SearchIndex(out)  # raises if the folder is not a whole index
            state = "complete" if len(opened) == opened.faiss.ntotal == count else "wrong count"
            opened.close()
        staging = sorted(p.name for p in folder.glob(".index.building-*"))
        print(json.dumps({"trial": trial, "delay": round(delay, 3), "index": state,
                          "staging_left": len(staging)}), flush=True)  # fmt: skip
    build_index(ToyModel(), gallery, out, force=True, progress=False)
    left = sorted(p.name for p in folder.glob(".index.*"))
    print(json.dumps({"after_a_finished_build": left}), flush=True)


WORLD_ARGS = ["--config", "world-tiny", "--quiet", "image.train=40", "image.val=10",
              "image.test=10", "video.train=10", "video.val=6", "video.test=6",
              "backbone.epochs=1"]  # fmt: skip


def world_trials(folder: Path, trials: int, rng: random.Random) -> None:
    import io

    from ccrkit.cli.main import main
    from ccrkit.data import DataError, TrainDataset, check_data, load_data_spec
    from ccrkit.world.world import world_files

    root = folder / "world"
    spec = load_data_spec("world-image")

    def build() -> None:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            main(["world", "--out", str(root), "--force", *WORLD_ARGS])

    for trial in range(trials):
        record = root / "run.json"
        record.unlink(missing_ok=True)
        delay = kill_at_random(build, record.exists, 5.0, rng)
        result: dict = {"trial": trial, "delay": round(delay, 3)}
        if (root / "world.json").is_file():
            result["world"] = "complete"
            result["check_ok"] = check_data(spec, root, ["train"]).ok
        else:
            result["world"] = "unfinished"
            result["check"] = [str(p) for p in check_data(spec, root).problems][:1]
            try:
                TrainDataset(spec, root, "train", ["de"], ("mt",))
                result["train"] = "opened"
            except DataError as err:
                result["train"] = str(err)
            if any(p.exists() for p in world_files(root)):
                stderr = io.StringIO()
                with contextlib.redirect_stderr(stderr):
                    result["again_status"] = main(["world", "--out", str(root), *WORLD_ARGS])
                result["again"] = stderr.getvalue().strip()
        print(json.dumps(result), flush=True)


def main() -> None:
    kind, folder, trials, seed = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    {"index": index_trials, "world": world_trials}[kind](folder, trials, rng)


if __name__ == "__main__":
    main()
