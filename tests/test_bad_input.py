"""Every subcommand, given bad input, fails the same way: one line on stderr, exit status 2.

The cases are the ones users met (issue 22): a swapped encoder's inherited key, a model folder
without tokenizer files, a CLIP folder read as SigLIP, a vision tower without its projection,
transformers missing, a model path that does not exist, a translation model that returns
nothing, an evaluation folder that already holds a run, and each command's plain mistakes.
`test_every_subcommand_is_covered` fails when a new subcommand has no case here.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ccrkit.cli.main import build_parser, main

FIXTURES = Path(__file__).parent / "data" / "fixtures" / "VisualSearch"
SMALL_VISION = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                "num_attention_heads": 2, "image_size": 32, "patch_size": 16}  # fmt: skip


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """Small model folders, each wrong for the command that gets it."""
    transformers = pytest.importorskip("transformers")
    import torch

    from ccrkit.translate.tiny import TINY_LAYERS, build_tiny_marian

    root = tmp_path_factory.mktemp("models")
    processor = transformers.CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    config = transformers.CLIPVisionConfig(**SMALL_VISION, projection_dim=8)
    transformers.CLIPVisionModelWithProjection(config).save_pretrained(root / "clip")
    processor.save_pretrained(root / "clip")
    transformers.CLIPVisionModel(config).save_pretrained(root / "clip-vision-only")
    processor.save_pretrained(root / "clip-vision-only")
    transformers.MarianConfig(vocab_size=40, **TINY_LAYERS).save_pretrained(root / "mt-no-tok")
    lines = (FIXTURES / "multi30k" / "TextData" / "multi30ktrain_enc.caption.txt").read_text()
    corpus = [line.partition(" ")[2] for line in lines.splitlines()] * 3
    mute = build_tiny_marian(root / "mt-mute", corpus)
    model = transformers.AutoModelForSeq2SeqLM.from_pretrained(mute)
    with torch.no_grad():  # end-of-sentence first, always: every translation comes back empty
        model.final_logits_bias[0, model.config.eos_token_id] = 1e4
    model.save_pretrained(mute)
    return root


@pytest.fixture
def multi30k(tmp_path) -> Path:
    root = tmp_path / "VisualSearch"
    shutil.copytree(FIXTURES / "multi30k" / "TextData", root / "multi30k" / "TextData")
    for name in ("multi30ktrain_google_enc2de", "multi30ktrain_google_enc2de2enc"):
        (root / "multi30k" / "TextData" / f"{name}.caption.txt").unlink()
    return root


def _translate(model: str) -> Callable[[Path, Path, Path], list[str]]:
    def argv(tmp: Path, models: Path, data: Path) -> list[str]:
        return ["translate", "--data", "multi30k-task1-de", "--root", str(data), "--split",
                "train", "--tgt", "de", "--model", str(models / model), "--max-new-tokens", "4",
                "--no-progress", "--cache", str(tmp / "c.sqlite"), "--out", str(tmp / "run")]  # fmt: skip

    return argv


def _features(encoder: str, model: str) -> Callable[[Path, Path, Path], list[str]]:
    def argv(tmp: Path, models: Path, data: Path) -> list[str]:
        where = model if model.startswith("/") else str(models / model)
        return ["features", "--data", "world-image", "--root", str(tmp), "--feature", "clip",
                "--encoder", encoder, "--model", where]  # fmt: skip

    return argv


def _swapped_encoder(tmp: Path, models: Path, data: Path) -> list[str]:
    config = tmp / "mine.yaml"
    config.write_text("base: baseline-world\ntext_encoder: {name: hf, path: X, dim: 256}\n")
    return ["train", "--config", str(config), "--out", str(tmp / "run")]


def _evaluate_twice(tmp: Path, models: Path, data: Path) -> list[str]:
    (tmp / "run.json").write_text("{}")
    return ["evaluate", "--example", "--out", str(tmp)]


CASES = {  # id: (argv from (tmp, model folders, Multi30K root), what the one line says)
    "config: bad key": (
        lambda t, m, d: ["config", "show", "--config", "demo-world", "method.tempreature=3"],
        "ccrkit config: error: override 'method.tempreature=3': unknown key 'method.tempreature'",
    ),
    "train: swapped encoder keeps an inherited key": (
        _swapped_encoder, "mine.yaml: unknown key 'text_encoder.dim'; valid keys here:",
    ),
    "translate: no tokenizer files": (
        _translate("mt-no-tok"), "its tokenizer files are missing or incomplete",
    ),
    "translate: every translation empty": (
        _translate("mt-mute"), "all 7 translations came back empty, so "
        "multi30ktrain_google_enc2de.caption.txt was not written",
    ),
    "features: siglip on a CLIP folder": (
        _features("siglip", "clip"), "holds a 'clip_vision_model' model; use --encoder clip",
    ),
    "features: CLIP without its projection": (
        _features("clip", "clip-vision-only"), "has no visual_projection.weight",
    ),
    "features: no such folder": (
        _features("clip", "/nonexistent"), "ccrkit features: error: --model /nonexistent: folder not found",
    ),
    "evaluate: --out holds a run": (
        _evaluate_twice, "already holds a run (run.json); choose another --out or pass --force",
    ),
    "index build: no run": (
        lambda t, m, d: ["index", "build", "--checkpoint", str(t / "nope"), "--data",
                         "world-image", "--out", str(t / "index")],
        "checkpoints/best.json: no checkpoint here",
    ),
    "index search: no index": (
        lambda t, m, d: ["index", "search", "--index", str(t / "nope"), "--query", "a red star"],
        "index folder not found",
    ),
    "serve: no index": (
        lambda t, m, d: ["serve", "--index", str(t / "nope")], "index folder not found",
    ),
    "data check: unknown spec": (
        lambda t, m, d: ["data", "check", "--data", "nope", "--root", str(t)],
        "unknown config 'nope' in configs/data; known:",
    ),
    "world: bad override": (
        lambda t, m, d: ["world", "--config", "world-tiny", "--out", str(t), "image.trian=3"],
        "override 'image.trian=3': unknown key 'image.trian'",
    ),
    "report: unknown grid": (
        lambda t, m, d: ["report", "--grid", "nope"], "unknown config 'nope' in configs/report",
    ),
    "report: list item past the end": (
        lambda t, m, d: ["report", "--grid", "world-power", "--dry-run", "experiments.1.noise=[0]"],
        "override 'experiments.1.noise=[0]': 'experiments.1': no such item; 'experiments' has 1",
    ),
    "import: no such checkpoint": (
        lambda t, m, d: ["import", "nrccr", str(t / "nope.pth.tar"), "--text-model", str(t),
                         "--out", str(t / "run")],
        "nope.pth.tar: no such checkpoint file",
    ),
    "export: no run": (
        lambda t, m, d: ["export", str(t / "nope"), "--out", str(t / "x")],
        "checkpoints/best.json: no checkpoint here",
    ),
}  # fmt: skip
NOT_BAD_INPUT = {"version"}  # takes no input


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_and_status_2(case, models, multi30k, tmp_path, capsys):
    argv, expected = CASES[case]
    code = main(argv(tmp_path, models, multi30k))
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"ccrkit {argv(tmp_path, models, multi30k)[0]}: error: ")
    assert expected in err


def test_features_without_transformers_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "transformers", None)  # `import transformers` fails
    assert (
        main(_features("clip", "openai/clip-vit-base-patch32")(tmp_path, tmp_path, tmp_path)) == 2
    )
    err = capsys.readouterr().err
    assert err == (
        "ccrkit features: error: the clip encoder needs the Hugging Face transformers library: "
        "pip install 'ccrkit[features]'\n"
    )


def test_no_mt_file_is_left_behind_by_empty_translations(models, multi30k, tmp_path, capsys):
    assert main(_translate("mt-mute")(tmp_path, models, multi30k)) == 2
    text = multi30k / "multi30k" / "TextData"
    assert not (text / "multi30ktrain_google_enc2de.caption.txt").exists()


def test_every_subcommand_is_covered(tmp_path):
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    covered = {argv(tmp_path, tmp_path, tmp_path)[0] for argv, _ in CASES.values()}
    assert set(commands) - NOT_BAD_INPUT <= covered


def test_evaluate_counts_distractors_and_says_how(tmp_path, capsys):
    sim = np.array([[0.9, 0.1, 0.95], [0.2, 0.8, 0.3]], dtype=np.float32)  # item 2: no query
    np.save(tmp_path / "S.npy", sim)
    np.save(tmp_path / "Q.npy", np.array([0, 1]))
    argv = ["evaluate", "--sim", str(tmp_path / "S.npy"), "--query-item", str(tmp_path / "Q.npy"),
            "--out", str(tmp_path / "run")]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "| S.npy | 50.0 | 100.0 | 100.0 | 1.5 | 1.5 | 75.00 | 100.0 |" in out
    assert ("1 of 3 gallery items have no query (distractors): t2v ranks each query against all "
            "3 items; v2t is over the 2 items with queries") in out  # fmt: skip
