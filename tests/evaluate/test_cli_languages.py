"""`ccrkit evaluate --checkpoint RUN --lang xx` with a language the run never trained on: it
still scores (zero-shot is a fair question), but says so."""

from __future__ import annotations

from ccrkit.cli.main import main


def test_a_language_the_run_was_not_trained_on_warns(tiny_run, tmp_path, capsys, caplog):
    argv = ["evaluate", "--checkpoint", str(tiny_run), "--lang", "fr", "--out", str(tmp_path)]
    assert main(argv) == 0
    assert (  # on stderr for a user (logging's last-resort handler); caught by pytest here
        f"warning: {tiny_run}: the model was trained on en, de only; fr queries are zero-shot "
        "for it (expect lower scores)"
    ) in caplog.text
    assert "| fr native |" in capsys.readouterr().out
    assert main(argv) == 2  # the same --out again: it holds a run now
    assert "already holds a run" in capsys.readouterr().err
