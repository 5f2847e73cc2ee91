"""Speed of search: in-process and over HTTP with concurrent clients (issue 8 targets).

Run with `make bench-serve` (or `python benchmarks/bench_serve.py [--quick]`). Prints a Markdown
report and writes it with the raw figures to `runs/bench-serve/`.

- Index: `--items` (100k) random unit vectors of `--dim` (256) in an exact `IndexFlatIP` (or
  `--index flat16|hnsw|ivfpq` with the defaults of configs/index), built through
  `ccrkit.index.build_index` (item metadata in SQLite, as in production).
- Query encoder: the trained encoder is not available to a benchmark, so queries go through a
  randomly initialised Transformer of the built-in text encoder's size (8k-word vocabulary, 256
  wide, 2 layers, 4 heads, FFN 1024, masked mean pooling, a projection to `--dim`, L2 norm) with
  a hashing word tokenizer: the same arithmetic per query as the real one.
- Measured: the parts (encoder, index search, FAISS's own search) one query at a time and in
  batches of 16; search in-process one query at a time and with `--clients` threads through the
  server's batching; and `ccrkit serve`'s app under uvicorn in a separate process with
  `--clients` concurrent keep-alive HTTP clients on loopback: for `--requests` requests as fast
  as the server answers (after a warm-up), then for 10 s at a steady 200 q/s offered (the
  latency a user sees at the issue's throughput target). The clients run in this process on
  uvloop, so that they take as little as possible of the cores they share with the server.
- The scan path this CPU gets for an exact flat index (`ccrkit.index.scan`: batched bf16 where
  the CPU runs it natively, batched int8 where torch has FBGEMM's int8 product, batched float32
  elsewhere), and the per-call cost of each way to scan it, in CPU time on one thread (robust to
  other load on the machine, unlike latencies): FAISS's per-query scan, FAISS's BLAS path, and
  the batched scan in float32, int8 and bf16.
  `--scan-costs` measures only that.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import faiss
import numpy as np
import torch

from ccrkit.index import SearchIndex, TextSearcher
from ccrkit.index.scan import BatchedFlatScan, bf16_is_fast, describe_scan
from ccrkit.index.search import Query
from ccrkit.serve.server import OPENMP_ENV
from ccrkit.serve.service import SearchService, ServeSettings
from serving import (
    BenchModel,
    build_bench_index,
    random_queries,
    run_client,
    serve_child,
    start_server,
    write_report,
)

PACED_RATE = 200  # q/s: the throughput target, offered as a steady load


def summary(latencies_s: list[float], wall_s: float) -> dict[str, float]:
    ms = np.asarray(latencies_s) * 1000
    return {"requests": len(ms), "qps": len(ms) / wall_s, "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)), "p99_ms": float(np.percentile(ms, 99)),
            "mean_ms": float(ms.mean())}  # fmt: skip


def per_query_ms(fn, batches: list[list[str]]) -> float:
    fn(batches[0])
    start = time.perf_counter()
    for batch in batches:
        fn(batch)
    return (time.perf_counter() - start) * 1000 / sum(map(len, batches))


def bench_parts(searcher: TextSearcher, queries: list[str]) -> dict[str, float]:
    """Where the time of one query goes: encoder and index search, alone and in batches of 16,
    and FAISS's own search of the same index (which the index search replaces by a batched scan
    for an exact flat index: ccrkit.index.scan)."""
    model, index = searcher.model, searcher.index
    singles, sixteens = (
        [[q] for q in queries[:200]],
        [queries[i : i + 16] for i in range(0, 400, 16)],
    )
    vectors = model.encode_texts(queries[:400], None)
    vec1 = [vectors[i : i + 1] for i in range(200)]
    vec16 = [vectors[i : i + 16] for i in range(0, 400, 16)]
    return {
        "encode_ms_batch1": per_query_ms(lambda b: model.encode_texts(b, None), singles),
        "encode_ms_batch16": per_query_ms(lambda b: model.encode_texts(b, None), sixteens),
        "faiss_ms_batch1": per_query_ms(lambda v: index.faiss.search(v, 10), vec1),
        "faiss_ms_batch16": per_query_ms(lambda v: index.faiss.search(v, 10), vec16),
        "index_ms_batch1": per_query_ms(lambda v: index.search_vectors(v, 10), vec1),
        "index_ms_batch16": per_query_ms(lambda v: index.search_vectors(v, 10), vec16),
        "search_ms_sequential": per_query_ms(lambda b: searcher.search(b, None, 10), singles),
    }


SCAN_BATCHES = (1, 4, 8, 16, 32)


def cpu_ms_per_call(fn, repeats: int = 7) -> float:
    """Median process CPU time of one call, after a warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return float(np.median(times)) * 1000


def bench_scan_paths(index: faiss.Index, dim: int, k: int = 10) -> dict[str, dict[int, float]]:
    """CPU ms per call of each way to scan the exact index, on one thread, by batch size.

    FAISS's BLAS path is what its `distance_compute_blas_threshold` (a process-wide setting)
    switches to for large batches; it is measured with the threshold at 1, then restored."""
    torch_threads, faiss_threads = torch.get_num_threads(), faiss.omp_get_max_threads()
    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    threshold = faiss.cvar.distance_compute_blas_threshold
    queries = np.random.default_rng(7).standard_normal((max(SCAN_BATCHES), dim), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    paths = {"FAISS per-query scan": index.search}

    def faiss_blas(q: np.ndarray, k: int) -> object:
        faiss.cvar.distance_compute_blas_threshold = 1
        try:
            return index.search(q, k)
        finally:
            faiss.cvar.distance_compute_blas_threshold = threshold

    paths["FAISS BLAS path"] = faiss_blas
    paths["batched float32, packed"] = BatchedFlatScan(index, "fp32").search
    int8 = BatchedFlatScan(index, "int8")
    if int8.precision == "int8":  # this torch has the int8 product
        paths["batched int8 (FBGEMM), exact re-score"] = int8.search
    paths["batched float32, mapped (no copy)"] = BatchedFlatScan(index, "fp32", mmap=True).search
    if bf16_is_fast():  # emulated bf16 would only measure the emulation
        paths["batched bf16, packed"] = BatchedFlatScan(index, "bf16").search
    try:
        return {
            name: {
                b: cpu_ms_per_call(lambda s=search, b=b: s(queries[:b], k)) for b in SCAN_BATCHES
            }
            for name, search in paths.items()
        }
    finally:
        torch.set_num_threads(torch_threads)
        faiss.omp_set_num_threads(faiss_threads)


def scan_report(costs: dict[str, dict[int, float]], scan_path: str) -> str:
    head = " | ".join(f"batch {b}" for b in SCAN_BATCHES)
    rows = [
        f"| {name} | " + " | ".join(f"{ms:.1f}" for ms in by_batch.values()) + " |"
        for name, by_batch in costs.items()
    ]
    return "\n".join([
        f"scan path of this CPU (exact flat index, in memory): {scan_path}; bf16 fast: "
        f"{bf16_is_fast()}\n",
        "CPU ms per call, 1 thread (process time, median of 7), k=10:\n",
        f"| scan | {head} |", "|---" + "|---:" * len(SCAN_BATCHES) + "|", *rows,
    ])  # fmt: skip


def bench_sequential(searcher: TextSearcher, queries: list[str]) -> dict[str, float]:
    latencies = []
    start = time.perf_counter()
    for text in queries:
        begin = time.perf_counter()
        searcher.search([text], None, 10)
        latencies.append(time.perf_counter() - begin)
    return summary(latencies, time.perf_counter() - start)


def bench_in_process(searcher: TextSearcher, queries: list[str], clients: int) -> dict[str, float]:
    """`clients` threads, each one query at a time, through the server's batching pipeline."""
    service = SearchService(searcher, ServeSettings())
    latencies: list[float] = []
    lock = threading.Lock()

    def one(text: str) -> None:
        start = time.perf_counter()
        service.submit(Query(text, None, 10)).result()
        with lock:
            latencies.append(time.perf_counter() - start)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, queries[:100]))  # warm-up
        latencies.clear()
        start = time.perf_counter()
        list(pool.map(one, queries))
        wall = time.perf_counter() - start
    batches = service.encoder.batches
    service.encoder.close()
    service.finder.close()
    return {**summary(latencies, wall), "mean_batch": (len(queries) + 100) / batches}


async def http_load(
    port: int, targets: list[bytes], clients: int, rate: float | None = None
) -> dict[str, float]:
    """`clients` keep-alive connections, each sending its next request when the last returned.

    With `rate`, request j is due at j / rate seconds (the offered load, whatever the server
    does) and its latency counts from then: a request that waits for a free client because the
    server fell behind is charged that wait (no coordinated omission)."""
    latencies: list[float] = []
    position = 0
    begin = time.perf_counter()

    async def client() -> None:
        nonlocal position
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while position < len(targets):
            target, position = targets[position], position + 1
            start = time.perf_counter()
            if rate is not None:
                start = begin + (position - 1) / rate
                await asyncio.sleep(max(0.0, start - time.perf_counter()))
            writer.write(b"GET " + target + b" HTTP/1.1\r\nHost: bench\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))  # fmt: skip
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"server answered {head[:40]!r}")
            latencies.append(time.perf_counter() - start)
        writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return summary(latencies, time.perf_counter() - begin)


def bench_http(
    index_dir: Path, dim: int, queries: list[str], clients: int, threads: int
) -> dict[str, dict[str, float]]:
    """`/api/search` under load, and `/api/health` (no model, no FAISS): the HTTP stack alone."""
    child, port = start_server(index_dir, dim, threads)
    try:
        searches = [f"/api/search?q={quote(q)}&k=10".encode() for q in queries]
        run_client(http_load(port, searches[:100], clients))  # warm-up
        return {
            "search": run_client(http_load(port, searches, clients)),
            "paced": run_client(http_load(port, searches[: PACED_RATE * 10], clients, PACED_RATE)),
            "health": run_client(http_load(port, [b"/api/health"] * len(searches), clients)),
        }
    finally:
        child.terminate()
        child.wait(30)


def report(results: dict) -> str:
    p, rows = results["parts"], []
    for name, r in (("in-process, 1 query at a time", results["sequential"]),
                    (f"in-process, {results['clients']} threads, micro-batched", results["in_process"]),
                    (f"HTTP, {results['clients']} clients, loopback (as fast as it answers)",
                     results["http"]["search"]),
                    (f"HTTP, same clients, {PACED_RATE} q/s offered", results["http"]["paced"]),
                    ("HTTP, same, /api/health only (no model)", results["http"]["health"])):  # fmt: skip
        rows.append(f"| {name} | {r['qps']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
                    f"{r['p99_ms']:.1f} |")  # fmt: skip
    return "\n".join([
        f"# bench-serve: {results['items']:,} items x {results['dim']}-d, {_index_label(results)}, k=10",
        f"{results['machine']}; in-process: torch threads {results['torch_threads']}, FAISS "
        f"threads {results['faiss_threads']}; server process: {results['server_threads']} of each; "
        f"OMP_WAIT_POLICY={results['omp_wait_policy']}; index built in {results['build_s']:.1f} s",
        f"scan path: {results['scan_path']}; load average at the end "
        f"{results['load_average'][0]:.1f}\n",
        "| path | q/s | p50 ms | p95 ms | p99 ms |", "|---|---:|---:|---:|---:|", *rows,
        f"\nmean encoder batch in-process: {results['in_process']['mean_batch']:.1f} queries\n",
        *([scan_report(results["scan_costs"], results["scan_path"]), ""]
          if results.get("scan_costs") else []),
        "| part (per query) | batch 1 | batch 16 |", "|---|---:|---:|",
        f"| text encoder | {p['encode_ms_batch1']:.2f} ms | {p['encode_ms_batch16']:.2f} ms |",
        f"| index search (what the server runs) | {p['index_ms_batch1']:.2f} ms | "
        f"{p['index_ms_batch16']:.2f} ms |",
        f"| FAISS's own search | {p['faiss_ms_batch1']:.2f} ms | {p['faiss_ms_batch16']:.2f} ms |",
    ])  # fmt: skip


def run_scan_costs(items: int, dim: int) -> None:
    """`--scan-costs`: the per-call table alone, over `items` random unit vectors."""
    vectors = np.random.default_rng(0).standard_normal((items, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(dim)
    index.add(vectors)
    text = scan_report(bench_scan_paths(index, dim), describe_scan(index, mmap=False))
    print(f"# scan costs: {items:,} x {dim}-d, load average {os.getloadavg()[0]:.1f}\n\n{text}")


def _index_label(results: dict) -> str:
    if results["recall_at_10"] is None:
        return "exact IndexFlatIP"
    return f"{results['index']} index (recall@10 {results['recall_at_10']:.3f} vs exact)"


def main() -> None:
    if (
        os.environ.get("OMP_WAIT_POLICY") is None
    ):  # as `ccrkit serve` runs (see ccrkit.serve.server)
        os.execve(sys.executable, [sys.executable, *sys.argv],
                  {**os.environ, **OPENMP_ENV})  # fmt: skip
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch and FAISS threads of the server process (default: %(default)s)",
    )
    parser.add_argument(
        "--index",
        choices=("flat", "flat16", "hnsw", "ivfpq"),
        default="flat",
        help="index type, with the defaults of configs/index (default: flat)",
    )
    parser.add_argument("--quick", action="store_true", help="20k items, 600 requests")
    parser.add_argument(
        "--soak", type=float, metavar="MINUTES",
        help="instead: MINUTES of mixed valid and hostile traffic at --rate (benchmarks/soak.py)",
    )  # fmt: skip
    parser.add_argument(
        "--rate", type=float, default=PACED_RATE, help="soak: requests/s offered (default: 200)"
    )
    parser.add_argument("--scan-costs", action="store_true",
                        help="only the scan path and per-call CPU costs of the exact scans")  # fmt: skip
    parser.add_argument("--serve-child", metavar="INDEX_DIR", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--log-level", default="warning", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_child:
        serve_child(args.serve_child, args.port, args.dim, args.threads, args.log_level)
        return
    if args.quick:
        args.items, args.requests = 20_000, 600
    if args.soak is not None:
        from soak import soak

        soak(args)
        return
    if args.scan_costs:
        run_scan_costs(args.items, args.dim)
        return
    queries = random_queries(args.requests)
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        index_dir = Path(tmp) / "index"
        build_s, recall = build_bench_index(index_dir, args.items, args.dim, args.index)
        searcher = TextSearcher(BenchModel(args.dim), SearchIndex(index_dir))
        scan_path = searcher.index.scan_path
        print(f"scan path: {scan_path}", flush=True)
        costs = bench_scan_paths(searcher.index.faiss, args.dim) if args.index == "flat" else {}
        parts = bench_parts(searcher, queries)
        seq = bench_sequential(searcher, queries[:300])
        in_process = bench_in_process(searcher, queries, args.clients)
        searcher.index.close()
        http = bench_http(index_dir, args.dim, queries, args.clients, args.threads)
    results = {
        "items": args.items, "dim": args.dim, "index": args.index, "recall_at_10": recall, "clients": args.clients, "build_s": build_s,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "torch_threads": torch.get_num_threads(), "faiss_threads": faiss.omp_get_max_threads(),
        "server_threads": args.threads,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "parts": parts, "sequential": seq, "in_process": in_process, "http": http,
        "scan_path": scan_path, "scan_costs": costs, "load_average": os.getloadavg(),
    }  # fmt: skip
    write_report("results", "report", results, report(results))


if __name__ == "__main__":
    main()
