"""The report's worker processes end with the report: a report killed by SIGTERM (a scheduler's
time limit, `kill PID`) must not leave its workers training on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

REPORT = """
import multiprocessing, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from ccrkit.report.execute import start_worker

if __name__ == "__main__":
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(1, context, start_worker)
    print(pool.submit(os.getpid).result(), flush=True)
    time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:  # a zombie is not alive
        return stat.read().split(") ")[-1][0] != "Z"


def test_workers_exit_when_the_report_process_is_killed(tmp_path) -> None:
    script = tmp_path / "report.py"
    script.write_text(REPORT)
    report = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert report.stdout is not None
        worker = int(report.stdout.readline())
        assert _alive(worker)
        report.send_signal(signal.SIGTERM)
        report.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker)
    finally:
        report.kill()
