"""What `ccrkit translate` will do for each split, planned from the data spec alone.

Three steps, each one caption file in and one out, named by the spec (so the next command reads
the output like any official file):

- `mt` (forward): source captions (`enc`) -> role `mt` (`enc2xx`);
- `bt` (back, with --back): the MT captions -> role `bt` (`enc2xx2enc`), plus the round-trip
  scores beside the MT file;
- `translate_test` (back, with --back): human target captions (`xx`) -> role `human_to_en`
  (`xx2enc`), the English view of target-language queries that NRCCR's evaluation fuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ccrkit.data import DataError, DataSpec
from ccrkit.translate.roundtrip import roundtrip_path

FORWARD, BACK = "forward", "back"


@dataclass(frozen=True)
class Job:
    split: str
    step: str  # mt | bt | translate_test
    direction: str  # forward | back: which backend translates it
    src: str  # languages of this translation
    tgt: str
    input_path: Path
    output_path: Path
    output_tag: str
    reference_path: Path | None = None  # human captions in `tgt` (BLEU/chrF), if the spec has them
    source_path: Path | None = None  # bt: the English source the round trip is scored against

    @property
    def label(self) -> str:
        return f"{self.split} {self.output_tag}"

    def outputs(self) -> list[Path]:
        """Every file this job writes (bt also writes the round-trip file beside the MT input)."""
        extra = [roundtrip_path(self.input_path)] if self.step == "bt" else []
        return [self.output_path, *extra]


def plan_jobs(
    spec: DataSpec, root: str | Path, splits: list[str], src: str, tgt: str, back: bool
) -> list[Job]:
    """The jobs of every split, in the order they must run (mt before the bt that reads it)."""
    if src != spec.source_lang:
        raise DataError(
            f"data spec '{spec.name}' has {spec.source_lang} source captions, not {src}; "
            f"use --src {spec.source_lang}"
        )
    jobs: list[Job] = []
    for split in splits:
        found = _split_jobs(spec, Path(root), split, src, tgt, back)
        if not found:
            raise DataError(_nothing_to_do(spec, split, tgt, back))
        jobs += found
    return jobs


def _split_jobs(
    spec: DataSpec, root: Path, split: str, src: str, tgt: str, back: bool
) -> list[Job]:
    path = {
        role: spec.caption_path(root, split, role, tgt)
        for role in ("mt", "bt", "human", "human_to_en")
    }
    path["source"] = spec.caption_path(root, split, "source")
    human = path["human"] if path["human"] is not None and path["human"].is_file() else None
    source = path["source"] if path["source"] is not None and path["source"].is_file() else None
    jobs = []
    if path["source"] is not None and path["mt"] is not None:
        jobs.append(Job(split, "mt", FORWARD, src, tgt, path["source"], path["mt"],
                        spec.tag("mt", tgt), reference_path=human))  # fmt: skip
    if back and path["mt"] is not None and path["bt"] is not None:
        jobs.append(Job(split, "bt", BACK, tgt, src, path["mt"], path["bt"], spec.tag("bt", tgt),
                        reference_path=source, source_path=path["source"]))  # fmt: skip
    if back and path["human"] is not None and path["human_to_en"] is not None:
        jobs.append(Job(split, "translate_test", BACK, tgt, src, path["human"],
                        path["human_to_en"], spec.tag("human_to_en", tgt), reference_path=source))  # fmt: skip
    return jobs


def _nothing_to_do(spec: DataSpec, split: str, tgt: str, back: bool) -> str:
    roles = [
        r
        for r in ("source", "mt", "bt", "human", "human_to_en")
        if getattr(spec.split(split).captions, r)
    ]
    message = (
        f"data spec '{spec.name}', split '{split}': nothing to translate "
        f"(caption roles there: {', '.join(roles) or 'none'})"
    )
    if not back and spec.split(split).captions.human and spec.split(split).captions.human_to_en:
        message += f"; pass --back to translate its human {tgt} captions into English (xx2enc)"
    return message


def check_outputs(jobs: list[Job], force: bool, keep_existing: bool) -> dict[Path, str]:
    """output -> 'write' or 'keep'; existing outputs are an error unless --force/--keep-existing."""
    actions: dict[Path, str] = {}
    existing = []
    for job in jobs:
        keep = keep_existing and job.output_path.exists()
        actions[job.output_path] = "keep" if keep else "write"
        if not force and not keep:  # a job that writes overwrites none of its outputs silently
            existing += [p for p in job.outputs() if p.exists()]
    if existing:
        names = ", ".join(str(p) for p in existing)
        raise FileExistsError(
            f"output exists: {names}; pass --force to overwrite (cached translations are reused) "
            "or --keep-existing to keep it"
        )
    return actions
