"""Metrics against hand-computed cases, properties, and a brute-force loop reference."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

from ccrkit.evaluate.metrics import METRIC_KEYS, fuse, metrics_from_ranks, mrv, retrieval_metrics
from ccrkit.evaluate.ranking import TIE_POLICIES, Ranks, compute_ranks
from ccrkit.evaluate.scores import EmbeddingScores, FusedScores, MatrixScores, top_k

# ---------------------------------------------------------------- brute-force reference (plain loops)


def _reference_order(scores, relevant, ties):
    """Candidate indices sorted best first, ties broken by the named policy."""
    if ties == "pessimistic":
        return sorted(range(len(scores)), key=lambda c: (-scores[c], relevant[c]))
    if ties == "optimistic":
        return sorted(range(len(scores)), key=lambda c: (-scores[c], not relevant[c]))
    return sorted(range(len(scores)), key=lambda c: (-scores[c], c))


def _reference_metrics(sim, query_item, ties):
    n_queries, n_items = sim.shape
    t2v = []
    for q in range(n_queries):
        relevant = [j == query_item[q] for j in range(n_items)]
        order = _reference_order(list(sim[q]), relevant, ties)
        t2v.append(order.index(query_item[q]) + 1)
    v2t, aps = [], []
    for i in range(n_items):
        relevant = [query_item[c] == i for c in range(n_queries)]
        order = _reference_order(list(sim[:, i]), relevant, ties)
        positions = [p + 1 for p, c in enumerate(order) if relevant[c]]
        v2t.append(positions[0])
        aps.append(sum((k + 1) / pos for k, pos in enumerate(positions)) / len(positions))
    ranks = Ranks(np.array(t2v), np.array(v2t), np.array(aps))
    return ranks, metrics_from_ranks(ranks)


# ---------------------------------------------------------------------------- hand-computed cases


def test_two_by_two_perfect():
    m = retrieval_metrics(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 1]))
    assert m["t2v_r1"] == m["v2t_r1"] == 100.0
    assert m["t2v_medr"] == m["v2t_medr"] == 1.0
    assert m["t2v_map"] == m["v2t_map"] == 1.0
    assert m["sumr"] == 600.0 and m["mr"] == 100.0
    assert list(m) == list(METRIC_KEYS)


def test_three_by_three_known_ranks():
    sim = np.array([[0.1, 0.9, 0.5], [0.3, 0.2, 0.7], [0.6, 0.4, 0.8]])
    ranks = compute_ranks(MatrixScores(sim), np.array([0, 1, 2]))
    assert ranks.t2v.tolist() == [3, 3, 1]
    assert ranks.v2t.tolist() == [3, 3, 1]
    np.testing.assert_allclose(ranks.v2t_ap, [1 / 3, 1 / 3, 1])
    m = metrics_from_ranks(ranks)
    assert m["t2v_r1"] == pytest.approx(100 / 3)
    assert m["t2v_r5"] == 100.0
    assert m["t2v_medr"] == 3.0
    assert m["t2v_meanr"] == pytest.approx(7 / 3)
    assert m["t2v_map"] == pytest.approx(5 / 9)
    assert m["sumr"] == pytest.approx(2 * (100 / 3 + 100 + 100))


def test_distractors_compete_in_t2v_and_are_left_out_of_v2t():
    # item 2 has no query (a distractor): it outscores q0's own item, so q0 ranks 2nd in t2v;
    # v2t is over items 0 and 1 only (a distractor has no caption to rank)
    sim = np.array([[0.9, 0.1, 0.95], [0.2, 0.8, 0.3]])
    ranks = compute_ranks(MatrixScores(sim), np.array([0, 1]))
    assert ranks.t2v.tolist() == [2, 1]
    assert ranks.v2t.tolist() == [1, 1, 0] and ranks.ranked_items.tolist() == [True, True, False]
    assert np.isnan(ranks.v2t_ap[2])
    m = metrics_from_ranks(ranks)
    assert m["t2v_r1"] == 50.0 and m["t2v_medr"] == 1.5 and m["t2v_map"] == 0.75
    assert m["v2t_r1"] == 100.0 and m["v2t_meanr"] == 1.0 and m["v2t_map"] == 1.0
    assert m["sumr"] == 550.0


@pytest.mark.parametrize("ties", TIE_POLICIES)
def test_distractors_match_the_loop_reference_over_the_ranked_items(ties):
    rng = np.random.default_rng(7)
    sim = rng.integers(0, 4, size=(12, 9)).astype(np.float32)  # many ties
    query_item = rng.choice([0, 2, 3, 5, 8], size=12)  # items 1, 4, 6, 7 are distractors
    ranks = compute_ranks(MatrixScores(sim), query_item, ties)
    ranked = np.unique(query_item)
    assert np.flatnonzero(ranks.ranked_items).tolist() == ranked.tolist()
    # v2t: the loop reference over the ranked items' columns only; t2v: over every column
    sub, _ = _reference_metrics(sim[:, ranked], np.searchsorted(ranked, query_item), ties)
    np.testing.assert_array_equal(ranks.v2t[ranked], sub.v2t)
    np.testing.assert_allclose(ranks.v2t_ap[ranked], sub.v2t_ap)
    full_t2v = [
        _reference_order(list(sim[q]), [j == query_item[q] for j in range(9)], ties).index(
            query_item[q]
        )
        + 1
        for q in range(12)
    ]
    assert ranks.t2v.tolist() == full_t2v


@pytest.mark.parametrize(
    ("ties", "t2v", "v2t"),
    [("pessimistic", [2, 2], [2, 2]), ("optimistic", [1, 1], [1, 1]), ("stable", [1, 2], [1, 2])],
)
def test_ties(ties, t2v, v2t):
    ranks = compute_ranks(MatrixScores(np.full((2, 2), 0.5)), np.array([0, 1]), ties)
    assert ranks.t2v.tolist() == t2v
    assert ranks.v2t.tolist() == v2t


def test_several_captions_per_item_and_half_median():
    sim = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.8, 0.2]])
    ranks = compute_ranks(MatrixScores(sim), np.array([0, 0, 1, 1]))
    assert ranks.t2v.tolist() == [1, 2, 1, 2]
    assert ranks.v2t.tolist() == [1, 1]
    np.testing.assert_allclose(ranks.v2t_ap, [5 / 6, 5 / 6])
    m = metrics_from_ranks(ranks)
    assert m["t2v_medr"] == 1.5  # the plain median, not floor(median) + 1
    assert m["t2v_r1"] == 50.0


def test_varying_captions_per_item():
    sim = np.array([
        [0.2, 0.5, 0.9],
        [0.8, 0.1, 0.3],
        [0.6, 0.7, 0.4],
        [0.1, 0.3, 0.2],
        [0.5, 0.4, 0.6],
        [0.3, 0.2, 0.7],
    ])  # fmt: skip
    query_item = np.array([1, 0, 2, 1, 1, 2])  # item 0: one caption, item 1: three, item 2: two
    ranks = compute_ranks(MatrixScores(sim), query_item)
    assert ranks.t2v.tolist() == [2, 1, 3, 1, 3, 1]
    assert ranks.v2t.tolist() == [1, 2, 2]
    np.testing.assert_allclose(
        ranks.v2t_ap, [1.0, (1 / 2 + 2 / 3 + 3 / 4) / 3, (1 / 2 + 2 / 4) / 2]
    )
    m = metrics_from_ranks(ranks)
    assert m["t2v_medr"] == 1.5
    assert m["t2v_meanr"] == pytest.approx(11 / 6)
    assert m["t2v_map"] == pytest.approx((1 / 2 + 1 + 1 / 3 + 1 + 1 / 3 + 1) / 6)
    assert m["v2t_r1"] == pytest.approx(100 / 3)
    assert m["v2t_map"] == pytest.approx((1 + 0.6388889 + 0.5) / 3)


# --------------------------------------------------------------------------------------- properties


def test_perfect_matrix():
    query_item = np.repeat(np.arange(40), 5)
    sim = np.eye(40)[query_item] + 0.01 * np.random.default_rng(0).random((200, 40))
    m = retrieval_metrics(sim, query_item)
    assert m["t2v_r1"] == m["v2t_r1"] == 100.0
    assert m["t2v_medr"] == m["v2t_medr"] == 1.0
    assert m["v2t_map"] == 1.0


def test_permuting_items_and_queries_changes_nothing():
    rng = np.random.default_rng(1)
    query_item = rng.permutation(np.repeat(np.arange(30), 3))
    sim = rng.standard_normal((90, 30))
    base = retrieval_metrics(sim, query_item)
    items = rng.permutation(30)  # new column j holds old item items[j]
    inverse = np.argsort(items)
    queries = rng.permutation(90)
    permuted = retrieval_metrics(sim[queries][:, items], inverse[query_item[queries]])
    assert permuted == pytest.approx(base)


def test_random_recall_tracks_chance():
    n = 200
    r1 = [retrieval_metrics(np.random.default_rng(s).random((n, n)), np.arange(n))["t2v_r1"]
          for s in range(30)]  # fmt: skip
    assert np.mean(r1) == pytest.approx(100 / n, abs=0.3)


@pytest.mark.parametrize("ties", TIE_POLICIES)
@pytest.mark.parametrize(
    ("n_items", "per_item", "levels"), [(7, 1, 0), (12, 5, 0), (9, 3, 4), (15, 0, 3)]
)
def test_matches_brute_force(ties, n_items, per_item, levels):
    rng = np.random.default_rng(n_items * 10 + per_item)
    if per_item:
        query_item = rng.permutation(np.repeat(np.arange(n_items), per_item))
    else:  # a varying number of captions per item, every item at least one
        query_item = rng.permutation(
            np.concatenate([np.arange(n_items), rng.integers(0, n_items, 20)])
        )
    sim = rng.random((len(query_item), n_items))
    if levels:  # few distinct values: many ties, including between an item's own captions
        sim = np.floor(sim * levels) / levels
    expected_ranks, expected = _reference_metrics(sim, query_item, ties)
    ranks = compute_ranks(MatrixScores(sim), query_item, ties)
    np.testing.assert_array_equal(ranks.t2v, expected_ranks.t2v)
    np.testing.assert_array_equal(ranks.v2t, expected_ranks.v2t)
    np.testing.assert_allclose(ranks.v2t_ap, expected_ranks.v2t_ap)
    assert metrics_from_ranks(ranks) == pytest.approx(expected)


def test_stable_ties_reproduce_numpy_argsort():
    """'stable' is the order np.argsort(-sim, kind='stable') gives, as published code ranks."""
    rng = np.random.default_rng(3)
    sim = np.floor(rng.random((40, 40)) * 3)
    ranks = compute_ranks(MatrixScores(sim), np.arange(40), "stable")
    order = np.argsort(-sim, axis=1, kind="stable")
    expected = np.array([np.flatnonzero(order[q] == q)[0] + 1 for q in range(40)])
    np.testing.assert_array_equal(ranks.t2v, expected)


# ------------------------------------------------------------------------------- chunked sources


@pytest.mark.parametrize("ties", TIE_POLICIES)
def test_blocks_and_embeddings_match_the_full_matrix(ties):
    rng = np.random.default_rng(4)
    text, items = rng.standard_normal((120, 16)), rng.standard_normal((40, 16))
    query_item = rng.permutation(np.repeat(np.arange(40), 3))
    full = compute_ranks(MatrixScores(text @ items.T), query_item, ties)
    tiny_blocks = compute_ranks(
        EmbeddingScores(text, items), query_item, ties, block_bytes=4 * 40 * 7
    )
    for name in ("t2v", "v2t", "v2t_ap"):
        np.testing.assert_allclose(getattr(tiny_blocks, name), getattr(full, name), rtol=1e-6)


def test_fused_blocks_match_fuse():
    rng = np.random.default_rng(5)
    q1, q2, items = (
        rng.standard_normal((60, 8)),
        rng.standard_normal((60, 8)),
        rng.standard_normal((20, 8)),
    )
    query_item = np.repeat(np.arange(20), 3)
    fused_matrix = fuse([q1 @ items.T, q2 @ items.T], [0.2, 0.8])
    blocks = FusedScores([EmbeddingScores(q1, items), EmbeddingScores(q2, items)], [0.2, 0.8])
    expected = compute_ranks(MatrixScores(fused_matrix), query_item)
    got = compute_ranks(blocks, query_item, block_bytes=4 * 20 * 5)
    np.testing.assert_array_equal(got.t2v, expected.t2v)
    np.testing.assert_array_equal(got.v2t, expected.v2t)


# ------------------------------------------------------------------------------------ fusion, MRV


def test_fuse_hand_computed():
    s1 = np.array([[0.0, 2.0], [4.0, 2.0]])  # -> [[0, .5], [1, .5]]
    s2 = np.array([[1.0, 1.0], [1.0, 3.0]])  # -> [[0, 0], [0, 1]]
    np.testing.assert_allclose(fuse([s1, s2], [0.5, 0.5]), [[0.0, 0.25], [0.5, 0.75]])
    np.testing.assert_allclose(fuse([s1, s2], [1.0, 0.0]), [[0.0, 0.5], [1.0, 0.5]])


@pytest.mark.parametrize("weights", [[0.5], [0.7, 0.7], [-0.5, 1.5]])
def test_fuse_rejects_bad_weights(weights):
    with pytest.raises(ValueError, match="weights"):
        fuse([np.eye(2), np.eye(2)], weights)


def test_mrv_hand_computed():
    ranks = np.array([[0, 4], [2, 4], [4, 4]])  # item 0 ranks 0, 2, 4 across languages; item 1 same
    assert mrv(ranks) == pytest.approx(np.sqrt(8 / 3) / 2)
    assert mrv(ranks, reduce="var") == pytest.approx((8 / 3) / 2)
    assert mrv(ranks + 1) == pytest.approx(mrv(ranks))  # 0- or 1-based: the same spread
    assert mrv(np.array([[3, 1, 7]])) == 0.0


def test_mrv_rejects_bad_input():
    with pytest.raises(ValueError, match="reduce"):
        mrv(np.zeros((2, 2)), reduce="mean")
    with pytest.raises(ValueError, match="languages x items"):
        mrv(np.zeros(3))


# ------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("sim", "query_item", "message"),
    [
        (np.zeros((3,)), np.arange(3), "2-D"),
        (np.zeros((0, 0)), np.zeros(0, dtype=int), "empty"),
        (np.array([[np.nan, 0.0], [0.0, 1.0]]), np.arange(2), "NaN or inf"),
        (np.array([[np.inf, 0.0], [0.0, 1.0]]), np.arange(2), "NaN or inf"),
        (np.eye(2), np.array([0, 2]), "out of range"),
        (np.eye(2), np.array([0, -1]), "out of range"),
        (np.eye(2), np.array([0, 1, 1]), "shape"),
        (np.eye(2), np.array([0.5, 1.0]), "integer"),
        (np.array([["a", "b"], ["c", "d"]]), np.arange(2), "numbers"),
    ],
)
def test_bad_input_names_the_problem(sim, query_item, message):
    with pytest.raises(ValueError, match=message):
        retrieval_metrics(sim, query_item)


def test_unknown_tie_policy():
    with pytest.raises(ValueError, match="pessimistic, optimistic, stable"):
        retrieval_metrics(np.eye(2), np.arange(2), ties="random")


def test_top_k_matches_a_full_sort():
    rng = np.random.default_rng(6)
    queries, items = rng.standard_normal((50, 8)), rng.standard_normal((300, 8))
    scores, indices = top_k(EmbeddingScores(queries, items), 5, block_bytes=4 * 300 * 7)
    full = queries @ items.T
    expected = np.argsort(-full, axis=1)[:, :5]
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(full, expected, 1), rtol=1e-5)
    with pytest.raises(ValueError, match="k must be between 1"):
        top_k(MatrixScores(full), 0)


def test_top_k_over_query_and_item_tiles_matches_a_full_sort(monkeypatch):
    """Several query tiles x item tiles of uneven sizes, fused sources: the merge keeps the best k."""
    from ccrkit.evaluate import scores as scores_module

    monkeypatch.setattr(scores_module, "TILE_QUERIES", 16)
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal((45, 101)), rng.standard_normal((45, 101))
    fused = FusedScores([MatrixScores(a), MatrixScores(b)], [0.2, 0.8])
    scores, indices = top_k(fused, 7, block_bytes=4 * 16 * 10)  # item tiles of 10 (last: 1)
    full = fused.query_block(0, 45)
    expected = np.argsort(-full, axis=1, kind="stable")[:, :7]
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(full, expected, 1), rtol=1e-6)


@pytest.mark.parametrize("first_chunk", [None, 1, 16])  # None: the default, wider than a tile
@pytest.mark.parametrize("layout", ["few distinct values", "rising along the items", "integers"])
def test_top_k_gives_ties_to_the_lower_item_and_survives_every_score_order(
    layout, first_chunk, monkeypatch
):
    """Ties everywhere, or scores that beat the running best at every item (the candidate filter
    then admits everything): still exactly a stable full sort, over uneven tiles, whether a tile
    is merged whole or in chunks that double with the items seen (a small first chunk)."""
    from ccrkit.evaluate import scores as scores_module

    monkeypatch.setattr(scores_module, "TILE_QUERIES", 7)
    if first_chunk is not None:
        monkeypatch.setattr(scores_module, "FIRST_CHUNK", first_chunk)
    rng = np.random.default_rng(9)
    if layout == "few distinct values":
        full = rng.integers(0, 3, (30, 257)).astype(np.float32)
    elif layout == "rising along the items":
        full = np.arange(257, dtype=np.float64)[None, :] + rng.random((30, 1))
    else:
        full = rng.integers(-5, 5, (30, 257))
    scores, indices = top_k(MatrixScores(full), 12, block_bytes=4 * 7 * 40)
    expected = np.argsort(-full, axis=1, kind="stable")[:, :12]
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_array_equal(scores, np.take_along_axis(full, expected, 1).astype(np.float32))


@pytest.mark.parametrize("ties", TIE_POLICIES)
def test_good_model_takes_the_sparse_path_and_matches_brute_force(ties):
    """With a useful model few captions outrank an item's captions: the candidate-gathering path."""
    rng = np.random.default_rng(7)
    query_item = rng.permutation(np.concatenate([np.repeat(np.arange(30), 3), np.arange(10)]))
    sim = np.eye(30)[query_item] * 2 + rng.random((len(query_item), 30))
    sim = np.floor(sim * 4) / 4  # ties among the top scores
    lowest = np.array([sim[query_item == i, i].min() for i in range(30)])
    assert (sim >= lowest).sum() <= sim.size // 8  # the sparse path really is taken
    expected, _ = _reference_metrics(sim, query_item, ties)
    ranks = compute_ranks(MatrixScores(sim), query_item, ties)
    np.testing.assert_array_equal(ranks.v2t, expected.v2t)
    np.testing.assert_allclose(ranks.v2t_ap, expected.v2t_ap)
    np.testing.assert_array_equal(ranks.t2v, expected.t2v)


def _ranks_in_child(sim: np.ndarray, query_item: np.ndarray, results) -> None:
    results.put(compute_ranks(MatrixScores(sim), query_item).t2v.tolist())


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_ranking_threads_work_in_a_forked_child():
    """The ranking thread pool is kept per process: a forked child (whose copy of the parent's
    pool has no threads) must start its own instead of waiting forever."""
    rng = np.random.default_rng(10)
    sim, query_item = rng.standard_normal((400, 50)), np.arange(400) % 50
    expected = compute_ranks(MatrixScores(sim), query_item).t2v.tolist()  # parent's pool exists
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_ranks_in_child, args=(sim, query_item, results))
    child.start()
    child.join(timeout=60)
    hung = child.is_alive()
    if hung:
        child.kill()
    assert not hung, "compute_ranks never returned in a forked child"
    assert results.get(timeout=5) == expected
