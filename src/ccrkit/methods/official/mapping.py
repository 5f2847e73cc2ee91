"""Rename an official checkpoint's tensors to ccrkit's by prefix rules, accounting for each one.

A rule maps every official key that starts with `source` to `target` + the rest of the key; a
rule whose `target` is None drops what it matches, for a stated reason (a buffer ccrkit rebuilds,
a part the official forward never calls). The longest matching prefix wins. A tensor that no rule
matches is an error — so an import either places or knowingly drops every tensor, and the rules
double as the mapping table in the docs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch

from ccrkit.methods.official.torchfile import OfficialCheckpointError


@dataclass(frozen=True)
class Rule:
    source: str  # official key prefix ("" matches nothing on its own)
    target: str | None  # ccrkit key prefix; None: dropped
    note: str = ""


@dataclass
class Mapped:
    tensors: dict[str, torch.Tensor]  # ccrkit key -> tensor
    dropped: dict[str, str]  # official key -> why it has no place in ccrkit


def remap(
    official: Mapping[str, torch.Tensor], rules: Iterable[Rule], source: str, what: str
) -> Mapped:
    """Apply `rules` to every official tensor; unmatched keys end the import with their names."""
    ordered = sorted(rules, key=lambda rule: -len(rule.source))
    mapped = Mapped({}, {})
    unmatched = []
    for key, value in official.items():
        rule = next((r for r in ordered if r.source and key.startswith(r.source)), None)
        if rule is None:
            unmatched.append(key)
        elif rule.target is None:
            mapped.dropped[key] = rule.note
        else:
            mapped.tensors[rule.target + key[len(rule.source) :]] = value
    if unmatched:
        shown = ", ".join(sorted(unmatched)[:5]) + (" ..." if len(unmatched) > 5 else "")
        raise OfficialCheckpointError(
            f"{source}: not {what}: {len(unmatched)} tensor(s) that {what} does not have: {shown}"
        )
    return mapped


def note_counts(notes: Mapping[str, str]) -> dict[str, int]:
    """{reason: how many tensors} of a {key: reason} mapping (what an import reports)."""
    counts: dict[str, int] = {}
    for note in notes.values():
        counts[note] = counts.get(note, 0) + 1
    return counts


def strip_prefix(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """`state` with `prefix` removed where present (DataParallel's `module.`)."""
    return {k[len(prefix) :] if k.startswith(prefix) else k: v for k, v in state.items()}


def qualify(name: str, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state` with every key prefixed by `name.` (one namespace for several state dicts)."""
    return {f"{name}.{key}": value for key, value in state.items()}
