"""`<out>/README.md`: the comparison report — every grid page in the folder, in one document.

Each grid that `ccrkit report` wrote leaves `<grid>.json` (its numbers) and `<grid>.md` (its page:
provenance, budget and hardware, tables, plots). The index opens with a summary (what was
compared, on what data, which of the papers' claims hold), the claims table of every grid, and
the provenance of each page — its commit and code hash, with a warning where the code or configs
that made it have changed since (`report.provenance`) — then includes every page whole (its
title as a section, its headings one level down, its plots in place). It is regenerated whenever
any grid is reported, so grids added later (other methods, other worlds) appear without code
changes.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from ccrkit.report.aggregate import span
from ccrkit.report.claims import claims_table
from ccrkit.report.provenance import code_state, stale_parts
from ccrkit.runs import write_atomic

INDEX = "README.md"


def grid_pages(out: Path) -> list[dict[str, Any]]:
    """The grids reported into `out`: their JSON summaries (sorted by grid name)."""
    pages = []
    for path in sorted(out.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            continue
        if isinstance(data, dict) and "grid" in data and (out / f"{data['grid']}.md").is_file():
            pages.append(data)
    return pages


def demoted_body(page: str) -> list[str]:
    """A grid page without its title line, every Markdown heading one level deeper."""
    lines = page.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return [f"#{line}" if line.startswith("#") else line for line in lines]


def staleness(out: Path, current: dict[str, Any] | None = None) -> list[tuple[str, bool]]:
    """Per grid page in `out`: (a line saying which code made it and whether that changed since,
    stale?)."""
    current = current or code_state()
    found = []
    for data in grid_pages(out):
        recorded = data.get("code")
        configs = (recorded or {}).get("configs")
        now = current if configs is None else code_state(configs)  # the files the page read
        parts = stale_parts(recorded, now)
        name = f"{out}/{data['grid']}.md"
        if parts is None:
            found.append(
                (f"{name}: stale? it records no code hash (made before they were kept)", True)
            )
        elif parts:
            commit = (recorded or {}).get("commit") or "unknown"
            found.append((
                f"{name}: stale: made at commit {commit}; changed since: {', '.join(parts)} "
                f"— regenerate with `ccrkit report --grid {data.get('source', data['grid'])}`",
                True,
            ))  # fmt: skip
        else:
            found.append((f"{name}: up to date with this code ({now['digest']})", False))
    return found


def summary(pages: list[dict[str, Any]]) -> list[str]:
    """A few lines: what was compared, on what data, how many seeds and runs, which claims hold."""
    facts = [data["summary"] for data in pages if data.get("summary")]
    if not facts:
        return ["## Summary", "", "No page below records what it compared (they predate the "
                "summary); `make report` regenerates them."]  # fmt: skip
    methods = list(dict.fromkeys(m for f in facts for m in f.get("methods", [])))
    matched = sum(len(f.get("matched", [])) for f in facts)
    langs = list(dict.fromkeys(lang for f in facts for lang in f.get("langs", [])))
    noise = sorted({n for f in facts for n in f.get("noise", [])})
    seeds = [s for f in facts for s in f.get("seeds", [])]
    runs = _distinct(facts, "run_dirs", "runs")
    capped = _distinct(facts, "capped_dirs", "capped_runs")
    rising = _distinct(facts, "rising_dirs", "rising_runs")
    worlds = sorted({w for f in facts for w in f.get("worlds", [])})
    configs = sorted({f["world_config"] for f in facts if f.get("world_config")})
    claims = [c for data in pages for c in data.get("claims", [])]
    verdicts = Counter(c["verdict"] for c in claims)
    partial = sum(bool(c.get("partial")) for c in claims)
    untrained = sum(f.get("untrained_runs", 0) for f in facts)
    lines = [
        "## Summary",
        "",
        f"- **Compared**: {', '.join(methods) or '–'}"
        + (
            f"; each method against its matched translate-train baseline ({matched} in all: "
            "the method's own towers, loss family and recipe with its components off)"
            if matched
            else ""
        )
        + f"; in {', '.join(langs) or '–'}; at MT noise {', '.join(f'{n:g}' for n in noise)}.",
        f"- **Data**: the synthetic world ({', '.join(configs) or 'world config'}; "
        f"{len(worlds)} world(s): {', '.join(f'`{w}`' for w in worlds)}), native and "
        "translate-test-fused human queries of its test split.",
        f"- **Runs**: {runs}"
        + (f" ({untrained} of them not trained yet: partial pages)" if untrained else "")
        + ", each trained to early stopping on the validation selection metric"
        + _capped_note(capped, rising)
        + (f"; {span(seeds)} seeds per cell." if seeds else "."),
    ]
    if claims:
        lines.append(
            f"- **Claims**: {len(claims)} tested — {verdicts.get('holds', 0)} hold, "
            f"{verdicts.get('does not hold', 0)} do not hold, "
            f"{verdicts.get('inconclusive', 0)} inconclusive"
            + (f", {partial} of all on a partial page" if partial else "")
            + " (Welch's t-test over seeds, p < 0.05; table below)."
        )
    return lines


def _capped_note(capped: int, rising: int) -> str:
    """The summary's note on capped runs, such as "(5 stopped by the epoch cap: budget-limited;
    3 of them still improving at it)" after a space; empty where no run was capped."""
    if not capped:
        return ""
    still = f"; {rising} of them still improving at it" if rising else ""
    return f" ({capped} stopped by the epoch cap: budget-limited{still})"


def _distinct(facts: list[dict[str, Any]], names: str, count: str) -> int:
    """How many runs the pages name under `names`, a run shared by pages counted once; pages
    from before run names were kept give only `count`, which is then summed."""
    if all(names in f for f in facts):
        return len({name for f in facts for name in f[names]})
    return sum(f.get(count, 0) for f in facts)


def write_index(out: Path) -> Path:
    """Write `<out>/README.md` from the grid pages in `out`."""
    pages = grid_pages(out)
    commands = " ".join(f"--grid {data.get('source', data['grid'])}" for data in pages)
    current = code_state()
    lines = [
        "# Results",
        "",
        "Measured results of ccrkit, regenerated by `make report` "
        f"(`ccrkit report {commands or '--grid NAME'}`): every grid page of this folder, whole. "
        "Runs are cached by config hash, so regenerating trains only what is missing.",
        "",
        *summary(pages),
        "",
    ]
    claims = [c for data in pages for c in data.get("claims", [])]
    if claims:
        lines += ["## The papers' claims", "", claims_table(claims), ""]
    lines += ["## Provenance", ""]
    for data, (line, stale) in zip(pages, staleness(out, current), strict=True):
        code = data.get("code") or {}
        lines.append(
            f"- [{data.get('title') or data['grid']}]({data['grid']}.md) — "
            f"`ccrkit report --grid {data.get('source', data['grid'])}`, generated "
            f"{data.get('generated', '?')} at commit {code.get('commit') or 'unknown'} "
            f"(code hash {code.get('digest') or '?'})"
            + (f". **Warning** — {line.split(': ', 1)[1]}" if stale else "")
        )
    lines += [
        "",
        f"This index was written by code hash {current['digest']}; `ccrkit report --check "
        f"--index {out}` says whether a page is stale.",
    ]
    for data in pages:
        name = data["grid"]
        page = (out / f"{name}.md").read_text(encoding="utf-8")
        lines += ["", f"## {data.get('title') or name}", "", f"Page: [{name}.md]({name}.md)"]
        lines += demoted_body(page)
    path = out / INDEX
    write_atomic(path, ("\n".join(lines).rstrip() + "\n").encode("utf-8"))
    return path
