"""The file backend on real Multi30K lines: existing translations aligned by caption id (not by
line), captions without a translation and translations without a caption reported by file/id."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ccrkit.translate import BackendConfig, TranslateConfig, TranslationError, run_translate

FIXTURES = Path(__file__).parents[1] / "data" / "fixtures" / "VisualSearch"
GERMAN = FIXTURES / "multi30k/TextData/multi30ktrain_google_enc2de.caption.txt"  # real German lines


def config(root, translations, **options) -> TranslateConfig:
    backend = BackendConfig(backend="file", model=str(translations), options=options)
    return TranslateConfig(data="multi30k-task1-de", root=str(root), splits=["train"], tgt="de",
                           forward=backend, cache=str(root / "cache.sqlite"))  # fmt: skip


def shuffled_copy(tmp_path, drop=(), extra=()):
    lines = GERMAN.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(tuple(drop))]
    path = tmp_path / "google_de.txt"
    path.write_text("".join(reversed(kept)) + "".join(extra), encoding="utf-8")  # another order
    return path


def output_path(root):
    return root / "multi30k" / "TextData" / "multi30ktrain_google_enc2de.caption.txt"


def test_translations_are_aligned_by_caption_id(multi30k_root, tmp_path):
    results, backends = run_translate(
        config(multi30k_root, shuffled_copy(tmp_path)), progress=False
    )
    # the output is the official file again, byte for byte: same ids, same order, same texts
    # (a tab, a no-break space and a leading '#' kept as they are)
    assert output_path(multi30k_root).read_bytes() == GERMAN.read_bytes()
    (result,) = results
    assert (result.stats.segments, result.missing, result.warnings) == (7, [], [])
    assert backends["forward"]["backend"] == "file"


def test_captions_without_translation_are_an_error_naming_file_and_ids(multi30k_root, tmp_path):
    path = shuffled_copy(tmp_path, drop=("241347760.jpg", "3436221798.jpg"))
    with pytest.raises(TranslationError) as err:
        run_translate(config(multi30k_root, path), progress=False)
    message = str(err.value)
    assert str(path) in message and "no translation for 2 of 7 caption(s)" in message
    assert "'241347760.jpg#enc#0'" in message and "'3436221798.jpg#enc#0'" in message
    assert not output_path(multi30k_root).exists()


def test_allow_missing_leaves_them_out_with_a_warning(multi30k_root, tmp_path, caplog):
    path = shuffled_copy(tmp_path, drop=("241347760.jpg",))
    with caplog.at_level(logging.WARNING):
        (result,), _ = run_translate(
            config(multi30k_root, path, allow_missing=True), progress=False
        )
    assert result.missing == ["241347760.jpg#enc#0"]
    written = output_path(multi30k_root).read_text(encoding="utf-8")
    assert "241347760" not in written and len(written.splitlines()) == 6
    assert (
        "1 caption(s) have no translation and were left out: '241347760.jpg#enc#0'" in caplog.text
    )


def test_translations_of_unknown_ids_are_reported_with_file_and_line(
    multi30k_root, tmp_path, caplog
):
    path = shuffled_copy(tmp_path, extra=["999999.jpg#enc2de#0 Ein Hund.\n"])
    with caplog.at_level(logging.WARNING):
        (result,), _ = run_translate(config(multi30k_root, path), progress=False)
    assert output_path(multi30k_root).read_bytes() == GERMAN.read_bytes()
    (warning,) = result.warnings
    assert warning.startswith(f"{path}:8: 1 translation(s) have ids not in the collection")
    assert "'999999.jpg#enc2de#0'" in warning and warning in caplog.text


def test_back_translation_needs_its_own_file(multi30k_root, tmp_path):
    cfg = config(multi30k_root, shuffled_copy(tmp_path))
    cfg.back_translate = True
    with pytest.raises(ValueError, match=r"give the back-translations their own file"):
        run_translate(cfg, progress=False)
    assert not output_path(multi30k_root).exists()  # refused before the forward step ran


def test_a_translation_file_with_a_bad_line_names_it(multi30k_root, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("1000092795.jpg#enc2de#0 Zwei Männer.\n1034985636.jpg#enc2de#0\n")
    with pytest.raises(ValueError, match=rf"{path}:2: caption line without text"):
        run_translate(config(multi30k_root, path), progress=False)
