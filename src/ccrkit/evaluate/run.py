"""`ccrkit evaluate --checkpoint RUN_DIR`: score a trained run on a data split with the protocol.

Reads the run's config, assets and checkpoint (`ccrkit.methods.load_method`), opens the split
through the data layer in every requested query language, and writes `run.json`, `results.md`
and per-query ranks to its own folder; with several languages also the cross-language row (MRV
t2v/v2t, std and var, and the spread of mR; `ccrkit.evaluate.crosslang`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ccrkit.config import build
from ccrkit.evaluate.crosslang import default_eval_langs
from ccrkit.evaluate.protocol import EvalConfig, evaluate_languages, write_results
from ccrkit.methods.checkpoint import load_method
from ccrkit.runs import run_record

log = logging.getLogger(__name__)


@dataclass
class CheckpointEval:
    """What to score: the run, which checkpoint, and the data (defaults: the run's own)."""

    run_dir: Path
    out: Path
    which: str = "best"
    data: str | None = None
    root: str | None = None
    split: str = "test"
    langs: Sequence[str] | None = None  # None: the run's own (data.eval_langs, else its default)
    weights: Sequence[float] | None = None
    device: str = "cpu"


def evaluate_checkpoint(request: CheckpointEval) -> dict[str, dict[str, float]]:
    from ccrkit.data import EVAL_ROLES, EvalDataset, check_files, load_data_spec

    device = torch.device(request.device)
    method, record = load_method(request.run_dir, request.which, device)
    trained = record.get("config") or {}
    data_cfg: dict[str, Any] = trained.get("data") or {}
    eval_cfg = build(EvalConfig, trained.get("eval") or {}, str(request.run_dir), "eval")
    name = request.data or data_cfg.get("name")
    langs = list(request.langs or run_langs(data_cfg))
    unseen = [lang for lang in langs if lang not in trained_langs(data_cfg)]
    if unseen:
        log.warning(
            "warning: %s: the model was trained on %s only; %s queries are zero-shot for it "
            "(expect lower scores)", request.run_dir, ", ".join(trained_langs(data_cfg)),
            ", ".join(unseen),
        )  # fmt: skip
    weights = list(request.weights) if request.weights is not None else eval_cfg.fusion_weights
    config = {
        "run_dir": str(request.run_dir), "checkpoint": request.which, "epoch": record.get("epoch"),
        "data": name, "root": request.root or data_cfg.get("root"), "split": request.split,
        "langs": langs, "fusion_weights": weights, "eval": trained.get("eval"),
    }  # fmt: skip
    with run_record(request.out, "evaluate", config) as run:
        spec = load_data_spec(name)
        feature = data_cfg.get("feature")
        check_files(spec, config["root"], {request.split: EVAL_ROLES}, langs, feature)
        datasets = {
            lang: EvalDataset(spec, config["root"], request.split, lang, feature) for lang in langs
        }
        results = evaluate_languages(
            method, datasets, weights, eval_cfg, device, ranks_dir=request.out / "ranks",
            progress=True,
        )  # fmt: skip
        run.metrics.update(results)
    title = f"{Path(request.run_dir).name} ({request.which}, epoch {record.get('epoch')}): {name} {request.split}"
    write_results(request.out / "results.md", results, title)
    return results


def trained_langs(data: dict[str, Any]) -> list[str]:
    """The caption languages a run saw in training: English and its MT target languages."""
    return [*dict.fromkeys(["en", *(data.get("target_langs") or [data.get("lang", "de")])])]


def run_langs(data: dict[str, Any]) -> list[str]:
    """The languages a run was validated and tested on, from its saved `data` config."""
    lang = data.get("lang", "de")
    return default_eval_langs(
        lang, data.get("target_langs") or [lang], data.get("eval_langs") or []
    )
