"""The real Multi30K pipeline in CI (`make rehearsal` runs the same function): real task 1 text,
stand-in image features, every stage from `data check` to a German query answered over HTTP."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from rehearse import SIZES, STANDIN, find_multi30k, rehearse

SHARED = find_multi30k()
pytest.importorskip("transformers")
pytest.importorskip("sentencepiece")


@pytest.mark.skipif(
    SHARED is None, reason="the shared Multi30K copy (../shared/data/multi30k) is absent"
)
def test_every_stage_runs_on_the_real_multi30k_text(tmp_path):
    work = tmp_path / "rehearsal"
    summary = rehearse(SHARED, work)
    assert json.loads((work / "rehearsal.json").read_text(encoding="utf-8")) == summary
    mt = summary["translate"]["train/enc2de"]
    assert (
        mt["cached"] > 0 and mt["cached"] + mt["translated"] == mt["unique"]
    )  # resumed, not redone
    test_ids = (
        (work / "VisualSearch/multi30k/FeatureData" / STANDIN / "test_id_2016.txt")
        .read_text()
        .split()
    )
    assert len(test_ids) == SIZES["test"] and summary["serve"]["results"]
    assert set(summary["serve"]["results"]) <= set(test_ids)
    assert summary["serve"]["query"].startswith("Ein ")  # a real German test caption
    for run in ("train", "imported"):
        record = json.loads((work / "runs" / f"evaluate-{run}" / "run.json").read_text())
        assert record["status"] == "ok" and "de native" in record["metrics"]
    stand_in = (work / "VisualSearch/multi30k/FeatureData" / STANDIN / "STAND-IN.txt").read_text()
    assert "random numbers, not image features" in stand_in
