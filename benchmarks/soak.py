"""`python benchmarks/bench_serve.py --soak MINUTES [--rate 200] [--items 100000]`: a soak test.

The server `ccrkit serve` runs (with an API token, in a child process, one torch/FAISS thread)
over the benchmark's index gets MINUTES of mixed traffic at a steady offered rate:

- 80 % valid: `/api/search` with a caption-like query (75 %) or `/api/similar` (5 %), with the
  token, on 16 keep-alive connections; latency counts from the moment a request was due, so a
  server that falls behind is charged for the wait (no coordinated omission);
- 12 % hostile requests on the same connections: wrong token, empty or over-long queries, bad k,
  non-UTF-8 bytes, unknown language or id, path traversal, unknown routes (expected: a 4xx);
- 8 % malformed HTTP, each on a fresh connection: broken chunked bodies, bad request lines,
  header lines without a colon, 64 KB headers, a TLS hello (expected: no 5xx — mostly a 400 —
  or the connection closed);
- and, all along, 8 connections that send half a request head and trickle a byte every 2 s
  (expected: cut by the server's header timeout, then opened again).

Errors: a valid request not answered 200, a hostile one answered 5xx or not at all within 15 s.
Reported: throughput, p50/p99 of the valid requests, errors by kind, how the trickling
connections ended, and the server's resident memory (VmRSS) after a warm-up and at the end.
Written to `runs/bench-serve/soak.json` and `soak.md`. Target (issue 23): 10 minutes at 200 q/s
over 100k items on 2 cores, 0 errors, memory growth under 5 %.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import numpy as np

from serving import build_bench_index, random_queries, run_client, start_server, write_report

TOKEN = "soak-test-token"
CLIENTS, SLOW_CONNECTIONS, ANSWER_TIMEOUT_S = 16, 8, 15.0
HOSTILE_TARGETS = [
    "/api/search?q=&k=10", "/api/search?q=red%20star&k=0", "/api/search?q=red&k=101",
    "/api/search?q=%ff%fe%fd", "/api/search?q=red&lang=klingon", "/api/search?q=" + "x" * 1001,
    "/api/similar?id=nope", "/api/similar", "/media/..%2F..%2Fetc%2Fpasswd", "/media/%2e%2e/x",
    "/api/nothing", "/api/search?q=red&k=ten", "/static/../secret",
]  # fmt: skip
MALFORMED = [
    b"POST /api/search?q=x HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nhi\r\n",
    b"GET / HTTP/9.9\r\nHost: s\r\n\r\n",
    b"GET /api/health HTTP/1.1\r\nHost: s\r\nno colon here\r\n\r\n",
    b"GET /api/health HTTP/1.1\r\nHost: s\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n",
    b"GET /api/health HTTP/1.1\r\nHost: s\r\nContent-Length: 3\r\nContent-Length: 9\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32),  # a TLS hello to plain HTTP
]  # fmt: skip


class Tally:
    """What happened to every request, by kind."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: dict[str, Counter] = {}
        self.errors: Counter = Counter()
        self.samples: list[str] = []

    def add(self, kind: str, status: int | str, ok: bool, latency: float | None = None) -> None:
        self.statuses.setdefault(kind, Counter())[str(status)] += 1
        if latency is not None and ok:
            self.latencies.append(latency)
        if not ok:
            self.errors[kind] += 1
            if len(self.samples) < 10:
                self.samples.append(f"{kind}: {status}")


def schedule(total: int, rate: float, queries: list[str], items: int, seed: int) -> list[tuple]:
    """(kind, payload) of every request, in the order they fall due (one every 1/rate s)."""
    rng = random.Random(seed)
    plan = []
    for _ in range(total):
        draw = rng.random()
        if draw < 0.75:
            q = rng.choice(queries)
            plan.append(("search", f"/api/search?q={quote(q)}&k=10"))
        elif draw < 0.80:
            plan.append(("similar", f"/api/similar?id=item{rng.randrange(items):07d}&k=10"))
        elif draw < 0.92:
            hostile = rng.choice([*HOSTILE_TARGETS, "wrong-token"])
            plan.append(("hostile", hostile))
        else:
            plan.append(("malformed", rng.choice(MALFORMED)))
    return plan


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return int(head[9:12])


class KeepAlive:
    """One client connection that reconnects when the server closed it (an idle timeout)."""

    def __init__(self, port: int) -> None:
        self.port, self.reader, self.writer = port, None, None

    async def request(self, target: str, headers: bytes) -> int:
        for attempt in (0, 1):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            try:
                self.writer.write(f"GET {target} HTTP/1.1\r\nHost: soak\r\n".encode() + headers
                                  + b"\r\n")  # fmt: skip
                return await read_response(self.reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                self.writer.close()
                self.writer = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


async def malformed_exchange(port: int, payload: bytes) -> int | str:
    """Send `payload` on a fresh connection; the status answered, or 'closed'."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        head = await reader.read(12)
        return int(head[9:12]) if head.startswith(b"HTTP/1.1 ") else "closed"
    except ConnectionError:
        return "closed"
    finally:
        writer.close()


async def trickle(port: int, stop: asyncio.Event, cuts: list[float]) -> None:
    """Half a request head, then a byte every 2 s, until the server cuts it; then again."""
    while not stop.is_set():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        opened = time.perf_counter()
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: slow\r\n")
        try:
            while not stop.is_set():
                if await _closed_within(reader, 2.0):
                    cuts.append(time.perf_counter() - opened)
                    break
                writer.write(b"X")
        except ConnectionError:
            cuts.append(time.perf_counter() - opened)
        finally:
            writer.close()


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    try:
        return await asyncio.wait_for(reader.read(1024), seconds) == b""
    except TimeoutError:
        return False


async def soak_load(port: int, plan: list[tuple], rate: float, tally: Tally) -> float:
    """Offer `plan` at `rate` over CLIENTS keep-alive connections; returns the wall time."""
    position, begin = 0, time.perf_counter()
    auth, wrong = f"x-api-token: {TOKEN}\r\n".encode(), b"x-api-token: not-the-token\r\n"

    async def client() -> None:
        nonlocal position
        connection = KeepAlive(port)
        while position < len(plan):
            (kind, payload), position = plan[position], position + 1
            due = begin + (position - 1) / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            try:
                if kind == "malformed":
                    status = await asyncio.wait_for(malformed_exchange(port, payload),
                                                    ANSWER_TIMEOUT_S)  # fmt: skip
                    tally.add(kind, status, status == "closed" or status < 500)  # type: ignore[operator]
                    continue
                target, headers = (
                    ("/api/search?q=red", wrong) if payload == "wrong-token" else (payload, auth)
                )
                status = await asyncio.wait_for(connection.request(target, headers),
                                                ANSWER_TIMEOUT_S)  # fmt: skip
                ok = status == 200 if kind in ("search", "similar") else 400 <= status < 500
                tally.add(kind, status, ok, time.perf_counter() - due)
            except (TimeoutError, ConnectionError, asyncio.IncompleteReadError) as err:
                tally.add(kind, type(err).__name__, False)
                connection = KeepAlive(port)

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return time.perf_counter() - begin


async def soak_with_trickles(port: int, plan: list[tuple], rate: float, tally: Tally) -> dict:
    stop, cuts = asyncio.Event(), []
    slow = [asyncio.create_task(trickle(port, stop, cuts)) for _ in range(SLOW_CONNECTIONS)]
    wall = await soak_load(port, plan, rate, tally)
    stop.set()
    await asyncio.gather(*slow, return_exceptions=True)
    return {"wall_s": wall, "trickle_cuts": len(cuts),
            "trickle_cut_s": [round(min(cuts), 1), round(max(cuts), 1)] if cuts else None}  # fmt: skip


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def soak(args: argparse.Namespace) -> None:
    total = int(args.soak * 60 * args.rate)
    queries = random_queries(2000, seed=3)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        index_dir = Path(tmp) / "index"
        build_s, _ = build_bench_index(index_dir, args.items, args.dim, args.index)
        # log level "error": the malformed requests are expected, one warning line each
        child, port = start_server(index_dir, args.dim, args.threads, TOKEN, "error")
        try:
            warm = Tally()  # warm-up: allocator pools, caches, the batchers' threads
            run_client(soak_load(port, schedule(1000, args.rate, queries, args.items, 1),
                                 args.rate, warm))  # fmt: skip
            rss_start, tally = rss_mb(child.pid), Tally()
            plan = schedule(total, args.rate, queries, args.items, 2)
            timing = run_client(soak_with_trickles(port, plan, args.rate, tally))
            rss_end = rss_mb(child.pid)
        finally:
            child.terminate()
            child.wait(30)
    ms = np.asarray(tally.latencies) * 1000
    results = {
        "minutes": args.soak, "offered_qps": args.rate, "requests": total, "items": args.items,
        "index": args.index, "build_s": round(build_s, 1), **timing,
        "achieved_qps": round(total / timing["wall_s"], 1),
        "valid_p50_ms": round(float(np.percentile(ms, 50)), 2),
        "valid_p99_ms": round(float(np.percentile(ms, 99)), 2),
        "statuses": {kind: dict(c) for kind, c in tally.statuses.items()},
        "errors": dict(tally.errors), "error_samples": tally.samples,
        "rss_start_mb": round(rss_start, 1), "rss_end_mb": round(rss_end, 1),
        "rss_growth_pct": round(100 * (rss_end / rss_start - 1), 2),
        "load_before": load_before, "load_after": os.getloadavg(),
        "cpus": os.cpu_count(),
    }  # fmt: skip
    write_report("soak", "soak", results, soak_report(results))


def soak_report(r: dict) -> str:
    errors = sum(r["errors"].values())
    kinds = ", ".join(f"{k} {sum(c.values()):,} ({', '.join(f'{s}: {n}' for s, n in sorted(c.items()))})"
                      for k, c in r["statuses"].items())  # fmt: skip
    return "\n".join([
        f"# soak: {r['minutes']:g} min at {r['offered_qps']:g} q/s offered, {r['items']:,} items "
        f"({r['index']}), {r['cpus']} CPUs, load {r['load_before'][0]:.1f} -> {r['load_after'][0]:.1f}",
        f"- requests: {r['requests']:,} in {r['wall_s']:.1f} s = {r['achieved_qps']} q/s",
        f"- valid requests (search, similar): p50 {r['valid_p50_ms']} ms, p99 "
        f"{r['valid_p99_ms']} ms (from the moment each was due)",
        f"- errors: {errors}{' ' + str(r['errors']) if errors else ''}"
        f"{'; e.g. ' + '; '.join(r['error_samples']) if errors else ''}",
        f"- answers by kind: {kinds}",
        f"- trickling half-sent heads: {r['trickle_cuts']} cut by the server after "
        f"{r['trickle_cut_s']} s",
        f"- server memory (VmRSS): {r['rss_start_mb']} MB after warm-up -> {r['rss_end_mb']} MB "
        f"at the end ({r['rss_growth_pct']:+.2f} %)",
    ])  # fmt: skip
