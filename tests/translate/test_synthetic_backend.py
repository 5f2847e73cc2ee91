"""The synthetic backend: what it calls the world's MT (`ccrkit.world.mt.translate`) with, where
its defaults come from, errors, and that it redoes a real tiny world's MT files byte for byte."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from ccrkit.translate import BackendConfig, TranslateConfig, TranslationError, run_translate
from ccrkit.world import mt as world_mt

INDEX = ("index of", ["worldimage_frames.jsonl.gz"])  # what the stand-in FrameIndex.load returns


@dataclass(frozen=True)
class FakeResult:
    text: str
    noise_types: tuple[str, ...] = ()


def install_world_mt(monkeypatch, root, translate) -> None:
    """Stand-ins for the world's translate and caption index, and an (empty) index file."""
    monkeypatch.setattr(world_mt, "translate", translate)
    monkeypatch.setattr(
        world_mt.FrameIndex,
        "load",
        classmethod(lambda cls, paths: ("index of", [p.name for p in paths])),
    )
    (root / "worldimage" / "TextData" / "worldimage_frames.jsonl.gz").write_bytes(b"")


def write_world_json(root, seed=7, noise=0.12, back_noise=0.08):
    record = {"seed": seed, "mt": {"noise": noise, "back_noise": back_noise},
              "config": {"mt": {"weights": {"dropped_word": 2.0}}}}  # fmt: skip
    (root / "world.json").write_text(json.dumps(record))


def config(root, **options) -> TranslateConfig:
    return TranslateConfig(data="world-image", root=str(root), splits=["train"], tgt="de",
                           forward=BackendConfig(backend="synthetic", options=options),
                           back_translate=True, cache=str(root / "cache.sqlite"))  # fmt: skip


def lines(root, name):
    return (root / "worldimage" / "TextData" / name).read_text(encoding="utf-8").splitlines()


def test_agreed_entry_point_with_the_worlds_recorded_noise_and_seed(world_root, monkeypatch):
    calls = []

    def translate(captions, src, tgt, noise, seed, index, weights):
        calls.append((len(captions), src, tgt, noise, seed, index, weights))
        return [FakeResult(f"[{src}>{tgt} {noise}] {text}") for text in captions]

    install_world_mt(monkeypatch, world_root, translate)
    write_world_json(world_root)
    results, backends = run_translate(config(world_root), progress=False)
    # one call per job, every caption in file order: en->de with noise, de->en with back_noise
    weights = {"dropped_word": 2.0}
    assert calls == [(4, "en", "de", 0.12, 7, INDEX, weights), (4, "de", "en", 0.08, 7, INDEX, weights),
                     (4, "de", "en", 0.08, 7, INDEX, weights)]  # fmt: skip
    mt = lines(world_root, "worldimagetrain_synthetic_enc2de.caption.txt")
    assert (
        mt[0]
        == "img00000#enc2de#0 [en>de 0.12] Two young, White males are outside near many bushes."
    )
    bt = lines(world_root, "worldimagetrain_synthetic_enc2de2enc.caption.txt")
    assert bt[3].startswith("img00001#enc2de2enc#1 [de>en 0.08] [en>de 0.12] Two young")
    xx2enc = lines(world_root, "worldimagetrain_synthetic_de2enc.caption.txt")
    assert (
        xx2enc[0]
        == "img00000#de2enc#0 [de>en 0.08] Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche."
    )
    assert backends["forward"] == {"backend": "synthetic", "src": "en", "tgt": "de", "noise": 0.12,
        "seed": 7, "weights": {"dropped_word": 2.0}}  # fmt: skip
    assert [r.stats.cached for r in results] == [0, 0, 0]  # not cached: the world's MT is cheap


def test_named_config_runs_the_world_mt_through_the_cli(world_root, monkeypatch):
    from ccrkit.cli.main import main

    install_world_mt(
        monkeypatch, world_root, lambda texts, *args: [FakeResult(t[::-1]) for t in texts]
    )
    write_world_json(world_root)
    args = ["translate", "--config", "world-synthetic", "--root", str(world_root), "--tgt", "de",
            "--split", "train,val", "--cache", str(world_root / "c"), "--out", str(world_root / "r"),
            "--no-progress"]  # fmt: skip
    assert main(args) == 0
    record = json.loads((world_root / "r" / "run.json").read_text())
    assert sorted(record["metrics"]) == ["train/de2enc", "train/enc2de", "train/enc2de2enc",
                                         "val/de2enc", "val/enc2de", "val/enc2de2enc"]  # fmt: skip
    bt = lines(world_root, "worldimageval_synthetic_enc2de2enc.caption.txt")
    assert bt[0] == "img00002#enc2de2enc#0 Two young, White males are outside near many bushes."


def test_options_override_the_worlds_weights_noise_and_seed(world_root, monkeypatch):
    seen = []

    def translate(captions, src, tgt, noise, seed, index, weights):
        seen.append((noise, seed, index, weights))
        return [FakeResult(text.upper()) for text in captions]

    install_world_mt(monkeypatch, world_root, translate)
    write_world_json(world_root)
    run_translate(config(world_root, noise=0.3, seed=1, weights={"agreement": 0.5}), progress=False)
    assert seen[0] == (0.3, 1, INDEX, {"agreement": 0.5})


def test_without_a_world_record_noise_and_seed_must_be_given(world_root, monkeypatch):
    install_world_mt(monkeypatch, world_root, lambda *args: [])
    with pytest.raises(
        TranslationError, match=r"no world.json under .*set options.noise and options.seed"
    ):
        run_translate(config(world_root), progress=False)


def test_a_missing_caption_index_is_named(world_root):
    write_world_json(world_root)
    with pytest.raises(FileNotFoundError, match=r"caption index is missing: .*worldimage_frames"):
        run_translate(config(world_root), progress=False)


def test_world_errors_name_the_direction(world_root, monkeypatch):
    def translate(captions, src, tgt, noise, seed, index, weights):
        raise ValueError("unknown en caption: 'x'")

    install_world_mt(monkeypatch, world_root, translate)
    write_world_json(world_root)
    with pytest.raises(TranslationError, match=r"synthetic MT en->de: unknown en caption"):
        run_translate(config(world_root), progress=False)


def test_the_synthetic_backend_reproduces_the_worlds_mt_files_exactly(tiny_world, tmp_path):
    """The issue's 'done when': `ccrkit translate --backend synthetic` rewrites the world's MT."""
    import shutil

    world = tiny_world
    copy = tmp_path / "copy"
    shutil.copytree(world, copy)
    produced = sorted(copy.glob("world*/TextData/*_synthetic_*.caption.txt"))
    for path in produced:
        path.unlink()
    for data in ("world-image", "world-video"):
        for lang in ("de", "fr", "cs", "zh", "ja"):
            cfg = TranslateConfig(data=data, root=str(copy), splits=["train", "val", "test"],
                                  tgt=lang, forward=BackendConfig(backend="synthetic"),
                                  back_translate=True, cache=str(tmp_path / "cache.sqlite"))  # fmt: skip
            run_translate(cfg, progress=False)
    assert produced, "the world wrote no synthetic MT files"
    for path in produced:
        original = world / path.relative_to(copy)
        assert path.read_bytes() == original.read_bytes(), path.name
