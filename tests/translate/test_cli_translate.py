"""`ccrkit translate` end to end with tiny MarianMT models: files in the spec's layout, cache hits,
resume after an interrupted run, dry run, existing outputs, translate-test, bad input."""

from __future__ import annotations

import json
import logging

import pytest

from ccrkit.cli.main import main
from ccrkit.data import load_data_spec, read_captions
from ccrkit.translate import roundtrip_scores
from ccrkit.translate.backends.hf import HFBackend


def argv(root, model, *extra, back_model=None, cache=None, out=None):
    args = ["translate", "--data", "world-image", "--root", str(root), "--split", "train,val",
            "--tgt", "de", "--model", str(model), "--max-new-tokens", "6", "--no-progress",
            "--cache", str(cache or root / "cache.sqlite"), "--out", str(out or root / "run")]  # fmt: skip
    if back_model is not None:
        args += ["--back", "--back-model", str(back_model)]
    return args + list(extra)


def text_file(root, name):
    return root / "worldimage" / "TextData" / name


def run_json(path):
    return json.loads((path / "run.json").read_text())


def test_end_to_end_writes_the_specs_files_and_hits_the_cache(
    world_root, marian_dir, marian_back_dir, capsys
):
    assert main(argv(world_root, marian_dir, back_model=marian_back_dir)) == 0
    spec = load_data_spec("world-image")
    for split in ("train", "val"):
        source = read_captions(spec.caption_path(world_root, split, "source"))
        for role, inputs in (("mt", source), ("bt", source), ("human_to_en", None)):
            written = read_captions(spec.caption_path(world_root, split, role, "de"))
            inputs = inputs or read_captions(spec.caption_path(world_root, split, "human", "de"))
            assert [r.cap_id for r in written] == [r.with_tag(spec.tag(role, "de")) for r in inputs]
        scores = roundtrip_scores(spec, world_root, split, "de")
        assert list(scores) == [r.with_tag("enc2de") for r in source]
        assert all(0 <= s <= 100 for s in scores.values())
    first = run_json(world_root / "run")
    assert first["status"] == "ok" and first["command"] == "translate"
    mt = first["metrics"]["train/enc2de"]
    assert (mt["captions"], mt["unique"], mt["cached"], mt["translated"]) == (4, 3, 0, 3)
    assert mt["sentences_per_s"] > 0 and mt["quality"]["tokenize"] == "13a"
    assert first["metrics"]["val/enc2de"]["translated"] == 0  # val repeats train's sentences
    assert first["metrics"]["train/enc2de2enc"]["quality"]["roundtrip_file"].endswith(
        ".roundtrip.tsv"
    )
    assert first["backends"]["forward"]["model"] == str(marian_dir.resolve())
    table = capsys.readouterr().out
    assert "| train | enc2de | en→de | 4 | 3 | 0 | 3 |" in table

    before = text_file(world_root, "worldimagetrain_synthetic_enc2de.caption.txt").read_bytes()
    out2 = world_root / "run2"
    assert main(argv(world_root, marian_dir, "--force", back_model=marian_back_dir, out=out2)) == 0
    second = run_json(out2)["metrics"]
    assert all(row["translated"] == 0 for row in second.values())  # everything from the cache
    assert second["train/enc2de"]["cached"] == 3
    assert (
        text_file(world_root, "worldimagetrain_synthetic_enc2de.caption.txt").read_bytes() == before
    )


def test_an_interrupted_run_resumes_where_it_stopped(world_root, marian_dir, monkeypatch):
    original, calls = HFBackend.translate, []

    def crash_on_second_batch(self, segments):
        calls.append(len(segments))
        if len(calls) == 2:
            raise RuntimeError("power cut")
        return original(self, segments)

    monkeypatch.setattr(HFBackend, "translate", crash_on_second_batch)
    with pytest.raises(RuntimeError, match="power cut"):
        main(argv(world_root, marian_dir, "--batch-size", "1"))
    assert run_json(world_root / "run")["status"] == "failed"
    assert not text_file(world_root, "worldimagetrain_synthetic_enc2de.caption.txt").exists()
    monkeypatch.setattr(HFBackend, "translate", original)
    assert main(argv(world_root, marian_dir, "--batch-size", "1", out=world_root / "run2")) == 0
    mt = run_json(world_root / "run2")["metrics"]["train/enc2de"]
    assert (mt["unique"], mt["cached"], mt["translated"]) == (3, 1, 2)


def test_dry_run_counts_cached_sentences_and_changes_nothing(world_root, marian_dir, capsys):
    assert main(argv(world_root, marian_dir, "--dry-run")) == 0
    assert "| train | enc2de | en→de | 4 | 3 | 0 | 3 | write |" in capsys.readouterr().out
    assert not (world_root / "run").exists() and not (world_root / "cache.sqlite").exists()
    assert not text_file(world_root, "worldimagetrain_synthetic_enc2de.caption.txt").exists()
    assert main(argv(world_root, marian_dir, "--split", "train")) == 0
    capsys.readouterr()
    assert main(argv(world_root, marian_dir, "--dry-run")) == 0
    table = capsys.readouterr().out
    assert "| train | enc2de | en→de | 4 | 3 | 3 | 0 | exists (needs --force) |" in table
    assert "| val | enc2de | en→de | 4 | 3 | 3 | 0 | write |" in table


def test_existing_outputs_are_never_overwritten_silently(
    world_root, marian_dir, marian_back_dir, capsys
):
    assert main(argv(world_root, marian_dir)) == 0
    capsys.readouterr()
    assert main(argv(world_root, marian_dir)) == 2
    err = capsys.readouterr().err
    assert "worldimagetrain_synthetic_enc2de.caption.txt" in err and "--force" in err
    assert len(err.strip().splitlines()) == 1
    # --keep-existing keeps the MT files and back-translates them
    mt = text_file(world_root, "worldimagetrain_synthetic_enc2de.caption.txt")
    mt.write_text(mt.read_text().replace("img00000#enc2de#0 ", "img00000#enc2de#0 Ein Hund. "))
    args = argv(
        world_root, marian_dir, "--keep-existing", back_model=marian_back_dir, out=world_root / "r"
    )
    assert main(args) == 0
    assert "Ein Hund." in mt.read_text()
    rows = run_json(world_root / "r")["metrics"]
    assert (
        rows["train/enc2de"]["status"] == "kept" and rows["train/enc2de2enc"]["status"] == "written"
    )


def test_translate_test_view_of_human_queries(multi30k_root, marian_dir, marian_back_dir):
    text = multi30k_root / "multi30k" / "TextData"
    (text / "multi30kval_google_de2enc_task1.caption.txt").unlink()
    args = ["translate", "--data", "multi30k-task1-de", "--root", str(multi30k_root), "--split", "val",
            "--tgt", "de", "--model", str(marian_dir), "--back", "--back-model", str(marian_back_dir),
            "--max-new-tokens", "4", "--no-progress", "--cache", str(multi30k_root / "c.sqlite"),
            "--out", str(multi30k_root / "run")]  # fmt: skip
    assert main(args) == 0
    human = read_captions(text / "multi30kval_de_task1.caption.txt")
    view = read_captions(text / "multi30kval_google_de2enc_task1.caption.txt")
    assert [r.cap_id for r in view] == [r.with_tag("de2enc") for r in human]
    record = run_json(multi30k_root / "run")
    assert list(record["metrics"]) == ["val/de2enc"]
    assert list(record["backends"]) == ["back"]  # the en->de model was never loaded


def test_overlong_captions_are_truncated_with_a_warning(world_root, marian_dir, caplog):
    with caplog.at_level(logging.WARNING):
        assert (
            main(argv(world_root, marian_dir, "--split", "train", "--max-input-tokens", "8")) == 0
        )
    mt = run_json(world_root / "run")["metrics"]["train/enc2de"]
    assert mt["truncated"] == 4 and "img00000#enc#0" in mt["truncated_ids"]
    assert "4 caption(s) longer than the model's limit of 8 tokens were truncated" in caplog.text


def test_config_file_and_overrides(world_root, marian_dir, tmp_path):
    yaml = tmp_path / "t.yaml"
    yaml.write_text(f"data: world-image\nroot: {world_root}\ntgt: de\nforward:\n  model: {marian_dir}\n"
                    "  decode: {beams: 2, max_new_tokens: 5}\n")  # fmt: skip
    args = ["translate", "--config", str(yaml), "forward.decode.batch_size=3", "--cache",
            str(tmp_path / "c.sqlite"), "--out", str(tmp_path / "run"), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    record = run_json(tmp_path / "run")
    assert record["config"]["forward"]["decode"] == {"beams": 2, "batch_size": 3,
        "max_input_tokens": None, "max_new_tokens": 5}  # fmt: skip
    assert record["backends"]["forward"]["beams"] == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--split", "nope"], "has no split 'nope'; splits: train, val, test"),
        (["--backend", "babel"], "unknown translation backend 'babel'; known: file, hf, synthetic"),
        (["--tgt", "en"], "src and tgt are both 'en'"),
        (["--src", "fr"], "has en source captions, not fr"),
        (["--beams", "0"], "decode.beams must be >= 1"),
    ],
)
def test_bad_arguments_are_one_line_errors(world_root, marian_dir, capsys, change, message):
    assert main(argv(world_root, marian_dir, *change)) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (world_root / "run").exists()  # refused before a run record was started


def test_a_split_with_only_human_captions_needs_back(multi30k_root, marian_dir, capsys):
    args = ["translate", "--data", "multi30k-task1-de", "--root", str(multi30k_root), "--split",
            "val", "--tgt", "de", "--model", str(marian_dir), "--cache", str(multi30k_root / "c")]  # fmt: skip
    assert main(args) == 2
    assert (
        "nothing to translate (caption roles there: human, human_to_en); pass --back"
        in capsys.readouterr().err
    )


def test_an_empty_source_caption_names_file_and_line(world_root, marian_dir, capsys):
    source = text_file(world_root, "worldimagetrain_enc.caption.txt")
    source.write_text(source.read_text() + "img00002#enc#0 \n")
    assert main(argv(world_root, marian_dir, "--split", "train")) == 2
    assert f"{source}:5: caption line without text" in capsys.readouterr().err


def test_unknown_language_for_the_model_family(world_root, m2m_dir, capsys):
    assert main(argv(world_root, m2m_dir, "--tgt", "tlh")) == 2
    err = capsys.readouterr().err
    assert "no target language code 'tlh'" in err and "valid codes: af, am," in err
