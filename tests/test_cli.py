"""The command line: one-line errors with status 2, run records, and the evaluate command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ccrkit.cli.main import main
from ccrkit.evaluate.metrics import retrieval_metrics


def test_evaluate_writes_run_record_and_ranks(tmp_path, capsys):
    sim = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.8, 0.2]])
    np.save(tmp_path / "sim.npy", sim)
    np.save(tmp_path / "q.npy", np.array([0, 0, 1, 1]))
    out = tmp_path / "run"
    status = main(["evaluate", "--sim", str(tmp_path / "sim.npy"), "--query-item",
                   str(tmp_path / "q.npy"), "--out", str(out), "--save-ranks"])  # fmt: skip
    assert status == 0
    assert "| sim.npy |" in capsys.readouterr().out
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "ok" and record["command"] == "evaluate"
    assert record["metrics"]["sim.npy"] == pytest.approx(retrieval_metrics(sim, [0, 0, 1, 1]))
    assert {"torch", "numpy", "python"} <= set(record["versions"])
    assert record["started"] and record["ended"]
    np.testing.assert_array_equal(np.load(out / "t2v_ranks.npy"), [1, 2, 1, 2])


def test_evaluate_fusion_records_weights(tmp_path):
    for name, seed in (("a.npy", 0), ("b.npy", 1)):
        np.save(tmp_path / name, np.random.default_rng(seed).random((6, 3)))
    np.save(tmp_path / "q.npy", np.repeat(np.arange(3), 2))
    out = tmp_path / "run"
    argv = ["evaluate", "--sim", str(tmp_path / "a.npy"), "--sim", str(tmp_path / "b.npy"),
            "--weights", "0.2,0.8", "--query-item", str(tmp_path / "q.npy"), "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert json.loads((out / "run.json").read_text())["config"]["weights"] == [0.2, 0.8]


@pytest.mark.parametrize(
    ("sim", "query_item", "message"),
    [
        (np.eye(3), np.array([0, 1, 5]), "out of range"),
        (np.array([[np.nan]]), np.array([0]), "NaN"),
        (b"not a numpy file", np.array([0]), "not a readable NumPy"),
    ],
)
def test_bad_input_is_one_line_and_status_2(tmp_path, capsys, sim, query_item, message):
    sim_path = tmp_path / "sim.npy"
    if isinstance(sim, bytes):
        sim_path.write_bytes(sim)
    else:
        np.save(sim_path, sim)
    np.save(tmp_path / "q.npy", query_item)
    argv = ["evaluate", "--sim", str(sim_path), "--query-item", str(tmp_path / "q.npy"),
            "--out", str(tmp_path / "run")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_missing_file_is_a_clear_error(tmp_path, capsys):
    argv = ["evaluate", "--sim", str(tmp_path / "none.npy"), "--query-item", "q.npy",
            "--out", str(tmp_path / "run")]  # fmt: skip
    assert main(argv) == 2
    assert "none.npy: file not found" in capsys.readouterr().err


def test_example_and_version(tmp_path, capsys):
    assert main(["evaluate", "--example", "--out", str(tmp_path / "ex")]) == 0
    assert "built-in example" in capsys.readouterr().out
    assert main(["version"]) == 0
    assert "torch" in capsys.readouterr().out
