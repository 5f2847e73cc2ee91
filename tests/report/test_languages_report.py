"""`ccrkit report` with training modes and cross-language tables on a tiny grid: separate and joint
runs, per-language mR, MRV (from the separate runs' rank files combined per seed, and from the
joint run), the language plot, and the comparison README that includes the page."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from ccrkit.cli.main import main
from ccrkit.config import ConfigError
from ccrkit.evaluate.crosslang import LanguageRanks, cross_language_metrics
from ccrkit.report import load_grid, run_report
from ccrkit.report.execute import read_record

TESTS = Path(__file__).parent.parent
TINY = [
    "train.epochs=1", "train.batch_size=8", "train.progress=false", "train.tensorboard=false",
    "train.device=cpu", "eval.batch_size=8", "text_encoder.name=builtin", "text_encoder.dim=16",
    "text_encoder.layers=1",
    "text_encoder.heads=2", "text_encoder.ffn_dim=32", "text_encoder.vocab_size=150",
    "visual_encoder.hidden=16", "method.embed_dim=16",
]  # fmt: skip


def build_world(root: Path) -> Path:
    spec = importlib.util.spec_from_file_location(
        "data_conftest_lr", TESTS / "data" / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.build_world(root)


def grid_file(tmp_path: Path, **experiment: object) -> Path:
    grid = {
        "name": "ml", "title": "Languages grid", "out": str(tmp_path / "results"),
        "runs_dir": str(tmp_path / "runs"), "threads": 1, "overrides": TINY,
        "world": {"roots": [{"noise": 0.1, "root": str(build_world(tmp_path / "world"))}],
                  "default_noise": 0.1},
        "methods": {"baseline": {"config": "baseline-world", "label": "baseline"},
                    "one_to_k": {"config": "one-to-k-world", "label": "1-to-K"}},
        "experiments": [{"name": "languages", "methods": ["baseline", "one_to_k"],
                         "langs": ["de", "fr"], "training": ["separate", "joint"],
                         "seeds": [0, 1], "cross_language": True, **experiment}],
    }  # fmt: skip
    path = tmp_path / "ml.yaml"
    path.write_text(yaml.safe_dump(grid), encoding="utf-8")
    return path


def test_separate_and_joint_runs_with_mrv(tmp_path: Path, capsys) -> None:
    path = grid_file(tmp_path)
    assert main(["report", "--grid", str(path), "--dry-run"]) == 0
    # 2 methods x (de, fr separately + one joint de+fr) x 2 seeds
    assert "12 runs, 12 to train" in capsys.readouterr().out
    outcome = run_report(load_grid(path), str(path), progress=False)
    assert outcome.failures == {}
    joint = [r for r in outcome.runs if r.key.training == "joint"]
    assert len(joint) == 4 and all(r.key.lang == "de+fr" for r in joint)
    assert read_record(joint[0])["config"]["data"]["target_langs"] == ["de", "fr"]

    rows = outcome.languages["languages"]
    assert [(r.method, r.training) for r in rows] == [
        ("baseline", "separate"), ("baseline", "joint"), ("one_to_k", "separate"),
        ("one_to_k", "joint"),
    ]  # fmt: skip
    assert all(r.seeds == 2 and not r.missing for r in rows)
    # separate: seed 0's MRV combines the de run's and the fr run's rank files
    separate = {r.key.lang: r for r in outcome.runs
                if r.key.method == "baseline" and r.key.training == "separate" and r.key.seed == 0}  # fmt: skip
    ranks, mr = [], {}
    for lang in ("de", "fr"):
        ranks.append(LanguageRanks.load(separate[lang].run_dir / "ranks", f"{lang}_native.", lang))
        mr[lang] = read_record(separate[lang])["metrics"][f"{lang} native"]["mr"]
    expected = cross_language_metrics(ranks, mr)
    assert rows[0].values["t2v_mrv_std"][0] == pytest.approx(expected["t2v_mrv_std"])
    assert rows[0].values["v2t_mrv_var"][0] == pytest.approx(expected["v2t_mrv_var"])
    assert rows[0].mr["fr"][0] == pytest.approx(mr["fr"])

    results = tmp_path / "results"
    page = (results / "ml.md").read_text()
    assert "| method | training | lang | MT noise |" in page  # the SumR table, a row per language
    assert "| 1-to-K | joint | fr | 0.1 |" in page
    assert (
        "| method | training | MT noise | mR de | mR fr | mR mean | mR spread (std) | seeds |"
        in page
    )
    assert (
        "Δ t2v MRV vs separate" in page
        and "![languages-languages](ml-languages-languages.png)" in page
    )
    assert (results / "ml-languages-languages.png").read_bytes()[:4] == b"\x89PNG"
    data = json.loads((results / "ml.json").read_text())
    row = data["cross_language"]["languages"][1]
    assert row["training"] == "joint" and len(row["values"]["t2v_mrv_std"]) == 2
    assert row["item_rank_spread"]["t2v"]["median"] >= 0
    index = (results / "README.md").read_text()
    assert "## Languages grid" in index and "### languages" in index  # the page, included whole
    assert "| 1-to-K | joint | fr | 0.1 |" in index and "epoch(s) each" in index
    (results / "README.md").unlink()  # e.g. a merge conflict: rebuilt from the pages alone
    assert main(["report", "--index", str(results)]) == 0
    assert (results / "README.md").read_text() == index


def test_joint_training_needs_several_languages(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="joint training and cross_language need two or more"):
        load_grid(grid_file(tmp_path, langs=["de"]))
    with pytest.raises(ConfigError, match="training must list distinct modes"):
        load_grid(grid_file(tmp_path, training=["separate", "together"]))


def test_the_multilingual_world_grid_resolves_every_run(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    grid = load_grid(
        "multilingual-world", [f"world.roots=[{{noise: 0.3, root: '{tmp_path / 'w'}'}}]"]
    )
    outcome = run_report(grid, "multilingual-world", dry_run=True)
    # joint: 1-to-K and its matched baseline x 3 seeds; separate: the matched baseline x 5 langs
    # x 3 seeds
    assert len(outcome.runs) == 2 * 3 + 5 * 3
    methods = {r.config.method["name"] for r in outcome.runs}
    assert methods == {"baseline", "one_to_k"}
    joint = [r for r in outcome.runs if r.key.training == "joint"]
    assert all(r.config.data.target_langs == ["de", "fr", "cs", "zh", "ja"] for r in joint)
