"""Size world-mbert by measurement: pretrain it alone for a world config and print its throughput,
masked-token accuracy and zero-shot cross-lingual retrieval per language.

    python benchmarks/bench_world_mbert.py [CONFIG] [KEY=VALUE ...]
    python benchmarks/bench_world_mbert.py text_model.layers=2 text_model.hidden=256 text_model.steps=800

Tokens/s counts the real (non-padding) tokens of the training batches, over wall time and over
this process's CPU time (the figure that other load on the machine disturbs least); say how
loaded the machine was when quoting either.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from ccrkit.config import load_config
from ccrkit.world.config import WorldConfig
from ccrkit.world.mbert import pretrain_world_mbert


def main(argv: list[str]) -> int:
    name = argv[0] if argv and "=" not in argv[0] else "world-default"
    cfg = load_config(WorldConfig, name, [a for a in argv if "=" in a])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cpu, wall = time.process_time(), time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        info = pretrain_world_mbert(cfg, Path(folder))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    training = info["training"]
    tokens = training["tokens_per_s"] * training["training_s"]
    print(json.dumps(cfg.text_model.__dict__))
    print(f"masked-token accuracy %: {info['mlm_accuracy']}")
    print(f"en<->xx retrieval R@1 %: {info['crosslingual_retrieval']}")
    print(
        f"{info['parameters']:,} parameters, vocabulary {info['vocab_size']}, "
        f"{training['epochs']} epochs; training {training['tokens_per_s']:,} tokens/s wall; "
        f"whole run {wall:.1f} s wall, {cpu:.1f} s CPU ({tokens / max(cpu, 1e-9):,.0f} tokens per "
        f"CPU-second overall); stages (s): {info['timings_s']}; load before: {load:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
