"""`torchrun --nproc_per_node 2 -m ccrkit translate`: 2 gloo processes on CPU give the same files
as one process, a killed rank resumes without translating again, other rank counts are refused."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ccrkit.cli.main import main
from ccrkit.ranks import DistEnv, check_world_size, shard

HERE = Path(__file__).parent
TEXT = "worldimage/TextData"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


WORDS = ("a red dog runs", "two girls sit", "the old man holds", "a boy jumps over")
PLACES = ("on the beach", "in a park", "near a lake", "under a tree", "by the road")


@pytest.fixture
def roots(tmp_path) -> tuple[Path, Path]:
    """Two copies of a collection of 30 items x 2 English captions (20 distinct) + German ones."""
    english = [f"{w} {p}" for w in WORDS for p in PLACES]
    folder = tmp_path / "one" / TEXT
    folder.mkdir(parents=True)
    for tag, texts in (("enc", english), ("de", [f"ein Bild {k}" for k in range(60)])):
        lines = [f"img{k // 2:05d}#{tag}#{k % 2} {texts[k % len(texts)]}\n" for k in range(60)]
        (folder / f"worldimagetrain_{tag}.caption.txt").write_text("".join(lines), "utf-8")
    shutil.copytree(tmp_path / "one", tmp_path / "two")
    return tmp_path / "one", tmp_path / "two"


def argv(root: Path, *extra: str) -> list[str]:
    return ["translate", "--data", "world-image", "--root", str(root), "--split", "train",
            "--tgt", "de", "--backend", "reverse-words", "--back", "--no-progress",
            "--cache", str(root / "cache.sqlite"), "--out", str(root / "run"),
            "plugins=[shard_backend]", *extra]  # fmt: skip


def env_for(log: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SHARD_TEST_LOG": str(log), **extra}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    return env


def torchrun(root: Path, ranks: int, log: Path, *extra: str, **environ: str):
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={ranks}",
               f"--master_port={free_port()}", "--master_addr=127.0.0.1", "-m", "ccrkit",
               *argv(root, *extra)]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env=env_for(log, **environ))  # fmt: skip


def outputs(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / TEXT).iterdir()) if p.is_file()}


def translated(log: Path) -> list[tuple[str, str]]:
    lines = log.read_text("utf-8").splitlines() if log.exists() else []
    return [tuple(line.split("\t", 1)) for line in lines]  # type: ignore[misc]


def test_two_ranks_write_the_bytes_one_process_writes(roots, monkeypatch):
    one, two = roots
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("SHARD_TEST_LOG", str(one / "log"))
    assert main(argv(one)) == 0
    done = torchrun(two, 2, two / "log")
    assert done.returncode == 0, done.stderr[-3000:]
    assert outputs(two) == outputs(one)  # enc2de, enc2de2enc, de2enc, round-trip scores
    written = {
        f"worldimagetrain_synthetic_{t}.caption.txt" for t in ("enc2de", "enc2de2enc", "de2enc")
    }
    assert written <= set(outputs(two))
    assert not list((two / TEXT).glob(".*.shards"))  # merged and cleaned up
    work = translated(two / "log")
    assert {rank for rank, _ in work} == {"0", "1"}  # both ranks translated
    assert sorted(text for _, text in work) == sorted(text for _, text in translated(one / "log"))
    metrics = json.loads((two / "run" / "run.json").read_text())["metrics"]
    assert metrics["train/enc2de"]["translated"] == 20 and metrics["train/enc2de"]["unique"] == 20


def test_a_killed_rank_resumes_and_other_rank_counts_are_refused(roots, monkeypatch, capsys):
    one, two = roots
    log = two / "log"
    killed = torchrun(two, 2, log, SHARD_TEST_DIE="1:6")  # rank 1 dies after 6 texts
    assert killed.returncode != 0
    before = translated(log)
    assert [t for r, t in before if r == "1"] and len([t for r, t in before if r == "1"]) == 6
    for name, value in {"RANK": "0", "WORLD_SIZE": "3", "SHARD_TEST_LOG": str(log)}.items():
        monkeypatch.setenv(name, value)  # rank 0 of 3: refused before it joins any group
    monkeypatch.syspath_prepend(str(HERE))
    assert main(argv(two)) == 2
    assert "shards of an unfinished run with 2 ranks, and this run has 3" in capsys.readouterr().err
    assert translated(log) == before  # nothing translated by the refused run
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    resumed = torchrun(two, 2, log)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    english = {f"{w} {p}" for w in WORDS for p in PLACES}
    forward = [text for _, text in translated(log) if text in english]
    assert sorted(forward) == sorted(english)  # every English caption translated exactly once
    monkeypatch.setenv("SHARD_TEST_LOG", str(one / "log"))
    assert main(argv(one)) == 0
    assert outputs(two) == outputs(one)


def test_shares_are_fixed_by_order_and_rank_count(tmp_path):
    items = list(range(10))
    assert [shard(items, DistEnv(r, 3)) for r in range(3)] == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    (tmp_path / "rank-0-of-2.sqlite").touch()
    check_world_size(tmp_path, DistEnv(1, 2))
    with pytest.raises(ValueError, match="unfinished run with 2 ranks, and this run has 4"):
        check_world_size(tmp_path, DistEnv(0, 4))
