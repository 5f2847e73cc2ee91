"""`data check`: validate a spec's files before any training, reporting every problem at once.

Checked per split: every caption file the spec names exists, is UTF-8 (a file in UTF-16/32 is one
problem naming its encoding), holds captions in well-formed lines with text, no duplicate ids
and the tag its role expects; every view joins its base caption (MT and back-translation to the
source, MT-into-English to the human caption); captions per item match the spec; every caption's
item is in the item list and has visual data; features are finite numbers of the expected
dimension, the same in every split checked.

This is the one validation of the data: `ccrkit train` and `ccrkit evaluate` run it on the files
they are about to read (`check_files`) and refuse on any problem, so they cannot accept what
`data check` rejects, nor the reverse.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ccrkit.data.batch import view_key
from ccrkit.data.captions import LINE_FORMAT, CaptionRecord, read_captions
from ccrkit.data.errors import DataError
from ccrkit.data.media import check_image
from ccrkit.data.spec import ROLES, DataSpec
from ccrkit.data.text import read_id_list
from ccrkit.data.visual import VisualLoader, resolve_store

JOINS = {"mt": "source", "bt": "source", "human_to_en": "human"}
EVAL_ROLES = ("source", "human", "human_to_en")  # what an evaluation split reads


@dataclass
class SplitSummary:
    split: str
    collection: str
    items: int = 0
    captions: dict[str, int] = field(default_factory=dict)
    languages: list[str] = field(default_factory=list)
    visual: str = ""
    feature_dim: int | None = None


@dataclass
class DataReport:
    spec: str
    root: str
    feature: str | None
    splits: dict[str, SplitSummary] = field(default_factory=dict)
    problems: list[DataError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: DataError) -> None:
        self.problems.append(problem)

    def raise_for_problems(self, limit: int = 10) -> None:
        """Raise one DataError summarising the problems (for training and evaluation)."""
        if self.problems:
            shown = "; ".join(str(p) for p in self.problems[:limit])
            more = f" (+{len(self.problems) - limit} more)" if len(self.problems) > limit else ""
            raise DataError(
                f"data check of '{self.spec}' found {len(self.problems)} problem(s): {shown}{more}; run `ccrkit data check` for the full list"
            )

    def table(self) -> str:
        header = ("split", "collection", "items", "captions", "languages", "visual", "dim")
        rows = [header]
        for s in self.splits.values():
            captions = ", ".join(f"{role} {count}" for role, count in s.captions.items()) or "-"
            dim = "-" if s.feature_dim is None else str(s.feature_dim)
            rows.append(
                (
                    s.split,
                    s.collection,
                    str(s.items),
                    captions,
                    " ".join(s.languages),
                    s.visual,
                    dim,
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        return "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows
        )

    def as_dict(self) -> dict:
        return {
            "spec": self.spec, "root": self.root, "feature": self.feature, "ok": self.ok,
            "splits": {name: vars(s) for name, s in self.splits.items()},
            "problems": [p.as_dict() for p in self.problems],
        }  # fmt: skip


def check_data(
    spec: DataSpec,
    root: str | Path,
    splits: list[str] | None = None,
    feature: str | None = None,
    *,
    feature_dim: int | None = None,
    decode_images: bool = False,
    roles: Mapping[str, Sequence[str]] | None = None,
    langs: Sequence[str] | None = None,
) -> DataReport:
    """Validate `splits` (default: all) of `spec` under `root`; never raises for bad data.

    `roles` ({split: roles}) and `langs` (target languages) narrow the caption files checked to
    those a command reads (default: every file the spec names)."""
    report = DataReport(spec.name, str(root), feature or spec.visual.feature)
    if not Path(root).is_dir():
        report.add(DataError("data root folder not found", root))
        return report
    unfinished = spec.unfinished(root)
    if unfinished is not None:
        report.add(unfinished)
        return report
    for split in splits or list(spec.splits):
        if split not in spec.splits:
            report.add(
                DataError(
                    f"data spec '{spec.name}' has no split '{split}'; splits: {', '.join(spec.splits)}"
                )
            )
            continue
        scope = (roles or {}).get(split, ROLES), list(langs or spec.target_langs)
        report.splits[split] = _SplitCheck(spec, Path(root), split, feature, report, scope).run(
            feature_dim, decode_images
        )
    _check_same_dim(report)
    return report


def check_files(
    spec: DataSpec,
    root: str | Path,
    roles: Mapping[str, Sequence[str]],
    langs: Sequence[str],
    feature: str | None = None,
) -> None:
    """Refuse, as one DataError, the files a command is about to read: the caption files of
    `roles` ({split: roles}) in `langs`, and the splits' visual data."""
    check_data(spec, root, list(roles), feature, roles=roles, langs=langs).raise_for_problems()


def _check_same_dim(report: DataReport) -> None:
    """One model reads every split: their features must have one width."""
    dims = {name: s.feature_dim for name, s in report.splits.items() if s.feature_dim is not None}
    if len(set(dims.values())) > 1:
        shown = ", ".join(f"{split} {dim}-d" for split, dim in dims.items())
        report.add(
            DataError(
                f"the splits' features have different dimensions ({shown}); one model reads them "
                f"all: use the same feature ('{report.feature}') in every split"
            )
        )


class _SplitCheck:
    def __init__(
        self,
        spec: DataSpec,
        root: Path,
        split: str,
        feature: str | None,
        report: DataReport,
        scope: tuple[Sequence[str], Sequence[str]] = (ROLES, ()),
    ):
        self.spec, self.root, self.split, self.feature, self.report = (
            spec,
            root,
            split,
            feature,
            report,
        )
        self.roles, self.langs = scope
        self.views: dict[tuple[str, str | None], tuple[Path, list[CaptionRecord]]] = {}
        self.summary = SplitSummary(split, spec.split(split).collection or spec.collection)

    def run(self, feature_dim: int | None, decode_images: bool) -> SplitSummary:
        self._read_captions()
        self._check_joins()
        self._check_counts()
        items = self._check_items()
        self._check_visual(items, feature_dim, decode_images)
        return self.summary

    def _read_captions(self) -> None:
        langs: set[str] = set()
        for role in ROLES:
            for lang in self.spec.langs_of(role):
                path = self.spec.caption_path(self.root, self.split, role, lang)
                if path is None or role not in self.roles or (lang and lang not in self.langs):
                    continue
                if not path.is_file():
                    self.report.add(
                        DataError(
                            f"caption file for '{view_key(role, lang)}' ({self.split}) not found",
                            path,
                        )
                    )
                    continue
                tag = self.spec.tag(role, lang)
                known = len(self.report.problems)
                records = read_captions(path, on_error=self.report.add, json_tag=tag)
                if not records and len(self.report.problems) == known:
                    self.report.add(DataError(f"no captions in the file; {LINE_FORMAT}", path))
                self._check_tags(path, records, tag, role, lang)
                self.views[(role, lang)] = (path, records)
                self.summary.captions[role] = self.summary.captions.get(role, 0) + len(records)
                langs.add(
                    self.spec.source_lang if role in ("source", "bt", "human_to_en") else lang
                )  # type: ignore[arg-type]
        order = [self.spec.source_lang, *self.spec.target_langs]
        self.summary.languages = [lang for lang in order if lang in langs]

    def _check_tags(
        self, path: Path, records: list[CaptionRecord], tag: str, role: str, lang: str | None
    ) -> None:
        for record in records:
            if record.tag != tag:
                self.report.add(
                    DataError(
                        f"caption id '{record.cap_id}' has tag '{record.tag}'; a '{view_key(role, lang)}' file expects tag '{tag}'",
                        path,
                        record.line,
                    )
                )

    def _check_joins(self) -> None:
        for (role, lang), (path, records) in self.views.items():
            base_role = JOINS.get(role)
            base = (
                self.views.get((base_role, None if base_role == "source" else lang))
                if base_role
                else None
            )
            if base is None:
                continue
            base_path, base_records = base
            ids = {record.cap_id for record in records}
            tag = self.spec.tag(role, lang)
            for record in base_records:
                if record.with_tag(tag) not in ids:
                    self.report.add(
                        DataError(
                            f"caption '{record.cap_id}' has no '{view_key(role, lang)}' view '{record.with_tag(tag)}' in {path}",
                            base_path,
                            record.line,
                        )
                    )

    def _check_counts(self) -> None:
        expected = self.spec.split(self.split).captions_per_item
        if expected is None:
            return
        for path, records in self.views.values():
            counts = Counter(record.item_id for record in records)
            first_line = {}
            for record in records:
                first_line.setdefault(record.item_id, record.line)
            for item, count in counts.items():
                if count != expected:
                    self.report.add(
                        DataError(
                            f"item '{item}' has {count} caption(s); the spec expects {expected} per item",
                            path,
                            first_line[item],
                        )
                    )

    def _check_items(self) -> list[str]:
        caption_items = list(
            dict.fromkeys(r.item_id for _, records in self.views.values() for r in records)
        )
        items_path = self.spec.items_path(self.root, self.split, self.feature)
        if items_path is None:
            self.summary.items = len(caption_items)
            return caption_items
        if not items_path.is_file():
            self.report.add(DataError("item list not found", items_path))
            return caption_items
        items = read_id_list(items_path, on_error=self.report.add)
        known = set(items)
        for path, records in self.views.values():
            for record in records:
                if record.item_id not in known:
                    self.report.add(
                        DataError(
                            f"caption '{record.cap_id}' names item '{record.item_id}', which is not in {items_path}",
                            path,
                            record.line,
                        )
                    )
                    known.add(record.item_id)  # one report per unknown item
        self.summary.items = len(items)
        return list(dict.fromkeys([*items, *caption_items]))

    def _check_visual(self, items: list[str], feature_dim: int | None, decode_images: bool) -> None:
        try:
            store = resolve_store(self.spec, self.root, self.split, self.feature)
            self.summary.visual = store.label
            loader = VisualLoader(store, max_frames=self.spec.visual.max_frames)
        except DataError as err:
            self.report.add(err)
            return
        for item in items:
            problem = loader.problem(item)
            if problem is None and decode_images and store.format == "images":
                problem = _image_problem(store.path / f"{item}{store.ext}")
            if problem is not None:
                self.report.add(problem)
        nonfinite = loader.nonfinite_problem()
        if nonfinite is not None:
            self.report.add(nonfinite)
        self.summary.feature_dim = loader.dim
        expected = feature_dim or self.spec.visual.dims.get(store.feature)
        if expected is not None and loader.dim is not None and loader.dim != expected:
            self.report.add(
                DataError(
                    f"feature dimension {loader.dim} differs from the expected {expected} for '{store.feature}'",
                    store.path,
                )
            )


def _image_problem(path: Path) -> DataError | None:
    try:
        check_image(path, decode=True)
    except DataError as err:
        return err
    return None
