"""`ccrkit evaluate --checkpoint RUN_DIR`: score a trained run on a data split with the protocol.

Reads the run's config, assets and checkpoint (`ccrkit.methods.load_method`), opens the split
through the data layer, and writes `run.json`, `results.md` and per-query ranks to its own folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ccrkit.config import build
from ccrkit.evaluate.protocol import EvalConfig, evaluate_method, write_results
from ccrkit.methods.checkpoint import load_method
from ccrkit.runs import run_record


@dataclass
class CheckpointEval:
    """What to score: the run, which checkpoint, and the data (defaults: the run's own)."""

    run_dir: Path
    out: Path
    which: str = "best"
    data: str | None = None
    root: str | None = None
    split: str = "test"
    lang: str | None = None
    weights: Sequence[float] | None = None
    device: str = "cpu"


def evaluate_checkpoint(request: CheckpointEval) -> dict[str, dict[str, float]]:
    from ccrkit.data import EvalDataset, load_data_spec

    device = torch.device(request.device)
    method, record = load_method(request.run_dir, request.which, device)
    trained = record.get("config") or {}
    data_cfg: dict[str, Any] = trained.get("data") or {}
    eval_cfg = build(EvalConfig, trained.get("eval") or {}, str(request.run_dir), "eval")
    name = request.data or data_cfg.get("name")
    lang = request.lang or data_cfg.get("lang", "de")
    weights = list(request.weights) if request.weights is not None else eval_cfg.fusion_weights
    config = {
        "run_dir": str(request.run_dir), "checkpoint": request.which, "epoch": record.get("epoch"),
        "data": name, "root": request.root or data_cfg.get("root"), "split": request.split,
        "lang": lang, "fusion_weights": weights, "eval": trained.get("eval"),
    }  # fmt: skip
    with run_record(request.out, "evaluate", config) as run:
        dataset = EvalDataset(
            load_data_spec(name), config["root"], split=request.split, lang=lang,
            feature=data_cfg.get("feature"),
        )  # fmt: skip
        results = evaluate_method(
            method,
            dataset,
            lang,
            weights,
            eval_cfg,
            device,
            ranks_dir=request.out / "ranks",
            progress=True,
        )
        run.metrics.update(results)
    title = f"{Path(request.run_dir).name} ({request.which}, epoch {record.get('epoch')}): {name} {request.split}"
    write_results(request.out / "results.md", results, title)
    return results
