"""Writes that run out of room, run by `test_full_disk.py` in a child process whose target folder
is a small tmpfs (or, where no tmpfs can be mounted, whose files are capped by RLIMIT_FSIZE).

`python tests/full_disk_scenarios.py DIR OUTSIDE SCENARIO...` writes into DIR (the small
filesystem), keeps inputs in OUTSIDE (a normal folder) and prints one JSON object per scenario:
what was raised and what was left on disk.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import numpy as np
import torch

from ccrkit.runs import DiskFullError


def leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def outcome(err: BaseException | None) -> dict:
    return {"raised": type(err).__name__ if err else None, "message": str(err) if err else ""}


def checkpoint(small: Path, outside: Path) -> dict:
    from ccrkit.methods.checkpoint import checkpoint_path, read_checkpoint, write_checkpoint

    run = small / "run"
    write_checkpoint(run, "last", {"epoch": 1}, {"model.w": torch.ones(16)})
    before = leftovers(run)
    err = None
    try:  # 8 MB of tensors: more than the filesystem holds
        write_checkpoint(run, "last", {"epoch": 2}, {"model.w": torch.ones(2 * 2**20)})
    except DiskFullError as caught:
        err = caught
    epoch = read_checkpoint(checkpoint_path(run, "last"))[0]["epoch"]
    return {**outcome(err), "kept_epoch": epoch, "same_files": leftovers(run) == before}


def index(small: Path, outside: Path) -> dict:
    from ccrkit.index import SearchIndex, build_index
    from ccrkit.index.toy import ToyModel, VectorGallery

    rng = np.random.default_rng(0)
    out = small / "index"
    build_index(ToyModel(), VectorGallery(outside, rng.random((100, 64), np.float32)), out,
                progress=False)  # fmt: skip
    err = None
    try:  # 40,000 x 64 floats: 10 MB of vectors
        big = VectorGallery(outside, rng.random((40_000, 64), np.float32))
        build_index(ToyModel(), big, out, force=True, progress=False)
    except DiskFullError as caught:
        err = caught
    kept = SearchIndex(out)
    count = len(kept)
    kept.close()
    return {**outcome(err), "kept_count": count, "files": leftovers(small)}


def cache(small: Path, outside: Path) -> dict:
    from ccrkit.translate.backend import Output
    from ccrkit.translate.cache import TranslationCache

    path = small / "cache" / "translations.sqlite"
    with TranslationCache(path) as db:
        key = db.register({"backend": "test"})
        db.put_many(key, [(f"sentence {i}", Output(f"Satz {i}")) for i in range(100)])
    err = None
    with TranslationCache(path) as db:
        try:  # 8 MB of translations in one batch
            db.put_many(key, [(f"long {i} " + "x" * 8000, Output("y" * 8000)) for i in range(500)])
        except DiskFullError as caught:
            err = caught
    with TranslationCache(path) as db:
        return {**outcome(err), "kept_rows": db.count(key), "intact": db.integrity_ok()}


def world(small: Path, outside: Path) -> dict:
    from ccrkit.cli.main import main
    from ccrkit.world.world import world_files

    root = small / "world"
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        status = main(["world", "--config", "world-tiny", "--out", str(root), "--quiet",
                       "image.train=40", "image.val=10", "image.test=10", "video.train=10",
                       "video.val=6", "video.test=6", "backbone.epochs=1"])  # fmt: skip
    lines = [line for line in stderr.getvalue().splitlines() if line.strip()]
    record = json.loads((root / "run.json").read_text()) if (root / "run.json").is_file() else {}
    return {
        "status": status, "stderr": lines,
        "world_files": [str(p) for p in world_files(root) if p.exists()],
        "record_status": record.get("status"),
    }  # fmt: skip


SCENARIOS = {"checkpoint": checkpoint, "index": index, "cache": cache, "world": world}


def main() -> None:
    small, outside = Path(sys.argv[1]), Path(sys.argv[2])
    for name in sys.argv[3:]:
        folder = small / name
        folder.mkdir()
        print(json.dumps({"scenario": name, **SCENARIOS[name](folder, outside)}), flush=True)


if __name__ == "__main__":
    main()
