"""PyTorch datasets over a data spec: training examples per English caption, evaluation sets.

`TrainDataset` yields one `TrainExample` per English source caption: the item's visual input and
the caption views by role (`source`, `mt:<lang>`, `bt:<lang>`, ...; keys from `ccrkit.data.batch`).
`TrainCollate(tokenize)` turns a list of examples into a `TrainBatch`. `EvalDataset` holds the
queries of one target language (human captions and their MT into English) and the gallery.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ccrkit.data.batch import SOURCE_VIEW, TokenBatch, TrainBatch, VisualBatch, view_key
from ccrkit.data.captions import CaptionRecord, read_captions
from ccrkit.data.errors import DataError
from ccrkit.data.spec import DataSpec, load_data_spec
from ccrkit.data.text import read_id_list
from ccrkit.data.visual import VisualLoader, collate_visual

Tokenize = Callable[[list[str]], TokenBatch]


@dataclass
class TrainExample:
    item_id: str
    item_index: int
    visual: np.ndarray
    views: dict[str, str]
    index: int | None = None  # the example's row in its dataset (TrainBatch.example_index)


def read_view(
    spec: DataSpec, root: str | Path, split: str, role: str, lang: str | None = None
) -> list[CaptionRecord]:
    """The captions of one (split, role, language); a missing file says how to do without it."""
    path = spec.caption_path(root, split, role, lang)
    what = view_key(role, lang)
    if path is None and role == "source":
        raise DataError(
            f"data spec '{spec.name}' has no English source captions for split '{split}'; train on a split that has them"
        )
    if path is None:
        raise DataError(
            f"data spec '{spec.name}' has no '{role}' captions for split '{split}'; drop '{role}' from the roles asked for"
        )
    if not path.is_file():
        hint = (
            ""
            if role == "source"
            else f"; if you do not need '{what}', drop '{role}' from the roles (e.g. roles=('mt',))"
        )
        raise DataError(f"caption file for '{what}' ({split}) not found{hint}", path)
    return read_captions(path, json_tag=spec.tag(role, lang))


def join_view(
    base: list[CaptionRecord], other: list[CaptionRecord], tag: str, other_path: Path | None
) -> list[str]:
    """Texts of `other` aligned to `base` by rebuilding each id with `tag` (methods.md §1.5)."""
    by_id = {record.cap_id: record.text for record in other}
    texts = []
    for record in base:
        wanted = record.with_tag(tag)
        if wanted not in by_id:
            raise DataError(
                f"no caption '{wanted}' (the '{tag}' view of '{record.cap_id}')", other_path
            )
        texts.append(by_id[wanted])
    return texts


def split_items(
    spec: DataSpec, root: str | Path, split: str, records: list[CaptionRecord],
    feature: str | None = None,
) -> list[str]:  # fmt: skip
    """The split's item list (for a run reading `feature`): its `items` file, else items in
    order of first appearance."""
    path = spec.items_path(root, split, feature)
    if path is not None:
        return read_id_list(path)
    return list(dict.fromkeys(record.item_id for record in records))


def item_indices(items: list[str], records: list[CaptionRecord], path: Path | None) -> np.ndarray:
    index = {item: i for i, item in enumerate(items)}
    for record in records:
        if record.item_id not in index:
            raise DataError(
                f"caption '{record.cap_id}' names item '{record.item_id}', which is not in the split's item list",
                path,
                record.line,
            )
    return np.array([index[record.item_id] for record in records], dtype=np.int64)


class TrainDataset(Dataset):
    """One example per English source caption of `split`, with the requested target views."""

    def __init__(
        self,
        spec: DataSpec | str,
        root: str | Path,
        split: str = "train",
        target_langs: Sequence[str] | None = None,
        roles: Sequence[str] = ("mt", "bt"),
        feature: str | None = None,
        **visual_options,
    ):
        self.spec = load_data_spec(spec) if isinstance(spec, str) else spec
        self.root, self.split = Path(root), split
        _check_finished(self.spec, root)
        self.target_langs = list(target_langs or self.spec.target_langs)
        _check_langs(self.spec, self.target_langs)
        self.records = read_view(self.spec, root, split, "source")
        if not self.records:
            raise DataError("no source captions", self.spec.caption_path(root, split, "source"))
        self._views: dict[str, list[str]] = {SOURCE_VIEW: [r.text for r in self.records]}
        for lang in self.target_langs:
            for role in roles:
                if role == "source":
                    continue
                other = read_view(self.spec, root, split, role, lang)
                path = self.spec.caption_path(root, split, role, lang)
                self._views[view_key(role, lang)] = join_view(
                    self.records, other, self.spec.tag(role, lang), path
                )
        self.item_ids = split_items(self.spec, root, split, self.records, feature)
        source_path = self.spec.caption_path(root, split, "source")
        self.item_index = item_indices(self.item_ids, self.records, source_path)
        self.visual = VisualLoader.from_spec(self.spec, root, split, feature, **visual_options)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> TrainExample:
        record = self.records[index]
        views = {key: texts[index] for key, texts in self._views.items()}
        return TrainExample(
            record.item_id, int(self.item_index[index]), self.visual.load(record.item_id), views,
            index,
        )  # fmt: skip

    @property
    def view_keys(self) -> list[str]:
        return list(self._views)

    def texts(self, role: str, lang: str | None = None) -> list[str]:
        """Every text of one view, aligned with the examples (e.g. to train a tokenizer)."""
        key = view_key(role, None if role == SOURCE_VIEW else lang)
        if key not in self._views:
            raise KeyError(f"view '{key}' was not loaded; loaded: {', '.join(self._views)}")
        return self._views[key]


class TrainCollate:
    """list[TrainExample] -> TrainBatch, tokenising every view with the text encoder's tokenizer.

    `sort_by` (a view key, e.g. "source") orders the examples of each batch by that view's token
    count, longest first (stable), as NRCCR's collate does; batch membership does not change.
    """

    def __init__(self, tokenize: Tokenize, sort_by: str | None = None):
        self.tokenize, self.sort_by = tokenize, sort_by

    def __call__(self, examples: list[TrainExample]) -> TrainBatch:
        views = {}
        for key in examples[0].views:
            texts = [example.views[key] for example in examples]
            tokens = self.tokenize(texts)
            if not tokens.texts:
                tokens.texts = texts
            views[key] = tokens
        if self.sort_by is not None:
            order = self._longest_first(views)
            examples = [examples[i] for i in order]
            views = {key: _reorder(tokens, order) for key, tokens in views.items()}
        return TrainBatch(
            item_ids=[example.item_id for example in examples],
            item_index=torch.tensor([example.item_index for example in examples], dtype=torch.long),
            visual=collate_visual([example.visual for example in examples]),
            views=views,
            example_index=_example_index(examples),
        )

    def _longest_first(self, views: dict[str, TokenBatch]) -> list[int]:
        if self.sort_by not in views:
            raise DataError(
                f"data.sort_batch_by names view '{self.sort_by}' but the batch has: {', '.join(views)}"
            )
        lengths = views[self.sort_by].attention_mask.sum(dim=1).tolist()
        return sorted(range(len(lengths)), key=lambda i: -lengths[i])


def _example_index(examples: list[TrainExample]) -> torch.Tensor | None:
    """The examples' dataset rows, when every example knows its own (else None)."""
    rows = [example.index for example in examples]
    return None if None in rows else torch.tensor(rows, dtype=torch.long)


def _reorder(tokens: TokenBatch, order: list[int]) -> TokenBatch:
    index = torch.tensor(order, dtype=torch.long)
    texts = [tokens.texts[i] for i in order] if tokens.texts else []
    return TokenBatch(tokens.input_ids[index], tokens.attention_mask[index], texts)


class EvalDataset:
    """Queries of one target language and the gallery of one split.

    `query_texts`: the human target captions; `query_texts_to_en`: their MT into English (None
    when the spec has none); `query_item`: gallery index of every query; `source_texts` /
    `source_item`: the split's English captions when the spec lists them.
    """

    def __init__(
        self,
        spec: DataSpec | str,
        root: str | Path,
        split: str = "test",
        lang: str | None = None,
        feature: str | None = None,
        **visual_options,
    ):
        self.spec = load_data_spec(spec) if isinstance(spec, str) else spec
        self.root, self.split = Path(root), split
        _check_finished(self.spec, root)
        self.lang = lang or self.spec.target_langs[0]
        _check_langs(self.spec, [self.lang])
        queries = read_view(self.spec, root, split, "human", self.lang)
        query_path = self.spec.caption_path(root, split, "human", self.lang)
        if not queries:
            raise DataError("no query captions", query_path)
        self.query_ids = [record.cap_id for record in queries]
        self.query_texts = [record.text for record in queries]
        self.query_texts_to_en = self._to_english(queries)
        self.item_ids = split_items(self.spec, root, split, queries, feature)
        self.query_item = item_indices(self.item_ids, queries, query_path)
        self.source_texts, self.source_item = self._sources()
        self.visual = VisualLoader.from_spec(self.spec, root, split, feature, **visual_options)

    def _to_english(self, queries: list[CaptionRecord]) -> list[str] | None:
        path = self.spec.caption_path(self.root, self.split, "human_to_en", self.lang)
        if path is None:
            return None
        other = read_view(self.spec, self.root, self.split, "human_to_en", self.lang)
        return join_view(queries, other, self.spec.tag("human_to_en", self.lang), path)

    def _sources(self) -> tuple[list[str] | None, np.ndarray | None]:
        path = self.spec.caption_path(self.root, self.split, "source")
        if path is None:
            return None, None
        records = read_view(self.spec, self.root, self.split, "source")
        return [r.text for r in records], item_indices(self.item_ids, records, path)

    def __len__(self) -> int:
        return len(self.query_texts)

    def visual_batches(self, batch_size: int = 128) -> Iterator[VisualBatch]:
        """The gallery's visual input in gallery order (`item_ids`), `batch_size` items at a time."""
        for start in range(0, len(self.item_ids), batch_size):
            yield self.visual.batch(self.item_ids[start : start + batch_size])


def _check_finished(spec: DataSpec, root: str | Path) -> None:
    problem = spec.unfinished(root)
    if problem is not None:
        raise problem


def _check_langs(spec: DataSpec, langs: Sequence[str]) -> None:
    unknown = [lang for lang in langs if lang not in spec.target_langs]
    if unknown:
        raise DataError(
            f"data spec '{spec.name}' has no target language {', '.join(unknown)}; it has {', '.join(spec.target_langs)}"
        )
