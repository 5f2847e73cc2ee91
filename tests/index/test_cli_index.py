"""`ccrkit index build|search` and `ccrkit serve` through the command line, seams replaced by fakes."""

from __future__ import annotations

import json

import pytest

from ccrkit.cli.main import main
from ccrkit.index.toy import ToyModel, make_toy_gallery


@pytest.fixture
def seams(monkeypatch, tmp_path):
    """Replace the two seams (model loading, gallery opening) with the toy model and gallery."""
    model = ToyModel()
    gallery = make_toy_gallery(tmp_path / "collection")
    loaded: list[str] = []

    def load(run_dir):
        loaded.append(str(run_dir))
        return model

    monkeypatch.setattr("ccrkit.index.build.load_retrieval_model", load)
    monkeypatch.setattr("ccrkit.index.search.load_retrieval_model", load)
    monkeypatch.setattr(
        "ccrkit.index.build.open_gallery", lambda data, root, split, feature=None: gallery
    )
    return loaded


def test_a_folder_without_a_training_run_is_a_clear_error(tmp_path, capsys):
    argv = ["index", "build", "--checkpoint", str(tmp_path), "--data", "world", "--out",
            str(tmp_path / "index")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("ccrkit index: error:")
        and "no checkpoint here" in err
        and err.count("\n") == 1
    )


def test_build_then_search(seams, tmp_path, capsys):
    out = tmp_path / "index"
    argv = ["index", "build", "--checkpoint", str(tmp_path / "run"), "--data", "world",
            "--split", "test", "--out", str(out), "--config", "hnsw", "ef_search=32"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "indexed 24 items (64-d, HNSW32,Flat, recall@10" in printed
    assert f"ccrkit serve --index {out}" in printed
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "ok" and record["config"]["params"]["ef_search"] == 32
    assert record["metrics"]["items"] == 24
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["checkpoint"] == str((tmp_path / "run").resolve())

    assert main(["index", "search", "--index", str(out), "--query", "ein roter Stern",
                 "--lang", "de", "--k", "2"]) == 0  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "query: ein roter Stern"
    assert lines[1].split()[:3] == ["1", "1.0000", "red-star"]
    assert lines[1].endswith("ein roter Stern")  # the collection's German caption
    assert seams[-1] == str((tmp_path / "run").resolve())  # the manifest's run directory


def test_search_a_queries_file_as_json(seams, tmp_path, capsys):
    out = tmp_path / "index"
    assert main(["index", "build", "--checkpoint", "r", "--data", "w", "--out", str(out)]) == 0
    queries = tmp_path / "queries.txt"
    queries.write_text("红色的星星\n\nune étoile verte\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["index", "search", "--index", str(out), "--queries", str(queries), "--k", "1",
                 "--json"]) == 0  # fmt: skip
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(a["query"], a["results"][0]["id"]) for a in answers] == [
        ("红色的星星", "red-star"),
        ("une étoile verte", "green-star"),
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--query", "star", "--k", "0"], "--k must be >= 1"),
        (["--query", "star", "--lang", "xx"], "unknown language 'xx'"),
        (["--queries", "BAD"], "queries.bin:2: not UTF-8 text"),
    ],
)
def test_search_bad_input_is_one_line(seams, tmp_path, capsys, extra, message):
    out = tmp_path / "index"
    assert main(["index", "build", "--checkpoint", "r", "--data", "w", "--out", str(out)]) == 0
    (tmp_path / "queries.bin").write_bytes(b"fine\n\xff\xfe\n")
    extra = [str(tmp_path / "queries.bin") if e == "BAD" else e for e in extra]
    capsys.readouterr()
    assert main(["index", "search", "--index", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_build_refuses_to_overwrite_and_bad_config(seams, tmp_path, capsys):
    out = tmp_path / "index"
    base = ["index", "build", "--checkpoint", "r", "--data", "w", "--out", str(out)]
    assert main(base) == 0
    assert main(base) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert main([*base, "--force", "type=annoy"]) == 2
    assert "unknown index type 'annoy'" in capsys.readouterr().err


def test_serve_refuses_an_index_of_another_model(seams, tmp_path, monkeypatch, capsys):
    out = tmp_path / "index"
    assert main(["index", "build", "--checkpoint", "r", "--data", "w", "--out", str(out)]) == 0
    monkeypatch.setattr("ccrkit.index.search.load_retrieval_model", lambda run: ToyModel(dim=32))
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("must not start serving"))
    assert main(["serve", "--index", str(out)]) == 2
    err = capsys.readouterr().err
    assert "holds 64-d vectors but model 'toy-bag-of-concepts' encodes 32-d" in err
