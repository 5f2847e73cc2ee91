"""What the serving benchmarks share (`bench_serve.py`, `soak.py`): the built-in-size query model,
the random index and queries, the server child process and its start, the client runner, the
report writer. The server child is `bench_serve.py --serve-child`."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np
import torch
from torch import nn

from ccrkit.allocator import keep_freed_memory
from ccrkit.data.batch import VisualBatch
from ccrkit.index import IndexConfig, build_index
from ccrkit.index.toy import VectorGallery
from ccrkit.runs import write_json_atomic
from ccrkit.serve.server import uvicorn_options

BENCH_SERVE = Path(__file__).with_name("bench_serve.py")  # runs the server child


OUT_DIR = Path("runs/bench-serve")


VOCAB, WIDTH, LAYERS, HEADS, FFN, MAX_LEN = 8000, 256, 2, 4, 1024, 64


CAPTION_WORDS = (
    "a an the two three man woman child boy girl dog cat horse bird people group player team "
    "red blue green yellow black white small large young old tall wooden stone metal bright dark "
    "runs walks sits stands jumps plays holds rides looks smiles climbs throws carries watches "
    "on in at near under over beside behind through across along with without into "
    "street park beach field road river lake mountain snow grass water building room kitchen "
    "table car bike bus boat ball hat shirt jacket dress bag camera guitar sign flag tree wall"
)


class BuiltinSizeEncoder(nn.Module):
    """A Transformer text encoder of the built-in encoder's size, randomly initialised."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.tokens = nn.Embedding(VOCAB, WIDTH, padding_idx=0)
        self.positions = nn.Embedding(MAX_LEN, WIDTH)
        layer = nn.TransformerEncoderLayer(WIDTH, HEADS, FFN, dropout=0.0, batch_first=True,
                                           norm_first=True)  # fmt: skip
        self.layers = nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
        self.project = nn.Linear(WIDTH, dim)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1]).unsqueeze(0)
        states = self.layers(
            self.tokens(ids) + self.positions(positions), src_key_padding_mask=~mask
        )
        pooled = (states * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return nn.functional.normalize(self.project(pooled), dim=-1)


def word_ids(text: str) -> list[int]:
    """[CLS] + hashed lower-cased words + [SEP], truncated to MAX_LEN (ids 0-3 are special)."""
    words = text.lower().split()[: MAX_LEN - 2]
    hashed = [4 + int(hashlib.blake2b(w.encode(), digest_size=4).hexdigest(), 16) % (VOCAB - 4)
              for w in words]  # fmt: skip
    return [2, *hashed, 3]


@dataclass
class BenchModel:
    """`RetrievalModel` with a built-in-size text encoder; visual features are used as they are."""

    dim: int
    seed: int = 0
    model_id: str = "bench-builtin-size"
    languages: list[str] = field(default_factory=lambda: ["de", "en", "fr", "ja", "zh"])

    def __post_init__(self) -> None:
        torch.manual_seed(self.seed)
        self.encoder = BuiltinSizeEncoder(self.dim).eval()

    @torch.inference_mode()
    def encode_texts(self, texts: list[str], lang: str | None) -> np.ndarray:
        rows = [word_ids(t) for t in texts]
        length = max(map(len, rows))
        ids = torch.zeros((len(rows), length), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
        return self.encoder(ids, ids != 0).numpy()

    def encode_visual(self, batch: VisualBatch) -> np.ndarray:
        features = batch.values[:, 0].numpy()
        return features / np.linalg.norm(features, axis=1, keepdims=True)


def build_bench_index(out: Path, items: int, dim: int, kind: str) -> tuple[float, float | None]:
    """Build the index; returns (seconds, recall@10 against exact search or None if exact)."""
    features = np.random.default_rng(0).standard_normal((items, dim), dtype=np.float32)
    start = time.perf_counter()
    manifest = build_index(BenchModel(dim), VectorGallery(out.parent, features), out,
                           IndexConfig(type=kind, batch_size=4096), progress=False)  # fmt: skip
    return time.perf_counter() - start, manifest.recall_at_10


def random_queries(count: int, seed: int = 1) -> list[str]:
    rng = np.random.default_rng(seed)
    words = CAPTION_WORDS.split()
    return [" ".join(rng.choice(words, rng.integers(6, 15))) for _ in range(count)]


def serve_child(index_dir: str, port: int, dim: int, threads: int, log_level: str) -> None:
    """The server process: the app `ccrkit serve` runs, under uvicorn, access log off; the API
    token (if any) comes from $CCRKIT_API_TOKEN, as in `ccrkit serve`."""
    import uvicorn

    keep_freed_memory()  # as every `ccrkit` command does
    torch.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)
    from ccrkit.serve import ServeSettings, create_app
    from ccrkit.serve.server import TOKEN_ENV

    app = create_app(BenchModel(dim), index_dir, ServeSettings(token=os.environ.get(TOKEN_ENV)))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level=log_level, access_log=False,
                **uvicorn_options())  # fmt: skip


def start_server(
    index_dir: Path, dim: int, threads: int, token: str | None = None, log_level: str = "warning"
) -> tuple[subprocess.Popen, int]:
    """The server in a child process on a free loopback port, once it answers."""
    from ccrkit.serve.server import TOKEN_ENV

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, **({TOKEN_ENV: token} if token else {})}
    child = subprocess.Popen([sys.executable, str(BENCH_SERVE), "--serve-child", str(index_dir),
                              "--port", str(port), "--dim", str(dim), "--threads", str(threads),
                              "--log-level", log_level], env=env)  # fmt: skip
    try:
        _wait_until_up(port, child, token)
    except BaseException:
        child.terminate()
        raise
    return child, port


def run_client(load: Coroutine[object, object, dict[str, float]]) -> dict[str, float]:
    """Run the load generator, on uvloop where installed: it shares the cores with the server,
    and every cycle it saves goes to the server being measured."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(load)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(load)


def _wait_until_up(port: int, child: subprocess.Popen, token: str | None = None) -> None:
    deadline = time.monotonic() + 120
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/health", headers={"x-api-token": token} if token else {}
    )
    while time.monotonic() < deadline and child.poll() is None:
        try:
            with urllib.request.urlopen(request, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the benchmark server did not start")


def write_report(json_name: str, md_name: str, results: dict, text: str) -> None:
    """Print the Markdown report and keep it, with the raw figures, in `runs/bench-serve/`."""
    print(text)
    write_json_atomic(OUT_DIR / f"{json_name}.json", results)
    (OUT_DIR / f"{md_name}.md").write_text(text + "\n", encoding="utf-8")
    print(f"\nwritten: {OUT_DIR}/{md_name}.md, {json_name}.json")
