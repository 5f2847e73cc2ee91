"""`ccrkit report` on a tiny grid over two miniature worlds: runs, cache, tables, plot, index;
a variant that differs only at test time (NRCCR's `bn_stats`), scored from the trained weights."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from ccrkit.cli.main import main
from ccrkit.config import ConfigError
from ccrkit.methods.checkpoint import CHECKPOINTS_DIR, read_checkpoint
from ccrkit.report import estimate_grid, load_grid, plan_grid, run_report
from ccrkit.report.aggregate import Row, epochs_cell, is_still_improving, markdown_table
from ccrkit.report.claims import claims_table
from ccrkit.report.compare import MATCHED, cells_needing_seeds, compare, pairs
from ccrkit.report.index import summary
from ccrkit.report.plan import PLAIN, plan_experiment, rescored_from
from ccrkit.report.spec import ExperimentSpec, GridSpec, MethodSpec
from ccrkit.runs import RUN_RECORD
from ccrkit.train.retest import retest_from_config

TESTS = Path(__file__).parent.parent
TINY = [
    "train.epochs=1", "train.batch_size=8", "train.progress=false", "train.tensorboard=false",
    "train.device=cpu", "eval.batch_size=8", "text_encoder.name=builtin", "text_encoder.dim=16",
    "text_encoder.layers=1",
    "text_encoder.heads=2", "text_encoder.ffn_dim=32", "text_encoder.vocab_size=150",
    "visual_encoder.hidden=16",
]  # fmt: skip
NRCCR_TINY = ["method.hidden=16", "method.heads=2", "method.qk_dim=8", "method.embed_dim=16"]


def build_world(root: Path) -> Path:
    spec = importlib.util.spec_from_file_location(
        "data_conftest_report", TESTS / "data" / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.build_world(root)


def write_grid(tmp_path: Path) -> Path:
    worlds = [{"noise": n, "root": str(build_world(tmp_path / f"world{n}"))} for n in (0.1, 0.3)]
    grid = {
        "name": "tiny", "title": "Tiny grid", "out": str(tmp_path / "results"),
        "runs_dir": str(tmp_path / "runs"), "threads": 1, "overrides": TINY,
        "world": {"roots": worlds, "default_noise": 0.3},
        "methods": {
            "baseline": {"config": "baseline-world", "overrides": ["method.embed_dim=16"]},
            "nrccr": {"config": "nrccr-world", "overrides": NRCCR_TINY, "label": "NRCCR"},
        },
        "experiments": [
            {"name": "noise", "methods": ["baseline", "nrccr"], "noise": [0.1, 0.3],
             "seeds": [0, 1], "plot": True},
            {"name": "ablation", "methods": ["nrccr"], "seeds": [0, 1], "reference": "full",
             "variants": {"full": [], "no_bt": ["method.back_translation=false"]}},
        ],
    }  # fmt: skip
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(grid), encoding="utf-8")
    return path


def test_tiny_grid_end_to_end_and_cached(tmp_path: Path, capsys) -> None:
    path = write_grid(tmp_path)
    assert main(["report", "--grid", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    # noise: 2 methods x 2 levels x 2 seeds = 8; ablation at 0.3: 2 variants x 2 seeds, "full"
    # at 0.3 is the noise experiment's NRCCR run (same config hash) -> 2 new
    assert "10 runs, 10 to train" in out
    outcome = run_report(load_grid(path), str(path), progress=False)
    assert outcome.failures == {} and len(outcome.runs) == 10
    results = tmp_path / "results"
    page = (results / "tiny.md").read_text()
    assert "| NRCCR | de | 0.3 |" in page and "![noise](tiny-noise.png)" in page
    assert "| NRCCR | no_bt | de | 0.3 |" in page and "Δ native vs full" in page
    assert (results / "tiny-noise.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((results / "tiny.json").read_text())
    rows = data["experiments"]["noise"]
    assert len(rows) == 4 and all(len(r["native"]) == 2 and r["missing"] == 0 for r in rows)
    assert all(r["native_std"] is not None for r in rows)
    assert all(len(r["english"]) == 2 for r in rows)  # the English source captions, per seed
    assert "[Tiny grid](tiny.md)" in (results / "README.md").read_text()
    # a rerun trains nothing: every run is found by its config hash
    capsys.readouterr()
    assert main(["report", "--grid", str(path), "--dry-run"]) == 0
    assert "10 runs, 0 to train" in capsys.readouterr().out


def test_markdown_table_mean_std_and_delta() -> None:
    grid = GridSpec(name="g", methods={"m": MethodSpec(config="x")},
                    experiments=[ExperimentSpec(name="e", methods=["m"], noise=[0.1])])  # fmt: skip
    experiment = ExperimentSpec(name="e", methods=["m"], noise=[0.1], reference="full",
                                variants={"full": [], "off": []})  # fmt: skip
    rows = [Row("m", "M", "full", "de", 0.1, native=[100.0, 110.0], fused=[120.0, 124.0]),
            Row("m", "M", "off", "de", 0.1, native=[90.0, 96.0, 99.0], missing=1)]  # fmt: skip
    table = markdown_table(grid, experiment, rows)
    # mean 105, sample std sqrt(50) = 7.07; fused 122 ± 2.83; off: 95 ± 4.58, Δ −10
    assert "| M | full | de | 0.1 | 105.0 ± 7.1 | 122.0 ± 2.8 | +0.0 | 2 | – |" in table
    assert "| M | off | de | 0.1 | 95.0 ± 4.6 | – | -10.0 | 3 (1 missing) | – |" in table
    one_seed = [Row("m", "M", "full", "de", 0.1, native=[101.0], fused=[120.0])]
    assert "| M | full | de | 0.1 | 101.0 | 120.0 | +0.0 | 1 | – |" in markdown_table(
        grid, experiment, one_seed
    )  # a single seed has no spread: no "± 0.0"


def test_english_sumr_is_shown_and_compared_but_asks_for_no_seeds() -> None:
    """English queries explain a fused gain; no claim rests on them, so an English comparison
    within two standard deviations must not send the grid back for more seeds."""
    experiment = ExperimentSpec(name="e", methods=["m"], noise=[0.1], reference="full",
                                variants={"full": [], "off": []}, more_seeds=[3, 4])  # fmt: skip
    grid = GridSpec(name="g", methods={"m": MethodSpec(config="x")}, experiments=[experiment])
    rows = [Row("m", "M", "full", "de", 0.1, native=[100.0, 110.0, 105.0],
                english=[100.0, 102.0, 104.0]),
            Row("m", "M", "off", "de", 0.1, native=[200.0, 210.0, 205.0],
                english=[101.0, 103.0, 105.0])]  # fmt: skip
    table = markdown_table(grid, experiment, rows)
    assert "| SumR English |" in table
    assert "| M | full | de | 0.1 | 105.0 ± 5.0 | – | 102.0 ± 2.0 | +0.0 | 3 | – | – |" in table
    comparisons = compare(grid, experiment, rows)
    assert [(c.query, c.test.estimate) for c in comparisons] == [
        ("native", 100.0),
        ("english", 1.0),
    ]
    assert cells_needing_seeds(experiment, comparisons) == set()  # Δ English 1 < 2 sd, ignored
    rows[1].native = [101.0, 111.0, 106.0]  # now the native cell is within two sd
    assert cells_needing_seeds(experiment, compare(grid, experiment, rows)) != set()


def test_a_generic_baseline_that_is_the_matched_one_is_compared_once() -> None:
    methods = {"m": MethodSpec(config="x"), "m_tt": MethodSpec(matched="m")}
    experiment = ExperimentSpec(name="e", methods=["m_tt", "m"], noise=[0.1], baseline="m_tt")
    grid = GridSpec(name="g", methods=methods, experiments=[experiment])
    assert [(p.a, p.b, p.kind) for p in pairs(grid, experiment)] == [
        (("m", PLAIN), ("m_tt", PLAIN), MATCHED)
    ]


def test_epochs_cell_names_capped_runs_still_improving() -> None:
    capped = {"finish_reason": "reached train.epochs = 20", "epochs": 20}
    assert is_still_improving({**capped, "best_epoch": 20})
    assert not is_still_improving({**capped, "best_epoch": 18})  # capped, but past its best
    stopped = {"finish_reason": "early stop: 3 epochs without improvement", "epochs": 12}
    assert not is_still_improving({**stopped, "best_epoch": 12})
    row = Row("m", "M", "full", "de", 0.1, epochs=[16, 20, 20], capped=2, rising=1)
    assert epochs_cell(row) == "16–20 (2 capped, 1 still improving)"
    assert epochs_cell(Row("m", "M", "full", "de", 0.1, epochs=[20], capped=1)) == "20 (1 capped)"
    assert epochs_cell(Row("m", "M", "full", "de", 0.1, epochs=[9, 12])) == "9–12"


def test_bad_grids(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump({"name": "g", "methods": {"m": {"config": "x"}},
                                    "experiments": [{"name": "e", "methods": ["nope"], "noise": [0.1]}]}))  # fmt: skip
    with pytest.raises(ConfigError, match=r"unknown or no methods \['nope'\]; the grid defines: m"):
        load_grid(path)
    path.write_text(yaml.safe_dump({"name": "g", "methods": {"m": {"config": "x"}},
                                    "world": {"roots": [{"noise": 0.1, "root": str(tmp_path)}]},
                                    "experiments": [{"name": "e", "methods": ["m"], "noise": [0.5]}]}))  # fmt: skip
    with pytest.raises(ValueError, match=r"no world for noise 0\.5: world\.roots lists 0\.1"):
        run_report(load_grid(path), str(path), dry_run=True)


def test_the_nrccr_world_grid_resolves_every_run(tmp_path: Path) -> None:
    """Every run of the shipped grid resolves to a valid run config (a typo in a variant's
    overrides fails here, not after an hour of training), and its matched baselines pass."""
    for n in (0.08, 0.3, 0.5):
        (tmp_path / f"w{n}").mkdir()
    roots = ",".join(f"{{noise: {n}, root: '{tmp_path / f'w{n}'}'}}" for n in (0.08, 0.3, 0.5))
    grid = load_grid("nrccr-world", [f"world.roots=[{roots}]"])
    outcome = run_report(grid, "nrccr-world", dry_run=True)
    # noise: 2 methods x 2 langs x 3 levels x 3 seeds = 36; methods at 0.3: 5 more methods x 2
    # langs x 3 seeds = 30; NRF 2 new variants x 6 = 12; CL2CM 1 x 6; ablation 5 x 3; negatives
    # 1 new variant x 2 methods x 3 (baseline/all at de 0.3 is a methods run) = 6; batchnorm 3
    assert len(outcome.runs) == 36 + 30 + 12 + 6 + 15 + 6 + 3
    assert not any(" " in str(r.run_dir) for r in outcome.runs)
    methods = {r.config.method["name"] for r in outcome.runs}
    assert methods == {"baseline", "nrccr", "nrf", "cl2cm"}


def test_resolved_configs_equal_load_config() -> None:
    from ccrkit.config import load_config
    from ccrkit.report.plan import resolve_config
    from ccrkit.train import RunConfig

    overrides = ["seed=3", "data.target_langs=[zh]", "method.adversarial=false", "train.lr=0.01"]
    assert resolve_config("nrccr-mscoco", overrides, "test") == load_config(
        RunConfig, "nrccr-mscoco", overrides
    )
    with pytest.raises(ConfigError, match=r"method\.bogus"):
        resolve_config("nrccr-world", ["method.bogus=1"], "test")
    with pytest.raises(ConfigError, match=r"train\.bogus"):
        resolve_config("nrccr-world", ["train.bogus=1"], "test")


def test_index_summary_counts_capped_runs_still_improving() -> None:
    facts = {"methods": ["M"], "langs": ["de"], "noise": [0.3], "seeds": [3, 3], "runs": 6,
             "capped_runs": 4, "rising_runs": 3, "worlds": ["w"], "world_config": "c"}  # fmt: skip
    other = {**facts, "runs": 3, "capped_runs": 1, "rising_runs": 0}
    lines = summary([{"summary": facts}, {"summary": other}])
    runs = next(line for line in lines if line.startswith("- **Runs**"))
    assert "9, each trained to early stopping" in runs
    assert runs.endswith("; 3 seeds per cell.")  # not "3–3"
    wider = summary([{"summary": facts}, {"summary": {**other, "seeds": [3, 5]}}])
    assert "; 3–5 seeds per cell." in "".join(wider)
    assert "(5 stopped by the epoch cap: budget-limited; 3 of them still improving at it)" in runs
    uncapped = {**facts, "capped_runs": 0, "rising_runs": 0}
    assert "epoch cap" not in "".join(summary([{"summary": uncapped}]))


def test_index_summary_counts_a_run_shared_by_two_pages_once() -> None:
    # two pages on one runs folder (nrccr-core and nrf-cl2cm-core share the generic baseline)
    a = {
        "runs": 3,
        "run_dirs": ["r/base0", "r/base1", "r/nrf0"],
        "capped_runs": 2,
        "capped_dirs": ["r/base0", "r/nrf0"],
        "rising_runs": 1,
        "rising_dirs": ["r/nrf0"],
    }
    b = {"runs": 3, "run_dirs": ["r/base0", "r/base1", "r/cl0"], "capped_runs": 1,
         "capped_dirs": ["r/base0"], "rising_runs": 0, "rising_dirs": []}  # fmt: skip
    runs = next(line for line in summary([{"summary": a}, {"summary": b}]) if "**Runs**" in line)
    assert runs.startswith("- **Runs**: 4, each")
    assert "(2 stopped by the epoch cap: budget-limited; 1 of them still improving at it)" in runs


def test_no_train_writes_a_partial_page_and_trains_nothing(tmp_path: Path, capsys) -> None:
    path = write_grid(tmp_path)
    assert main(["report", "--grid", str(path), "--no-train"]) == 0
    assert "partial page (--no-train): 10 of 10 run(s) of" in capsys.readouterr().out
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    results = tmp_path / "results"
    assert (
        "**partial page** (`--no-train`): 10 of the 10 runs are not trained yet"
        in (results / "tiny.md").read_text()
    )
    data = json.loads((results / "tiny.json").read_text())
    assert data["summary"]["untrained_runs"] == 10 and data["budget"]["runs"] == 10
    assert all(row["missing"] == 2 for row in data["experiments"]["noise"])


def test_a_claim_of_a_partial_page_says_so_in_the_claims_table() -> None:
    claim = {"paper": "P", "claim": "C", "measured": "m", "verdict": "holds", "evidence": "e",
             "diagnosis": None}  # fmt: skip
    assert "**holds** (partial page)" in claims_table([{**claim, "partial": True}])
    assert "(partial page)" not in claims_table([claim])


def test_a_finished_extra_seed_is_found_in_the_folder_of_its_config(tmp_path: Path) -> None:
    """The ablation's "full" variant is the noise experiment's NRCCR (same config hash): its
    extra seed, finished under the noise experiment's name, joins the plan and is not
    counted as still to train."""
    path = write_grid(tmp_path)
    spec = yaml.safe_load(path.read_text())
    for experiment in spec["experiments"]:
        experiment["more_seeds"] = [2]
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    grid = load_grid(path)
    plan = plan_grid(grid)
    noise = next(e for e in grid.experiments if e.name == "noise")
    extra = plan_experiment(grid, noise, plan.identities, seeds=[2])
    finished = next(r for r in extra if r.key.method == "nrccr" and r.key.noise == 0.3)
    finished.run_dir.mkdir(parents=True)
    (finished.run_dir / RUN_RECORD).write_text(json.dumps({"status": "ok", "metrics": {"x": 1}}))
    planned, cost = estimate_grid(grid)
    full = [r for r in planned.runs["ablation"] if r.key.variant == "full"]
    assert finished.run_dir in {r.run_dir for r in full} and len(full) == 3
    assert cost.more_seeds == 1  # no_bt's seed 2 (the tiny noise experiment compares nothing)


def test_index_summary_says_what_partial_pages_lack() -> None:
    facts = {"methods": ["M"], "langs": ["de"], "noise": [0.3], "seeds": [3, 3], "runs": 6,
             "untrained_runs": 4, "worlds": ["w"], "world_config": "c"}  # fmt: skip
    claim = {"verdict": "inconclusive", "partial": True}
    lines = "\n".join(summary([{"summary": facts, "claims": [claim, {"verdict": "holds"}]}]))
    assert "- **Runs**: 6 (4 of them not trained yet: partial pages), each trained" in lines
    assert "2 tested — 1 hold, 0 do not hold, 1 inconclusive, 1 of all on a partial page" in lines


def write_batchnorm_grid(tmp_path: Path) -> Path:
    grid = {
        "name": "bn", "out": str(tmp_path / "results"), "runs_dir": str(tmp_path / "runs"),
        "threads": 1, "overrides": TINY,
        "world": {"roots": [{"noise": 0.3, "root": str(build_world(tmp_path / "world"))}]},
        "methods": {"nrccr": {"config": "nrccr-world", "overrides": NRCCR_TINY}},
        "experiments": [
            {"name": "batchnorm", "methods": ["nrccr"], "noise": [0.3], "seeds": [0],
             "reference": "shared",
             "variants": {"shared": [], "mt": ["method.bn_stats=mt"]}},
        ],
    }  # fmt: skip
    path = tmp_path / "bn.yaml"
    path.write_text(yaml.safe_dump(grid), encoding="utf-8")
    return path


def test_a_test_time_variant_is_scored_from_the_trained_weights(tmp_path: Path, capsys) -> None:
    path = write_batchnorm_grid(tmp_path)
    assert main(["report", "--grid", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2 runs, 2 to train (1 new, 1 rescore)" in out
    assert "1 run(s) differ from a trained run only at test time" in out
    assert "nrccr: 1 run(s)" in out  # only the shared variant is costed as training

    grid = load_grid(path)
    outcome = run_report(grid, str(path), progress=False)
    assert outcome.failures == {}
    runs = {run.key.variant: run for run in outcome.runs}
    shared, mt = runs["shared"], runs["mt"]
    assert rescored_from(outcome.runs) == {mt.digest: shared}
    trained = json.loads((shared.run_dir / RUN_RECORD).read_text())
    rescored = json.loads((mt.run_dir / RUN_RECORD).read_text())
    assert rescored["retest_of"] == str(shared.run_dir)
    assert rescored["config"]["method"]["bn_stats"] == "mt"
    for key in ("epochs", "best_epoch", "history", "finish_reason"):
        assert rescored[key] == trained[key]
    # the very weights of the trained run: its last checkpoint, copied, and a best checkpoint
    # that differs only by the re-estimated BatchNorm statistics
    _, last_tensors = read_checkpoint(mt.run_dir / CHECKPOINTS_DIR / "last.json")
    _, trained_last = read_checkpoint(shared.run_dir / CHECKPOINTS_DIR / "last.json")
    assert all(last_tensors[k].equal(v) for k, v in trained_last.items())
    best, best_tensors = read_checkpoint(mt.run_dir / CHECKPOINTS_DIR / "best.json")
    _, trained_best = read_checkpoint(shared.run_dir / CHECKPOINTS_DIR / "best.json")
    differ = {k for k, v in trained_best.items() if not best_tensors[k].equal(v)}
    assert differ == {"model.text_head.1.running_mean", "model.text_head.1.running_var",
                      "model.text_head.1.num_batches_tracked"}  # fmt: skip
    assert best["before_test"]["bn_stats"] == "mt"
    assert "before_test" not in trained
    assert rescored["metrics"] and rescored["metrics"] != trained["metrics"]
    data = json.loads((tmp_path / "results" / "bn.json").read_text())
    (native,) = [c for c in data["comparisons"]["batchnorm"] if c["query"] == "native"]
    assert native["a_variant"] == "mt" and native["test"] == "paired"  # the same weights
    assert native["note"] == "n < 3 seeds (1 paired)"

    capsys.readouterr()
    assert main(["report", "--grid", str(path), "--dry-run"]) == 0
    assert "2 runs, 0 to train" in capsys.readouterr().out

    # a config that training reads otherwise is refused, naming the key
    other = dataclasses.replace(shared.config, method={**shared.config.method, "margin": 0.5})
    with pytest.raises(ValueError, match=r"method\.margin is 0\.2 there and 0\.5 here"):
        retest_from_config(other, tmp_path / "elsewhere", shared.run_dir)
    with pytest.raises(ValueError, match="cannot read the trained run's record"):
        retest_from_config(shared.config, tmp_path / "elsewhere", tmp_path / "missing")
