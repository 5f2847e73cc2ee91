"""`index build` and `ccrkit world` killed at random moments never leave a folder that a later
`serve` or `train` opens as if complete (issue 23). Bounded: a few SIGKILLs each, timed at random
(seeded) within the writing; the trials run in `killed_build_scenarios.py`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("killed_build_scenarios.py")


def trials(kind: str, folder: Path, count: int, seed: int) -> list[dict]:
    done = subprocess.run([sys.executable, str(SCRIPT), kind, str(folder), str(count), str(seed)],
                          capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).parent.parent)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_a_killed_index_build_leaves_no_index_that_opens_half_built(tmp_path):
    results = trials("index", tmp_path, 8, seed=23)
    killed, final = results[:-1], results[-1]
    assert len(killed) == 8
    assert all(r["index"] in ("absent", "complete") for r in killed), killed
    assert final["after_a_finished_build"] == []  # the leftovers of killed builds are gone


def test_a_killed_world_is_refused_by_train_and_data_check(tmp_path):
    results = trials("world", tmp_path, 3, seed=7)
    assert len(results) == 3
    for result in results:
        if result["world"] == "complete":
            assert result["check_ok"], result
            continue
        assert "unfinished data: world.json" in result["check"][0], result
        assert "unfinished data: world.json" in result["train"], result
        if "again" in result:  # some of its files were written: `ccrkit world` says so
            assert result["again_status"] == 2 and "holds an unfinished world" in result["again"]
