"""Fair comparisons in `ccrkit report` (issue 19) and a report a user can trust (issue 22): matched
baselines derived from each method's config and refused when they differ in more, Welch's test,
claims with verdicts, more seeds for close comparisons, early stopping with capped runs labelled,
a dry run that writes nothing, interrupted runs resumed, stale pages flagged."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import yaml

from ccrkit.cli.main import main
from ccrkit.config import ConfigError
from ccrkit.methods.checkpoint import checkpoint_path, read_checkpoint, write_checkpoint
from ccrkit.report import load_grid, run_report
from ccrkit.report.execute import run_state
from ccrkit.report.index import staleness
from ccrkit.report.matched import check_matched
from ccrkit.report.spec import ExperimentSpec, GridSpec, MethodSpec, WorldSpec
from ccrkit.report.worlds import UNFINISHED, generate_worlds, locate_worlds

TESTS = Path(__file__).parent.parent
TINY = [
    "train.batch_size=8", "train.progress=false", "train.tensorboard=false", "train.device=cpu",
    "eval.batch_size=8", "text_encoder.name=builtin", "text_encoder.dim=16",
    "text_encoder.layers=1", "text_encoder.heads=2", "text_encoder.ffn_dim=32",
    "text_encoder.vocab_size=150", "visual_encoder.hidden=16",
]  # fmt: skip
NRCCR_TINY = ["method.hidden=16", "method.heads=2", "method.qk_dim=8", "method.embed_dim=16"]


def build_world(root: Path) -> Path:
    spec = importlib.util.spec_from_file_location(
        "data_conftest_fair", TESTS / "data" / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.build_world(root)


def grid_spec(**methods: MethodSpec) -> GridSpec:
    return GridSpec(name="g", methods=methods,
                    experiments=[ExperimentSpec(name="e", methods=list(methods), noise=[0.1])])  # fmt: skip


@pytest.mark.parametrize(
    ("config", "switched", "shared"),
    [
        ("nrccr-world", {"similarity_view", "feature_view", "back_translation", "adversarial",
                         "cross_teacher"},
         {"method.mt_weight": 0.6, "method.source_weight": 1.0, "method.margin": 0.2,
          "train.optimizer": "adam", "train.schedule": "plateau", "data.roles": ["mt", "bt"]}),
        ("nrf-world", {"filter_layers", "cross_lingual_weight", "guidance_weight", "selector",
                       "selection", "cross_teacher", "english_epochs"},
         {"method.tau": 0.07, "method.mt_weight": 1.0, "train.lr": 1e-3}),
        ("cl2cm-world", {"schedule", "sentence_weight", "ot_weight", "kt_weight"},
         {"method.tau": 0.07, "method.hidden": 128, "train.epochs": 13}),
        ("one-to-k-world", {"name", "loss", "views"},
         {"method.temperature": 0.07, "method.head": "linear", "train.optimizer": "adamw",
          "data.target_langs": ["de", "fr", "cs", "zh", "ja"]}),
    ],
)  # fmt: skip
def test_matched_baseline_derived_from_each_method(config, switched, shared) -> None:
    grid = grid_spec(m=MethodSpec(config), m_tt=MethodSpec(matched="m"))
    matched = check_matched(grid, "m_tt")
    assert set(matched.switched) == switched
    assert shared.items() <= matched.shared.items()
    # every text and visual encoder key is shared, and no switched key is
    assert any(key.startswith("text_encoder.") for key in matched.shared)
    assert not {f"method.{key}" for key in switched} & set(matched.shared)


def test_matched_baseline_of_one_to_k_is_the_baseline_method() -> None:
    from ccrkit.report.plan import method_config

    grid = grid_spec(k=MethodSpec("one-to-k-world"), k_tt=MethodSpec(matched="k"))
    config = method_config(grid, "k_tt", [], "test")
    assert config.method["name"] == "baseline" and config.method["loss"] == "info_nce"
    assert config.method["views"] == {"source": 1.0, "mt": 1.0}
    assert config.text_encoder == method_config(grid, "k", [], "test").text_encoder


def test_a_matched_baseline_differing_in_more_is_refused() -> None:
    grid = grid_spec(m=MethodSpec("nrccr-world"),
                     m_tt=MethodSpec(matched="m", overrides=["train.lr=5e-4"]))  # fmt: skip
    with pytest.raises(ConfigError, match=r"differs from it in train\.lr \(0\.0005 vs 0\.001\)"):
        check_matched(grid, "m_tt")
    grid.methods["m_tt"] = MethodSpec("baseline-world", matched="m")  # written by hand
    with pytest.raises(ConfigError, match=r"differs from it in data\.roles"):
        check_matched(grid, "m_tt")
    grid.methods["m_tt"] = MethodSpec(matched="m", overrides=["method.adversarial=true"])
    with pytest.raises(ConfigError, match=r"it has adversarial = True: a matched baseline"):
        check_matched(grid, "m_tt")
    grid.methods["m_tt"] = MethodSpec(matched="m", overrides=["method.heads=2"])
    with pytest.raises(ConfigError, match=r"in method\.heads \(2 vs 4\)"):
        check_matched(grid, "m_tt")


def tiny_grid(tmp_path: Path, **top: object) -> Path:
    roots = []
    for noise in (0.1, 0.3):
        root = tmp_path / f"world{noise}"
        if noise == 0.1:
            build_world(root)
        else:
            shutil.copytree(tmp_path / "world0.1", root)
        roots.append({"noise": noise, "root": str(root)})
    grid = {
        "name": "fair", "title": "Fair grid", "out": str(tmp_path / "results"),
        "runs_dir": str(tmp_path / "runs"), "threads": 1,
        "overrides": TINY,
        "max_epochs": 2, "patience": 1,
        "world": {"roots": roots, "default_noise": 0.1},
        "methods": {
            "baseline": {"config": "baseline-world", "overrides": ["method.embed_dim=16"]},
            "nrccr": {"config": "nrccr-world", "overrides": NRCCR_TINY, "label": "NRCCR"},
            "nrccr_tt": {"matched": "nrccr", "label": "translate-train (NRCCR's recipe)"},
        },
        "experiments": [
            {"name": "noise", "methods": ["baseline", "nrccr_tt", "nrccr"], "noise": [0.1, 0.3],
             "seeds": [0, 1, 2], "more_seeds": [3], "baseline": "baseline", "plot": True},
            {"name": "switches", "methods": ["nrccr"], "seeds": [0, 1], "reference": "full",
             "variants": {"full": [], "masked": ["method.negatives=mask_identical_text"]}},
        ],
        "claims": [
            {"paper": "NRCCR", "claim": "NRCCR beats translate-train", "experiment": "noise",
             "method": "nrccr", "against": ["nrccr_tt"], "diagnosis": "a tiny world"},
            {"paper": "NRCCR", "claim": "NRCCR's gain grows with noise", "experiment": "noise",
             "method": "nrccr", "against": ["nrccr_tt"], "kind": "gain_grows",
             "queries": ["native"]},
            {"paper": "NRCCR", "claim": "each switch helps", "experiment": "switches",
             "method": "nrccr/full", "against": ["nrccr/masked"], "require": "all"},
        ],
        **top,
    }  # fmt: skip
    path = tmp_path / "fair.yaml"
    path.write_text(yaml.safe_dump(grid), encoding="utf-8")
    return path


def test_fair_grid_end_to_end(tmp_path: Path, capsys) -> None:
    path = tiny_grid(tmp_path)
    assert main(["report", "--grid", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    # noise: 3 methods x 2 levels x 3 seeds = 18; switches at 0.1: 1 new variant x 2 seeds
    # (full seeds 0-1 are noise runs); more_seeds: up to 3 methods x 2 levels x 1 seed
    assert "20 runs, 20 to train (20 new)" in out
    assert "then up to 6 more run(s)" in out
    assert "nrccr_tt: 6 run(s) x ~2 epochs x 60 s/epoch (assumed, epochs the cap)" in out
    assert not (tmp_path / "runs").exists() and not (tmp_path / "results").exists()

    outcome = run_report(load_grid(path), str(path), progress=False)
    assert outcome.failures == {}
    results = tmp_path / "results"
    page = (results / "fair.md").read_text()
    # the matched baseline is described, with what it shares
    assert (
        "**translate-train (NRCCR's recipe)** is NRCCR with its own components switched off" in page
    )
    assert "recipe (train.optimizer=adam, train.lr=0.001" in page
    # comparisons: vs the matched baseline and vs the generic baseline, with Welch p-values
    comparisons = outcome.comparisons["noise"]
    kinds = {c.pair.kind for c in comparisons}
    assert kinds == {"matched baseline", "baseline"}
    assert all(c.test.p is not None or "n < 3" in c.test.note for c in comparisons)
    assert "| NRCCR | translate-train (NRCCR's recipe) [matched] | de | 0.1 | native |" in page
    # two seeds per switch: no p-value printed, the cell says why
    switches = outcome.comparisons["switches"]
    assert switches and all(c.test.p_cell() == "n < 3 seeds (2, 2)" for c in switches)
    # early stopping with a cap of 2 epochs, patience 1: epochs column and capped runs
    data = json.loads((results / "fair.json").read_text())
    rows = data["experiments"]["noise"]
    assert all(1 <= e <= 2 for row in rows for e in row["epochs"])
    assert "capped" in page or all(r["capped"] == 0 for r in rows)
    # claims: verdicts in the page, the JSON and at the top of the README
    verdicts = {c["claim"]: c["verdict"] for c in data["claims"]}
    assert set(verdicts.values()) <= {"holds", "does not hold", "inconclusive"}
    assert verdicts["each switch helps"] == "inconclusive"  # 2 seeds: no test
    readme = (results / "README.md").read_text()
    assert (
        readme.index("## Summary")
        < readme.index("## The papers' claims")
        < readme.index("## Provenance")
    )
    assert "| NRCCR | NRCCR beats translate-train |" in readme
    # more seeds were added exactly where a comparison lay within two standard deviations
    added = {r.key.cell for r in outcome.runs if r.key.seed == 3}
    noise_rows = {
        (r.method, r.variant, r.training, r.lang, r.noise): r for r in outcome.tables["noise"]
    }
    for cell, row in noise_rows.items():
        assert (len(row.native) == 4) == (cell in added)
    # a rerun trains nothing
    capsys.readouterr()
    assert main(["report", "--grid", str(path), "--dry-run"]) == 0
    assert f"{len(outcome.runs)} runs, 0 to train" in capsys.readouterr().out


def test_interrupted_runs_resume_and_unfinished_worlds_need_force(tmp_path: Path, capsys) -> None:
    path = tiny_grid(tmp_path)
    grid = load_grid(path, ["experiments=[{name: one, methods: [nrccr], seeds: [0]}]", "claims=[]"])
    outcome = run_report(grid, str(path), progress=False)
    (run,) = outcome.runs
    assert run_state(run) == "cached"
    # an interruption after the first epoch: the last checkpoint unfinished, no final record
    record, tensors = read_checkpoint(checkpoint_path(run.run_dir, "last"))
    write_checkpoint(run.run_dir, "last", {**record, "finished": False, "epoch": 1}, tensors)
    (run.run_dir / "run.json").unlink()
    assert run_state(run) == "resume"
    assert main(["report", "--grid", str(path), "--dry-run",
                 "experiments=[{name: one, methods: [nrccr], seeds: [0]}]", "claims=[]"]) == 0  # fmt: skip
    assert f"resume  {run.run_dir} (from epoch 1)" in capsys.readouterr().out
    run_report(grid, str(path), progress=False)
    saved = json.loads((run.run_dir / "run.json").read_text())
    assert saved["status"] == "ok" and saved["resumed"] is True

    generated = GridSpec(name="w", world=WorldSpec("world-tiny", root=str(tmp_path / "gen")),
                         methods={"m": MethodSpec("baseline-world")},
                         experiments=[ExperimentSpec(name="e", methods=["m"], noise=[0.2])])  # fmt: skip
    (tmp_path / "gen" / "noise-0.2" / "worldimage").mkdir(parents=True)  # an interrupted world
    worlds = locate_worlds(generated, [0.2])
    assert worlds[0.2].state == UNFINISHED
    with pytest.raises(
        FileExistsError, match=r"holds an unfinished world .*`ccrkit report --force`"
    ):
        generate_worlds(generated, worlds, force=False, command="ccrkit report")
    grid_yaml = tmp_path / "w.yaml"
    grid_yaml.write_text(yaml.safe_dump({
        "name": "w", "world": {"config": "world-tiny", "root": str(tmp_path / "gen")},
        "runs_dir": str(tmp_path / "wruns"), "out": str(tmp_path / "wout"),
        "methods": {"m": {"config": "baseline-world"}},
        "experiments": [{"name": "e", "methods": ["m"], "noise": [0.2]}],
    }))  # fmt: skip
    capsys.readouterr()
    assert main(["report", "--grid", str(grid_yaml), "--dry-run"]) == 0
    assert "MT noise 0.2: unfinished" in capsys.readouterr().out
    assert main(["report", "--grid", str(grid_yaml)]) == 2  # one line, before anything trains
    assert f"--grid {grid_yaml} --force` regenerates it" in capsys.readouterr().err
    assert not (tmp_path / "wruns").exists()


def test_dry_run_writes_nothing_for_a_generated_world(tmp_path: Path, capsys) -> None:
    grid = {
        "name": "gen", "out": str(tmp_path / "results"), "runs_dir": str(tmp_path / "runs"),
        "world": {"config": "world-tiny", "root": str(tmp_path / "worlds"), "seconds": 30},
        "seconds_per_epoch": {"m": 12.0}, "max_epochs": 10, "expected_epochs": 4,
        "methods": {"m": {"config": "baseline-world"}},
        "experiments": [{"name": "e", "methods": ["m"], "noise": [0.1, 0.3], "seeds": [0, 1, 2]}],
    }  # fmt: skip
    path = tmp_path / "gen.yaml"
    path.write_text(yaml.safe_dump(grid), encoding="utf-8")
    assert main(["report", "--grid", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "world for MT noise 0.1: to generate" in out
    # 6 runs x 4 epochs x 12 s = 4.8 min of training; 2 worlds x 30 s; one run at a time
    assert "m: 6 run(s) x ~4 epochs x 12 s/epoch (grid figure, epochs expected) = 5 min" in out
    assert "expected: 5 min of training, 6 min wall clock" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gen.yaml"]


def test_stale_pages_are_flagged(tmp_path: Path, capsys) -> None:
    from ccrkit.report.provenance import code_state

    out = tmp_path / "results"
    out.mkdir()
    current = code_state()
    old = {**current, "commit": "abc", "parts": {**current["parts"], "methods": "0" * 16}}
    for name, code in (("fresh", current), ("old", old)):
        (out / f"{name}.md").write_text(f"# {name}\n")
        (out / f"{name}.json").write_text(json.dumps({"grid": name, "code": code}))
    lines = dict(staleness(out, current))
    assert [stale for _, stale in staleness(out, current)] == [False, True]
    assert any("changed since: methods" in line for line in lines)
    assert main(["report", "--check", "--index", str(out)]) == 1
    assert "old.md: stale: made at commit abc; changed since: methods" in capsys.readouterr().out


def test_a_run_config_is_its_method_config_with_the_run_overrides() -> None:
    """Planning builds one typed config per method and variant and sets each run's seed and data
    on it (`with_run`): the same config as resolving every override for every run."""
    from ccrkit.report.plan import RunKey, method_config, run_overrides, with_run

    grid = grid_spec(m=MethodSpec("nrccr-world"), m_tt=MethodSpec(matched="m"))
    variant = ["method.adversarial=false"]
    for key in (RunKey("m_tt", "v", "zh", 0.3, 4), RunKey("m", "v", "de+fr", 0.1, 2, "joint")):
        full = method_config(grid, key.method, run_overrides(key, variant, Path("/w")), "test")
        assert with_run(method_config(grid, key.method, variant, "test"), key, Path("/w")) == full


def test_the_digest_reads_the_same_dict_as_to_dict() -> None:
    """`config_digest` reads the dataclass itself (`hash_view`, fast) where cached runs were
    hashed from `to_dict`: the two must hold the same values, or every cached run would be
    retrained."""
    import dataclasses

    from ccrkit.config import to_dict
    from ccrkit.report.plan import method_config

    grid = grid_spec(m=MethodSpec("nrccr-world"), k=MethodSpec("one-to-k-world"))
    for key in ("m", "k"):
        config = method_config(grid, key, ["method.adversarial=false"] if key == "m" else [], "t")
        assert json.dumps(dataclasses.asdict(config), sort_keys=True) == json.dumps(
            to_dict(config), sort_keys=True
        )
