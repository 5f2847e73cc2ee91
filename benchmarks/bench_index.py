"""Indexes at scale (issue 24): build, size, memory, recall@10 against exact search, serving.

One command per measurement, e.g. on 2 cores:

    python benchmarks/bench_index.py --items 1000000            # both vector sets, 1M
    python benchmarks/bench_index.py --items 10000000 --data structured
    python benchmarks/bench_index.py --items 200000 --quick     # a check that it runs

For each vector set (`--data random|structured|both`), 256-d unless `--dim`:

- random: unit vectors drawn uniformly (the hardest case: every item is about as far from a
  query as every other, so no index can skip much of the collection);
- structured: like real embeddings, points in `CLUSTERS` clusters of a 48-d subspace (random
  orthonormal basis; cluster spreads drawn from 0.35-1.0, so that clusters overlap), plus
  isotropic noise, unit length.

The index is built by `ccrkit.index.build_index` (the `index build` code path: item metadata in
SQLite, the float16 store, the FAISS index) with `--index` (default auto, from `--max-memory`
and `--target-recall`), in a child process whose peak resident memory is read from /proc.
Vectors are generated chunk by chunk from seeds, so nothing holds them all. Then: sizes on
disk; recall@10 of held-out queries from the same distribution against exact search over the
store; the search's CPU cost per query on one thread (batch 1 and 16); and, with `--serve`
(default on), `ccrkit serve`'s app in a child process under the load of `bench_serve` (16
keep-alive clients on loopback, as fast as it answers and at 200 q/s offered), with the
server's peak RSS, split into anonymous memory and mapped file pages (the store's page cache).

Writes `runs/bench-index/<items>-<data>.{json,md}` and prints the Markdown. Record the machine's
load (printed) with any figure: timings on a shared machine are inflated.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serve import PACED_RATE, http_load
from ccrkit.data.batch import VisualBatch
from ccrkit.index import IndexConfig, SearchIndex, build_index
from ccrkit.index.plan import RecallOutOfReach, choose_config, exact_top_k, show_bytes
from ccrkit.runs import write_json_atomic
from serving import BenchModel, _wait_until_up, random_queries, run_client

OUT_DIR = Path("runs/bench-index")
BLOCK = 1 << 16  # rows generated per seed: the vectors do not depend on the batch size
LATENT, CLUSTERS = 48, 4096
SERVER_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}


def generate(kind: str, start_block: int, rows: int, dim: int, seed: int) -> np.ndarray:
    """`rows` unit vectors of block `start_block` of vector set `kind` (deterministic)."""
    rng = np.random.default_rng([seed, start_block])
    if kind == "random":
        x = rng.standard_normal((rows, dim), dtype=np.float32)
    else:
        shape = np.random.default_rng([seed, 10**9])  # the same clusters for every block
        basis = np.linalg.qr(shape.standard_normal((dim, LATENT)))[0].astype(np.float32)
        centres = shape.standard_normal((CLUSTERS, LATENT)).astype(np.float32)
        spreads = shape.uniform(0.35, 1.0, CLUSTERS).astype(np.float32)
        which = rng.integers(0, CLUSTERS, rows)
        latent = centres[which] + spreads[which, None] * rng.standard_normal(
            (rows, LATENT), dtype=np.float32
        )
        noise = 0.3 * np.sqrt(LATENT / dim) * rng.standard_normal((rows, dim), dtype=np.float32)
        x = latent @ basis.T + noise
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@dataclass
class GeneratedGallery:
    """`Gallery` of `count` generated vectors, one caption each, no pictures."""

    root: Path
    kind: str
    count: int
    dim: int
    seed: int = 0
    item_ids: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.item_ids = [f"item{i:08d}" for i in range(self.count)]

    def visual_batches(self, batch_size: int):
        for block, start in enumerate(range(0, self.count, BLOCK)):
            rows = generate(self.kind, block, min(BLOCK, self.count - start), self.dim, self.seed)
            for offset in range(0, len(rows), batch_size):
                values = torch.from_numpy(rows[offset : offset + batch_size]).unsqueeze(1)
                yield VisualBatch(values, torch.ones(values.shape[:2], dtype=torch.bool), "feature")

    def media_paths(self, item_id: str) -> list[Path]:
        return []

    def captions(self, item_id: str) -> list[str]:
        return [f"{self.kind} item {item_id}"]


def memory_kb(pid: int | str = "self") -> dict[str, int]:
    """VmHWM (peak), VmRSS, RssAnon and RssFile of a process, in KiB."""
    text = Path(f"/proc/{pid}/status").read_text()
    keys = ("VmHWM", "VmRSS", "RssAnon", "RssFile")
    return {k: int(text.split(f"{k}:")[1].split()[0]) for k in keys if f"{k}:" in text}


def build_child(args: argparse.Namespace) -> None:
    """Build in this (child) process; print the manifest, timings and peak memory as JSON."""
    torch.set_num_threads(args.threads)
    config = IndexConfig(type=args.index, batch_size=BLOCK, max_memory=args.max_memory or "",
                         target_recall=args.target_recall, recall_queries=args.probe_queries)  # fmt: skip
    gallery = GeneratedGallery(Path(args.build_child).parent, args.data, args.items, args.dim)
    wall, cpu = time.perf_counter(), time.process_time()
    out_of_reach = None
    try:
        manifest = build_index(BenchModel(args.dim), gallery, args.build_child, config)
    except RecallOutOfReach as err:  # random vectors: report it, serve the closest setting
        out_of_reach, best = str(err), err.best
        chosen = choose_config(config, args.items, args.dim)
        if "nprobe" in best.search_params:  # IVF: the closest knob and shortlist found
            chosen = chosen.with_params(nprobe=best.search_params["nprobe"], rerank=best.rerank)
        config = dataclasses.replace(chosen, target_recall=0.0)
        manifest = build_index(BenchModel(args.dim), gallery, args.build_child, config)
    print(json.dumps({"manifest": manifest.__dict__, "wall_s": time.perf_counter() - wall,
                      "cpu_s": time.process_time() - cpu, "memory_kb": memory_kb(),
                      "out_of_reach": out_of_reach}))  # fmt: skip


def build(args: argparse.Namespace, kind: str, index_dir: Path) -> dict:
    command = [sys.executable, __file__, "--build-child", str(index_dir), "--data", kind,
               "--items", str(args.items), "--dim", str(args.dim), "--index", args.index,
               "--target-recall", str(args.target_recall), "--threads", str(args.threads),
               "--probe-queries", str(args.probe_queries)]  # fmt: skip
    if args.max_memory:
        command += ["--max-memory", args.max_memory]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def held_out_recall(index: SearchIndex, kind: str, dim: int, queries: int) -> dict[str, float]:
    """recall@10 of fresh queries from the same distribution, against exact search over the
    store, and the search's CPU cost per query on one thread."""
    vectors = generate(kind, 10**6, queries, dim, seed=0)  # a block no gallery reaches
    truth = exact_top_k(index.store, vectors, 10)
    found = [[h.item.row for h in hits] for hits in index.search_vectors(vectors, 10)]
    recall = np.mean(
        [len(set(t) & set(f)) / 10 for t, f in zip(truth.tolist(), found, strict=True)]
    )
    torch.set_num_threads(1)
    import faiss

    faiss.omp_set_num_threads(1)
    costs = {}
    for batch in (1, 16):
        start = time.process_time()
        for first in range(0, min(queries, 256), batch):
            index.search_vectors(vectors[first : first + batch], 10)
        costs[f"cpu_ms_per_query_batch{batch}"] = (
            (time.process_time() - start) * 1000 / min(queries, 256)
        )
    return {"recall_at_10": float(recall), **costs}


def serve(index_dir: Path, dim: int, clients: int, requests: int) -> dict:
    """`ccrkit serve`'s app (bench_serve's server child) under HTTP load; its memory."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = Path(__file__).resolve().parent / "bench_serve.py"
    child = subprocess.Popen([sys.executable, str(server), "--serve-child", str(index_dir),
                              "--port", str(port), "--dim", str(dim), "--threads", "1"],
                             env={**os.environ, **SERVER_ENV})  # fmt: skip
    try:
        _wait_until_up(port, child)
        started = memory_kb(child.pid)
        from urllib.parse import quote

        targets = [f"/api/search?q={quote(q)}&k=10".encode() for q in random_queries(requests)]
        run_client(http_load(port, targets[:100], clients))  # warm-up
        fast = run_client(http_load(port, targets, clients))
        paced = run_client(http_load(port, targets[: PACED_RATE * 10], clients, PACED_RATE))
        return {"search": fast, "paced": paced, "memory_kb_at_start": started,
                "memory_kb": memory_kb(child.pid)}  # fmt: skip
    finally:
        child.terminate()
        child.wait(30)


def sizes(index_dir: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(index_dir.iterdir()) if p.is_file()}


def report(r: dict) -> str:
    m = r["build"]["manifest"]
    mem, lines = r["build"]["memory_kb"], []
    if r["build"].get("out_of_reach"):
        lines.append(
            f"Target not reached: {r['build']['out_of_reach']}. Rebuilt with the closest "
            "setting (the build time below covers both builds).\n"
        )
    lines += [
        f"## {r['items']:,} x {r['dim']}-d, {r['data']} vectors, index {m['factory']}",
        f"load average before / after: {r['load_before']:.1f} / {r['load_after']:.1f}; "
        f"{os.cpu_count()} CPUs; command: `{r['command']}`\n",
        "| figure | value |", "|---|---|",
        f"| build (wall / CPU) | {r['build']['wall_s']:.0f} s / {r['build']['cpu_s']:.0f} s |",
        f"| build peak RSS (anon + mapped files at the end) | {mem['VmHWM'] / 2**20:.2f} GB "
        f"({mem['RssAnon'] / 2**20:.2f} + {mem['RssFile'] / 2**20:.2f} GB) |",
        f"| search knobs | {m['search_params']}, shortlist {m['rerank']} re-scored from the store |",
        f"| index in memory (manifest) | {show_bytes(m['index_bytes'])} |",
        *[f"| {name} on disk | {show_bytes(size)} |" for name, size in r["sizes"].items()],
        f"| recall@10, gallery items (build probe) | {m['recall_at_10']} |",
        f"| recall@10, held-out queries vs exact | {r['search']['recall_at_10']:.4f} |",
        f"| search CPU per query, 1 thread, batch 1 / 16 | "
        f"{r['search']['cpu_ms_per_query_batch1']:.2f} / "
        f"{r['search']['cpu_ms_per_query_batch16']:.2f} ms |",
    ]  # fmt: skip
    if r.get("serve"):
        s, smem = r["serve"], r["serve"]["memory_kb"]
        for name, row in (("HTTP, 16 clients, as fast as it answers", s["search"]),
                          (f"HTTP, {PACED_RATE} q/s offered", s["paced"])):  # fmt: skip
            lines.append(f"| {name} | {row['qps']:.0f} q/s, p50 {row['p50_ms']:.1f}, "
                         f"p99 {row['p99_ms']:.1f} ms |")  # fmt: skip
        lines.append(
            f"| server peak RSS (anon + mapped files at the end) | {smem['VmHWM'] / 2**20:.2f} GB "
            f"({smem['RssAnon'] / 2**20:.2f} + {smem['RssFile'] / 2**20:.2f} GB) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--data", choices=("random", "structured", "both"), default="both")
    parser.add_argument("--index", default="auto", help="index type (default: auto)")
    parser.add_argument("--max-memory", default="2GB", help="budget of the index (default 2GB)")
    parser.add_argument("--target-recall", type=float, default=0.95)
    parser.add_argument("--probe-queries", type=int, default=1000,
                        help="gallery items the build measures recall on")  # fmt: skip
    parser.add_argument("--queries", type=int, default=500, help="held-out recall queries")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the build")
    parser.add_argument("--no-serve", dest="serve", action="store_false")
    parser.add_argument("--quick", action="store_true", help="200 probe queries, 600 requests")
    parser.add_argument("--work", type=Path, default=Path("runs/bench-index/work"),
                        help="where the index is built (about 0.6 KB per item on disk)")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the built indexes")
    parser.add_argument("--build-child", metavar="INDEX_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_child:
        build_child(args)
        return
    if args.quick:
        args.probe_queries, args.requests, args.queries = 200, 600, 200
    kinds = ["random", "structured"] if args.data == "both" else [args.data]
    texts = []
    for kind in kinds:
        index_dir = args.work / f"{args.items}-{kind}"
        shutil.rmtree(index_dir, ignore_errors=True)
        index_dir.parent.mkdir(parents=True, exist_ok=True)
        result = {"items": args.items, "dim": args.dim, "data": kind,
                  "command": " ".join([Path(sys.executable).name, *sys.argv]),
                  "load_before": os.getloadavg()[0]}  # fmt: skip
        result["build"] = build(args, kind, index_dir)
        result["sizes"] = sizes(index_dir)
        index = SearchIndex(index_dir)
        result["search"] = held_out_recall(index, kind, args.dim, args.queries)
        index.close()
        del index
        if args.serve:
            result["serve"] = serve(index_dir, args.dim, args.clients, args.requests)
        result["load_after"] = os.getloadavg()[0]
        text = report(result)
        print(text, flush=True)
        texts.append(text)
        write_json_atomic(OUT_DIR / f"{args.items}-{kind}.json", result)
        (OUT_DIR / f"{args.items}-{kind}.md").write_text(text + "\n", encoding="utf-8")
        if not args.keep:
            shutil.rmtree(index_dir, ignore_errors=True)
    print(f"\nwritten: {OUT_DIR}/{args.items}-*.md, .json")


if __name__ == "__main__":
    main()
