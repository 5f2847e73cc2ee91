"""Index types as plug-ins: a type registered here is built, saved and searched through the
ordinary build and search code; every type's parameters are its own."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

from ccrkit.config import ConfigError
from ccrkit.index import (
    INDEX_TYPES,
    IndexConfig,
    IndexType,
    SearchIndex,
    TextSearcher,
    build_index,
    read_manifest,
)
from ccrkit.index.config import load_index_config
from ccrkit.index.toy import ToyModel, make_toy_gallery

BUILT_IN = ("flat", "flat16", "hnsw", "ivfpq")
DOC = Path(__file__).parents[2] / "docs" / "architecture.md"


@dataclass
class ScalarParams:
    bits: int = 8


@INDEX_TYPES.register("test-scalar")
class Scalar(IndexType):
    """FAISS's scalar quantizer (`bits` per dimension): needs training, approximate, no knob."""

    params_class = ScalarParams

    def factory(self, count: int, dim: int) -> str:
        return f"SQ{self.params.bits}"

    def memory_bytes(self, count: int, dim: int) -> int:
        return count * dim * self.params.bits // 8


def test_a_type_registered_here_is_built_saved_and_searched_like_the_built_in_ones(tmp_path):
    model, gallery = ToyModel(), make_toy_gallery(tmp_path / "collection", videos=1)
    config = IndexConfig(type="test-scalar", params={"bits": 6}, recall_queries=24)
    manifest = build_index(model, gallery, tmp_path / "index", config, progress=False)
    assert (manifest.index_type, manifest.factory) == ("test-scalar", "SQ6")
    assert manifest.index_bytes == 24 * 64 * 6 // 8 and manifest.search_params == {}
    assert 0.0 < manifest.recall_at_10 <= 1.0  # approximate: measured against exact search
    assert read_manifest(tmp_path / "index") == manifest
    for mmap in (False, True):
        index = SearchIndex(tmp_path / "index", mmap=mmap)
        searcher = TextSearcher(model, index)
        captions = [gallery.captions(i)[0] for i in gallery.item_ids]
        tops = [hits[0].item.item_id for hits in searcher.search(captions, "en", 1)]
        assert tops == gallery.item_ids  # 6-bit codes keep each caption's own item first
        similar = [h.item.item_id for h in index.similar("red-star", 3)]
        assert len(similar) == 3 and "red-star" not in similar
        index.close()
    # A manifest names the build's plug-ins but never imports them: opening says which to import
    saved = json.loads((tmp_path / "index" / "manifest.json").read_text())
    saved.update(index_type="elsewhere", plugins=["their_types"])
    (tmp_path / "index" / "manifest.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match=r"index type 'elsewhere' is registered by plug-in "
                       r"their_types; import it: ccrkit --plugin their_types"):  # fmt: skip
        SearchIndex(tmp_path / "index")
    with pytest.raises(ValueError, match=r"params\.nprobe: a parameter of index type ivfpq, "
                       r"not of 'test-scalar' \(its parameters: bits\)"):  # fmt: skip
        IndexConfig(type="test-scalar", params={"nprobe": 4})


def _own(name: str) -> list[str]:
    return [spec.name for spec in dataclasses.fields(INDEX_TYPES.get(name).params_class)]


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_built_in_type_refuses_a_parameter_of_another_naming_its_own(name):
    own = _own(name)
    foreign = {key: other for other in BUILT_IN if other != name for key in _own(other)}
    foreign = {key: other for key, other in foreign.items() if key not in own}
    assert foreign  # every built-in type lacks some other type's parameter
    takes = f"its parameters: {', '.join(own)}" if own else "it takes none"
    for key, owner in foreign.items():
        message = rf"params\.{key}: a parameter of index type {owner}, not of '{name}' \({takes}\)"
        with pytest.raises(ValueError, match=message):
            IndexConfig(type=name, params={key: 1})
        with pytest.raises(ConfigError, match=rf"override 'params\.{key}=1': {message}"):
            load_index_config(name, [f"{key}=1"])  # the short form the command line takes


def test_type_parameters_from_files_overrides_and_the_short_form():
    hnsw, _ = load_index_config("hnsw", ["ef_search=128"])
    assert hnsw.params == {"hnsw_m": 32, "ef_construction": 80, "ef_search": 128}
    assert load_index_config("hnsw", ["params.ef_search=128"])[0] == hnsw
    assert hnsw.kind.search_params() == {"efSearch": 128}
    ivfpq, _ = load_index_config("ivfpq", ["nprobe=8", "batch_size=16"])
    assert (ivfpq.params["nprobe"], ivfpq.params["pq_m"], ivfpq.batch_size) == (8, 16, 16)
    auto, _ = load_index_config("auto", ["rerank=50"])
    assert auto.settings.rerank == 50 and auto.target_recall == 0.95
    with pytest.raises(ConfigError, match=r"'params\.ef_search=0': .*ef_search must be >= 1"):
        load_index_config("hnsw", ["ef_search=0"])
    with pytest.raises(ConfigError, match=r"params\.batchsize: not a parameter of index type "
                       r"'flat' \(it takes none\), nor an index setting \(type, params, batch_size"):  # fmt: skip
        load_index_config("flat", ["batchsize=16"])
    with pytest.raises(ValueError, match=r"unknown index type 'annoy'; choices: flat, .*auto"):
        IndexConfig(type="annoy")


def test_the_documented_index_type_builds_and_searches(tmp_path):
    """The worked example of docs/architecture.md ("Adding to ccrkit"), run as written."""
    section = DOC.read_text(encoding="utf-8").split("## Adding to ccrkit", 1)[1]
    [code] = [c for c in re.findall(r"```python\n(.*?)```", section, re.S) if "INDEX_TYPES" in c]
    module = sys.modules["my_index_types"] = types.ModuleType("my_index_types")
    try:
        exec(compile(code, f"{DOC}:index-type", "exec", dont_inherit=True), module.__dict__)
        model, gallery = ToyModel(), make_toy_gallery(tmp_path / "collection", videos=1)
        config, _ = load_index_config("flat", ["type=sq", "bits=4", "recall_queries=24"])
        manifest = build_index(model, gallery, tmp_path / "index", config, progress=False)
        assert (manifest.factory, manifest.index_bytes) == ("SQ4", 24 * 64 * 4 // 8)
        hits = SearchIndex(tmp_path / "index").similar("red-star", 2)
        assert len(hits) == 2 and "red-star" not in [h.item.item_id for h in hits]
    finally:
        sys.modules.pop("my_index_types")
        INDEX_TYPES._entries.pop("sq", None)


def test_a_type_parameter_at_the_top_of_a_file_says_to_move_it_under_params(tmp_path):
    old = tmp_path / "old.yaml"
    old.write_text("type: ivfpq\nnprobe: 8\n", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"'nprobe' is a parameter of index type ivfpq: put it under `params:`"
    ):
        load_index_config(old)
    unrelated = tmp_path / "typo.yaml"
    unrelated.write_text("type: flat\nbach_size: 8\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown key 'bach_size'") as err:
        load_index_config(unrelated)
    assert "params:" not in str(err.value).split(";")[-1]
