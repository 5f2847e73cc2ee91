"""The measured ceiling: how well any model can retrieve on the world's test split when all it
knows of a caption is the truth of what the caption says.

A caption's *match set* is every test item whose scene satisfies everything the caption's frame
says: each mentioned object is present as a distinct object with every said attribute (shape,
colour, size, texture, cell of the 3x3 grid), the said relation holds with the same geometry the
captions use (`scene.relation`), the picture holds the said number of objects, and for a video
every event happens, in the said order, to the said object, with the said argument. The caption's own
item is always in it. A model that scores exactly the satisfied (caption, item) pairs highest
ranks the match set first, in an order it has no reason to prefer: the oracle is that model
with uniform random tie-breaking, and its metrics are expectations over the tie order.

- t2v R@K of a caption with a match set of m items: min(1, K/m) (the true item is equally likely
  at each of the first m ranks); its expected rank (m + 1) / 2.
- v2t R@K of an item i: among the n_i captions whose match sets contain i are its own g_i
  captions; R@K = 1 - C(n_i - g_i, K) / C(n_i, K), the chance that a random order of the n_i puts
  one of its own in the first K.

A model that also knew how likely each scene is to be *described* a given way (a one-object scene
gets one-object captions more often than a three-object scene does) could rank above this
ceiling; the oracle is the ceiling of recognising what a caption says, not of guessing how a
caption was written.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ccrkit.world.concepts import Frame, Mention
from ccrkit.world.layout import caption_parts
from ccrkit.world.scene import Obj, Scene, grid_cell, relation

KS = (1, 5, 10)


def mention_fits(mention: Mention, obj: Obj) -> bool:
    """Whether `obj` has every attribute the mention says (unsaid attributes fit anything)."""
    return (
        mention.shape == obj.shape
        and (mention.colour is None or mention.colour == obj.colour)
        and (mention.size is None or mention.size == obj.size)
        and (mention.texture is None or mention.texture == obj.texture)
        and (mention.position is None or mention.position == grid_cell(obj))
    )


def satisfies(scene: Scene, frame: Frame) -> bool:
    """Whether the scene makes everything the frame says true (see the module docstring)."""
    if frame.count is not None and frame.count != len(scene.objects):
        return False
    if frame.events and len(frame.events) != len(scene.events):
        return False
    options = [
        [k for k, obj in enumerate(scene.objects) if mention_fits(m, obj)] for m in frame.objects
    ]
    for assignment in itertools.product(*options):
        if len(set(assignment)) == len(assignment) and _holds(scene, frame, assignment):
            return True
    return False


def _holds(scene: Scene, frame: Frame, assignment: Sequence[int]) -> bool:
    """The relation and the events under one assignment of mentions to scene objects."""
    objects = scene.objects
    if frame.relation is not None:
        a, b = assignment[0], assignment[1]
        if relation(objects[a], objects[b]) != frame.relation:
            return False
    return all(
        s.subject == assignment[f.subject] and s.kind == f.kind and s.arg == f.arg
        for s, f in zip(scene.events, frame.events, strict=False)
    )


def match_sets(scenes: Sequence[Scene], frames: Sequence[Frame]) -> list[list[int]]:
    """For every frame, the indices of the scenes that satisfy it. Candidates come from an index
    of (shape, colour) and shape alone, so each frame is checked against few scenes only."""
    by_key: dict[tuple[str, str | None], set[int]] = {}
    for i, scene in enumerate(scenes):
        for obj in scene.objects:
            by_key.setdefault((obj.shape, obj.colour), set()).add(i)
            by_key.setdefault((obj.shape, None), set()).add(i)
    everything = set(range(len(scenes)))
    cache: dict[Frame, list[int]] = {}
    out = []
    for frame in frames:
        found = cache.get(frame)
        if found is None:
            pools = [by_key.get((m.shape, m.colour), set()) for m in frame.objects]
            candidates = set.intersection(*pools) if pools else everything
            found = cache[frame] = sorted(i for i in candidates if satisfies(scenes[i], frame))
        out.append(found)
    return out


def oracle_metrics(matches: Sequence[Sequence[int]], owners: Sequence[int]) -> dict[str, Any]:
    """The oracle's expected t2v and v2t R@1/5/10 (percent), SumR and t2v expected mean rank,
    from each caption's match set and the index of the item it was written for."""
    sizes = []
    for found, owner in zip(matches, owners, strict=True):
        if owner not in found:
            raise ValueError(f"a caption of item {owner} does not match its own scene")
        sizes.append(len(found))
    out: dict[str, Any] = {}
    for k in KS:
        out[f"t2v_r{k}"] = _percent(sum(min(1.0, k / m) for m in sizes) / len(sizes))
    matching: Counter[int] = Counter(i for found in matches for i in found)
    own: Counter[int] = Counter(owners)
    for k in KS:
        hits = [1.0 - _miss_all(matching[i], own[i], k) for i in own]
        out[f"v2t_r{k}"] = _percent(sum(hits) / len(hits))
    out["sumr"] = round(sum(out[f"{d}_r{k}"] for d in ("t2v", "v2t") for k in KS), 2)
    out["t2v_mean_rank"] = round(sum((m + 1) / 2 for m in sizes) / len(sizes), 2)
    out["median_match_set"] = statistics.median(sizes)
    out["unique_match_share"] = _percent(sum(m == 1 for m in sizes) / len(sizes))
    out["captions"], out["items"] = len(sizes), len(own)
    return out


def _miss_all(n: int, g: int, k: int) -> float:
    """C(n - g, k) / C(n, k): none of g marked among k drawn without replacement from n."""
    p = 1.0
    for j in range(k):
        if n - g - j <= 0:
            return 0.0
        p *= (n - g - j) / (n - j)
    return p


def _percent(x: float) -> float:
    return round(100.0 * x, 2)


def colour_shape_only(frame: Frame) -> Frame:
    """What a caption model that reads only shapes and colours keeps of a frame: every mentioned
    object's shape and colour, joined by 'and' (no relation, size, texture, position, count or
    event)."""
    return Frame(tuple(Mention(m.shape, m.colour) for m in frame.objects))


def without_layout(frame: Frame) -> Frame:
    """The frame without what tells family siblings apart by layout: every mentioned object with
    all its attributes but its position; no relation, count or event."""
    return Frame(tuple(replace(m, position=None) for m in frame.objects))


def sibling_share(
    scenes: Sequence[Scene], matches: Sequence[Sequence[int]], owners: Sequence[int]
) -> float:
    """Percent of captions whose match set holds a scene of the owner's family other than the
    owner itself (a near-duplicate the caption does not rule out)."""
    hit = sum(
        any(i != owner and scenes[i].family == scenes[owner].family for i in found)
        for found, owner in zip(matches, owners, strict=True)
    )
    return _percent(hit / len(owners))


def collection_oracle(
    scenes: Sequence[Scene], frames: Sequence[Frame], owners: Sequence[int]
) -> dict[str, Any]:
    """The oracle of one test split (its scenes; every caption's frame and its item's index),
    with two weaker readers beside it: captions cut to shapes and colours, and captions without
    relations, positions, counts and events; each with the share of captions whose match set
    still holds a family sibling of their item."""
    full = match_sets(scenes, frames)
    out = oracle_metrics(full, owners)
    out["family_sibling_share"] = sibling_share(scenes, full, owners)
    for name, reduce in (("colour_shape_only", colour_shape_only), ("no_layout", without_layout)):
        reduced = match_sets(scenes, [reduce(f) for f in frames])
        metrics = oracle_metrics(reduced, owners)
        out[name] = {
            "sumr": metrics["sumr"],
            "t2v_r1": metrics["t2v_r1"],
            "family_sibling_share": sibling_share(scenes, reduced, owners),
        }
    return out


def split_oracle(
    items: Sequence[tuple[str, Scene]], caption_ids: Sequence[str], frames: Sequence[Frame]
) -> dict[str, Any]:
    """`collection_oracle` of one split: its items and their captions (ids `<item>#<tag>#<n>`)."""
    index = {item: i for i, (item, _) in enumerate(items)}
    owners = [index[caption_parts(cid)[0]] for cid in caption_ids]
    return collection_oracle([scene for _, scene in items], frames, owners)
