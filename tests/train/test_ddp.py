"""DDP on 2 CPU processes (gloo) under torchrun: the same loss and gradients as one process on
the concatenated batch, and a whole run with rank-0 checkpoints and results."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

WORKER = Path(__file__).parent / "ddp_worker.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ddp_step_equals_single_process_and_a_run_completes(tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        f"--master_port={free_port()}", "--master_addr=127.0.0.1", str(WORKER), str(tmp_path),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(WORKER.parent), env.get("PYTHONPATH")]))
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    for rank in (0, 1):
        step = json.loads((tmp_path / f"step-rank{rank}.json").read_text())
        assert step["ddp"].keys() == step["single"].keys() == {"info_nce/source", "info_nce/mt:de"}
        for name, value in step["single"].items():
            assert abs(step["ddp"][name] - value) < 1e-5, (rank, name, step)
        assert step["params_with_grad"] == step["params"]
        assert step["max_grad_diff"] < 1e-5, step
    main, other = (json.loads((tmp_path / f"run-rank{r}.json").read_text()) for r in (0, 1))
    assert main["epochs"] == other["epochs"] == 2
    assert main["examples"] == 96  # both processes together saw every example once
    assert "de native" in main["test"] and other["test"] == {}  # rank 0 evaluates
    assert (tmp_path / "run" / "checkpoints" / "best.json").is_file()
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "ok"
