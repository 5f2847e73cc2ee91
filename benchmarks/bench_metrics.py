"""Speed of the metric suite and of chunked similarity + top-k (issue 3 targets).

Run with `make bench` (or `python benchmarks/bench_metrics.py [--quick]`). Prints a Markdown report
and writes it with the raw figures to `runs/bench-metrics/`:

1. the machine's own GEMM throughput (float32, numpy and torch, best of several runs);
2. the full metric set (t2v + v2t ranks, mAP) vectorised vs two per-query loops, on 1,000 items x
   5,000 captions and 5,000 x 25,000: a tight one (one argsort per query, the rest vectorised) and,
   on the first size only, one computed the way the official NRCCR code computes it;
3. chunked similarity + top-k of queries against 100k items x 512-d embeddings, as a fraction of
   the GEMM throughput (also in five rounds, each the best of 3 runs against the best of 3 runs
   of the GEMM measured right before it),
   next to a plain `q @ v.T` + `topk`;
4. peak memory of the chunked path for two block sizes, each measured in a fresh subprocess as the
   growth of its peak resident set size (Linux VmHWM, reset through /proc/self/clear_refs once the
   inputs exist) over the resident size at that moment.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ccrkit.allocator import keep_freed_memory
from ccrkit.evaluate.metrics import metrics_from_ranks
from ccrkit.evaluate.ranking import compute_ranks
from ccrkit.evaluate.scores import EmbeddingScores, MatrixScores, top_k
from ccrkit.runs import write_json_atomic

OUT_DIR = Path("runs/bench-metrics")


def best_time(fn: Callable[[], object], repeat: int = 3) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def gemm_throughput(d: int = 512, with_torch: bool = True) -> dict[str, float]:
    """GFLOP/s of one large float32 matrix product, numpy (BLAS) and torch."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2048, d), dtype=np.float32)
    b = rng.standard_normal((d, 16384), dtype=np.float32)
    flops = 2 * a.shape[0] * d * b.shape[1]
    out = {"numpy_gflops": flops / best_time(lambda: a @ b, 5 if with_torch else 3) / 1e9}
    if with_torch:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        out["torch_gflops"] = flops / best_time(lambda: ta @ tb, 5) / 1e9
    return out


def retrieval_problem(n_items: int, per_item: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A similarity matrix with real structure: captions are their item's vector plus noise."""
    rng = np.random.default_rng(seed)
    items = rng.standard_normal((n_items, 64), dtype=np.float32)
    query_item = np.repeat(np.arange(n_items), per_item)
    queries = items[query_item] + 2.0 * rng.standard_normal((len(query_item), 64), dtype=np.float32)
    return queries @ items.T, query_item


def naive_metrics(
    sim: np.ndarray, query_item: np.ndarray
) -> tuple[list[int], list[int], list[float]]:
    """A tight per-query loop: one argsort per query and per item, everything else vectorised."""
    t2v = []
    for q in range(sim.shape[0]):
        order = np.argsort(-sim[q])
        t2v.append(int(np.where(order == query_item[q])[0][0]) + 1)
    v2t, aps = [], []
    for i in range(sim.shape[1]):
        order = np.argsort(-sim[:, i])
        positions = np.where(query_item[order] == i)[0] + 1
        v2t.append(int(positions[0]))
        aps.append(float(np.mean(np.arange(1, len(positions) + 1) / positions)))
    return t2v, v2t, aps


def official_style_metrics(sim: np.ndarray, query_item: np.ndarray) -> tuple[list[int], list[int]]:
    """The metric set computed the way the NRCCR repository's `util/metrics.py` does it.

    Ranks as its `eval_q2m` (per query an argsort of the errors, then one `np.where` per relevant
    entry), in both directions; mAP as its `t2v_map`/`v2t_map` (per query a second argsort, a
    Python list of 0/1 labels put into ranked order, and average precision walked over that list).
    """
    errors = -sim
    captions_of = [np.flatnonzero(query_item == i).tolist() for i in range(sim.shape[1])]
    own_item = [[int(i)] for i in query_item]

    def ranks(errs: np.ndarray, relevant: list[list[int]]) -> list[int]:
        best = []
        for q in range(errs.shape[0]):
            order = np.argsort(errs[q])
            best.append(min(int(np.where(order == r)[0][0]) + 1 for r in relevant[q]))
        return best

    def mean_ap(errs: np.ndarray, relevant: list[list[int]]) -> float:
        aps = []
        for q in range(errs.shape[0]):
            labels = [0] * errs.shape[1]
            for r in relevant[q]:
                labels[r] = 1
            ranked = [labels[j] for j in np.argsort(errs[q])]
            found, total = 0, 0.0
            for position, label in enumerate(ranked, 1):
                if label:
                    found += 1
                    total += found / position
            aps.append(total / found)
        return float(np.mean(aps))

    t2v, v2t = ranks(errors, own_item), ranks(errors.T, captions_of)
    mean_ap(errors, own_item), mean_ap(errors.T, captions_of)
    return t2v, v2t


def bench_metric_suite(n_items: int, per_item: int, official: bool) -> dict[str, float]:
    sim, query_item = retrieval_problem(n_items, per_item)
    vectorised = best_time(
        lambda: metrics_from_ranks(compute_ranks(MatrixScores(sim), query_item)), 20
    )
    start = time.perf_counter()
    t2v, v2t, _ = naive_metrics(sim, query_item)
    naive = time.perf_counter() - start
    ranks = compute_ranks(MatrixScores(sim), query_item)
    assert ranks.t2v.tolist() == t2v and ranks.v2t.tolist() == v2t  # same answer, no ties here
    row = {
        "items": n_items,
        "captions": n_items * per_item,
        "vectorised_s": vectorised,
        "naive_s": naive,
        "speedup": naive / vectorised,
    }
    if official:
        start = time.perf_counter()
        t2v, v2t = official_style_metrics(sim, query_item)
        row["official_style_s"] = time.perf_counter() - start
        row["official_speedup"] = row["official_style_s"] / vectorised
        assert ranks.t2v.tolist() == t2v and ranks.v2t.tolist() == v2t
    return row


def bench_top_k(
    n_items: int, n_queries: int, d: int, k: int = 10, rounds: int = 5
) -> dict[str, object]:
    """Chunked similarity + top-k against the GEMM, in `rounds` pairs, each the best of 3 runs:
    the GEMM reference (numpy) measured right before the chunked path, so that both see the
    same state of a shared machine (its GEMM alone drifts by 10-20 % between minutes here)."""
    rng = np.random.default_rng(1)
    items = rng.standard_normal((n_items, d), dtype=np.float32)
    queries = rng.standard_normal((n_queries, d), dtype=np.float32)
    flops = 2 * n_queries * n_items * d
    pairs = []
    for _ in range(rounds):
        reference = gemm_throughput(d, with_torch=False)["numpy_gflops"]
        chunked = best_time(lambda: top_k(EmbeddingScores(queries, items), k), 3)
        pairs.append((reference, flops / chunked / 1e9, chunked))
    ratios = [chunked / reference for reference, chunked, _ in pairs]
    tq, tv = torch.from_numpy(queries), torch.from_numpy(items)
    plain = best_time(lambda: torch.topk(tq @ tv.T, k, dim=1), 3)
    return {
        "items": n_items,
        "queries": n_queries,
        "dim": d,
        "chunked_s": min(seconds for *_, seconds in pairs),
        "chunked_gflops": max(gflops for _, gflops, _ in pairs),
        "paired": [{"gemm_gflops": r, "chunked_gflops": c} for r, c, _ in pairs],
        "paired_ratio_median": float(np.median(ratios)),
        "paired_ratio_min": min(ratios),
        "paired_ratio_max": max(ratios),
        "plain_s": plain,
        "plain_gflops": flops / plain / 1e9,
    }


def peak_memory_mb(n_items: int, n_queries: int, d: int, block_mb: int | None) -> float:
    """Growth of max RSS (MB) while searching, measured in a fresh interpreter."""
    code = f"""
import numpy as np, torch
from ccrkit.evaluate.scores import EmbeddingScores, top_k
rng = np.random.default_rng(1)
def filled(rows):  # filled in slices, so no large temporary raises the baseline
    out = np.empty((rows, {d}), dtype=np.float32)
    for start in range(0, rows, 1024):
        out[start:start + 1024] = rng.standard_normal((min(1024, rows - start), {d}))
    return out
items, queries = filled({n_items}), filled({n_queries})
torch.topk(torch.zeros(4, 8), 2)  # load torch's kernels before the baseline
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
base = status("VmRSS:")
if {block_mb is None}:
    torch.topk(torch.from_numpy(queries) @ torch.from_numpy(items).T, 10, dim=1)
else:
    top_k(EmbeddingScores(queries, items), 10, block_bytes={block_mb or 0} * 2**20)
print((status("VmHWM:") - base) / 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def report(results: dict) -> str:
    gemm = max(results["gemm"].values())
    lines = [
        "## Metric benchmark",
        "",
        f"GEMM throughput (float32, 2048x512 @ 512x16384): numpy {results['gemm']['numpy_gflops']:.1f}"
        f" GFLOP/s, torch {results['gemm']['torch_gflops']:.1f} GFLOP/s",
        "",
        "| full metric set | vectorised | tight loop | speed-up | NRCCR-style loop | speed-up |",
        "|---|---|---|---|---|---|",
    ]
    for row in results["metrics"]:
        official = (
            f"{row['official_style_s']:.2f} s | {row['official_speedup']:.0f}x"
            if "official_style_s" in row
            else "not run | -"
        )
        lines.append(
            f"| {row['items']:,} items x {row['captions']:,} captions | "
            f"{1e3 * row['vectorised_s']:.1f} ms | {row['naive_s']:.2f} s | {row['speedup']:.0f}x | "
            f"{official} |"
        )
    t = results["top_k"]
    lines += [
        "",
        f"Similarity + top-10 of {t['queries']:,} queries vs {t['items']:,} items x {t['dim']}-d:",
        f"chunked {t['chunked_s']:.2f} s = {t['chunked_gflops']:.1f} GFLOP/s "
        f"({100 * t['chunked_gflops'] / gemm:.0f} % of the GEMM above); plain q @ v.T + topk "
        f"{t['plain_s']:.2f} s = {t['plain_gflops']:.1f} GFLOP/s ({100 * t['plain_gflops'] / gemm:.0f} %)",
        f"chunked against the GEMM measured right before it, {len(t['paired'])} rounds: median "
        f"{100 * t['paired_ratio_median']:.1f} % (range {100 * t['paired_ratio_min']:.1f}-"
        f"{100 * t['paired_ratio_max']:.1f} %)",
        "",
        "| peak memory growth | MB |",
        "|---|---|",
    ]
    for label, mb in results["memory"].items():
        lines.append(f"| {label} | {mb:.0f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    keep_freed_memory()  # as every `ccrkit` command does
    sizes = [(200, 5)] if args.quick else [(1_000, 5), (5_000, 5)]
    n_items, n_queries = (20_000, 256) if args.quick else (100_000, 2_048)
    results = {
        "gemm": gemm_throughput(),
        # the NRCCR-style loop walks Python lists: minutes at 5,000 x 25,000, so only the first size
        "metrics": [bench_metric_suite(n, per, n == sizes[0][0]) for n, per in sizes],
        "top_k": bench_top_k(n_items, n_queries, 512),
        "memory": {
            f"plain q @ v.T ({n_queries:,} x {n_items:,})": peak_memory_mb(
                n_items, n_queries, 512, None
            ),
            "chunked, 8 MB blocks": peak_memory_mb(n_items, n_queries, 512, 8),
            "chunked, 64 MB blocks": peak_memory_mb(n_items, n_queries, 512, 64),
        },
        "threads": torch.get_num_threads(),
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    text = report(results)
    print(text)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    write_json_atomic(OUT_DIR / "results.json", results)
    (OUT_DIR / "report.md").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
