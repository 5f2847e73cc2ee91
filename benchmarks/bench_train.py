"""Training speed of each method on this CPU: samples/s and model FLOP utilisation (MFU).

    python benchmarks/bench_train.py                    # hf encoder (4 x 256 BERT), every method
    python benchmarks/bench_train.py --methods baseline nrccr --threads 2 --examples 4096
    python benchmarks/bench_train.py --encoder builtin  # the built-in from-scratch encoder

Every method is trained by the real trainer (`run_training`) on synthetic feature data with the
sizes of its world config, all with the same text encoder: with `--encoder hf` (default) a BERT
built on the fly with world-mbert's size (`--layers` x `--width`, WordPiece vocabulary of about
1,000 entries, saved with save_pretrained and loaded through the `hf` encoder like any local
model). Items are random combinations of attributes; an item's visual feature is a fixed random
mix of them, its English caption and German "MT" (and an English back-translation, for NRCCR)
name them, so the numbers come from a real learning problem. One sample = one English caption
with its MT (one row of a TrainBatch). The first epoch includes warm-up; the reported figure is
the last epoch's.

MFU = (model FLOPs per sample x samples/s) / peak. Model FLOPs per sample: one training step of
the method (forward, backward, NRCCR's discriminator step) counted by torch's FlopCounterMode
(matrix products and attention; elementwise work is not counted, as usual for MFU) divided by the
batch size. Peak: the best of fp32 GEMMs (2048 x 2048, `--threads` threads) measured before the
first method and after each, in the same process. On a shared machine both samples/s and the wall
peak move with the other jobs (the load average is printed), so the table also gives the MFU in
CPU time: FLOPs per CPU second of this process in training against the same for the GEMM.
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ccrkit.allocator import keep_freed_memory
from ccrkit.config import load_config, to_dict
from ccrkit.data.batch import TokenBatch, TrainBatch, VisualBatch
from ccrkit.train import RunConfig, run_training

WORDS = {
    "red": "rot", "blue": "blau", "green": "grün", "small": "klein", "big": "groß", "dog": "hund",
    "cat": "katze", "ball": "ball", "runs": "rennt", "sits": "sitzt", "on": "auf", "grass": "gras",
    "street": "straße", "beach": "strand", "with": "mit", "a": "ein", "the": "der", "child": "kind",
}  # fmt: skip
METHOD_CONFIGS = {
    "baseline": "baseline-world",
    "nrccr": "nrccr-world",
    "nrf": "nrf-world",
    "cl2cm": "cl2cm-world",
    "one_to_k": "one-to-k-world",
}
# what every method needs on synthetic data: one target language, NRF's random-half selector
# (its round-trip selector needs MT quality scores the synthetic data has not)
COMMON = ["data.target_langs=[de]", "train.device=cpu"]
# The world configs' alternative to world-mbert (their comments name it): the built-in encoder.
BUILTIN = {"name": "builtin", "dim": 256, "layers": 2, "heads": 4, "ffn_dim": 512,
           "max_length": 48, "vocab_size": 4000}  # fmt: skip
PER_METHOD = {"nrf": ["method.selector=fraction"]}


@dataclass
class Example:
    item_id: str
    item_index: int
    visual: np.ndarray
    views: dict[str, str]


class SyntheticCaptions:
    target_langs = ("de",)

    def __init__(self, examples: int, dim: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        english = list(WORDS)
        mixing = rng.standard_normal((len(english), dim)).astype(np.float32)
        self.examples = []
        for index in range(examples):
            chosen = rng.choice(len(english), size=int(rng.integers(6, 14)))
            feature = mixing[chosen].sum(0) + 0.1 * rng.standard_normal(dim).astype(np.float32)
            views = {
                "source": " ".join(english[i] for i in chosen),
                "mt:de": " ".join(WORDS[english[i]] for i in chosen),
                "bt:de": " ".join(english[i] for i in rng.permutation(chosen)),
            }
            self.examples.append(Example(f"i{index}", index, feature, views))

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> Example:
        return self.examples[i]

    def texts(self, role: str, lang: str | None) -> list[str]:
        key = role if lang is None else f"{role}:{lang}"
        return [e.views[key] for e in self.examples]


class Collate:
    """Tokenises the views a config loads (source + its roles in German), as TrainCollate does."""

    def __init__(self, tokenize, views: tuple[str, ...]) -> None:
        self.tokenize, self.views = tokenize, views

    def __call__(self, examples: list[Example]) -> TrainBatch:
        values = torch.from_numpy(np.stack([e.visual for e in examples]))[:, None]
        views: dict[str, TokenBatch] = {
            key: self.tokenize([e.views[key] for e in examples]) for key in self.views
        }
        mask = torch.ones(len(examples), 1, dtype=torch.bool)
        index = torch.tensor([e.item_index for e in examples])  # one item per row: its row
        return TrainBatch(
            [e.item_id for e in examples],
            index,
            VisualBatch(values, mask, "feature"),
            views,
            example_index=index,
        )


def world_bert(directory: Path, layers: int, width: int) -> Path:
    """A BERT of world-mbert's size (heads of 64, FFN 4 x width) with a WordPiece vocabulary of
    the captions' words padded to ~1,000 entries, saved like a downloaded model folder."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    words = sorted({*WORDS, *WORDS.values()})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    vocab += [f"##w{i}" for i in range(1000 - len(vocab))]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=width, num_hidden_layers=layers,
        num_attention_heads=max(1, width // 64), intermediate_size=4 * width,
        max_position_embeddings=128,
    )  # fmt: skip
    torch.manual_seed(0)
    BertModel(config).save_pretrained(directory)
    BertTokenizerFast(str(directory / "vocab.txt"), do_lower_case=True).save_pretrained(directory)
    return directory


def gemm_peak(threads: int, size: int = 2048, repeats: int = 5) -> tuple[float, float]:
    """(FLOP per wall second, FLOP per CPU second) of the best of `repeats` fp32 products of two
    size x size matrices."""
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)  # warm-up
    times = [_timed(lambda: torch.mm(a, b)) for _ in range(repeats)]
    flops = 2 * size**3
    return flops / min(w for w, _ in times), flops / min(c for _, c in times)


def _timed(call) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process: every thread) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def step_flops(config: RunConfig, data: SyntheticCaptions, views: tuple[str, ...]) -> float:
    """Model FLOPs of one training step on one batch (forward, backward, auxiliary steps)."""
    from torch.utils.flop_counter import FlopCounterMode

    from ccrkit.methods import build_method
    from ccrkit.models import BuildContext

    corpus = lambda: (t for role in ("source", "mt:de", "bt:de") for t in data.texts(role, None))  # noqa: E731
    method = build_method(to_dict(config), BuildContext(int(data[0].visual.shape[-1]), corpus))
    method.bind_auxiliary_steps({
        spec.name: functools.partial(_aux_backward, spec.parameters)
        for spec in method.extra_optimizers()
    })  # fmt: skip
    method.prepare_training(data)
    method.start_epoch(config.train.epochs)  # the stage of the epoch whose speed is reported
    method.train()
    batch = Collate(method.tokenize, views)([data[i] for i in range(config.train.batch_size)])
    with FlopCounterMode(display=False) as counter:
        sum(method(batch).values()).backward()
    return counter.get_total_flops()


def _aux_backward(parameters, loss: torch.Tensor) -> None:
    torch.autograd.grad(loss, parameters, allow_unused=True)


def bench_method(
    name: str, args: argparse.Namespace, data: SyntheticCaptions, model_dir: Path | None
) -> dict[str, float]:
    overrides = [f"train.epochs={args.epochs}", "train.tensorboard=false", "train.progress=false",
                 *COMMON, *PER_METHOD.get(name, []), *args.overrides]  # fmt: skip
    config = load_config(RunConfig, METHOD_CONFIGS[name], overrides)
    # the section is replaced, not merged into (other keys)
    if model_dir is not None:
        config.text_encoder = {"name": "hf", "path": str(model_dir), "max_length": 48}
    else:
        config.text_encoder = dict(BUILTIN)
    views = ("source", *(f"{role}:de" for role in config.data.roles))
    torch.set_num_threads(args.threads)
    flops = step_flops(config, data, views) / config.train.batch_size
    cpu_at_epoch_end: list[float] = []
    with tempfile.TemporaryDirectory() as run_dir:
        outcome = run_training(
            config, run_dir, data, functools.partial(Collate, views=views),
            callbacks=[lambda trainer, summary: cpu_at_epoch_end.append(time.process_time())],
        )  # fmt: skip
    last = outcome.progress.history[-1]
    # the last epoch's CPU seconds (every thread; between the last two epoch ends: training and
    # the checkpoint writes)
    cpu = cpu_at_epoch_end[-1] - cpu_at_epoch_end[-2] if len(cpu_at_epoch_end) > 1 else None
    return {"samples_per_s": last["samples_per_s"], "flops_per_sample": flops,
            "seconds": last["seconds"], "examples": last["examples"], "cpu_seconds": cpu}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--methods", nargs="+", default=list(METHOD_CONFIGS),
                        choices=list(METHOD_CONFIGS))  # fmt: skip
    parser.add_argument("--encoder", choices=("hf", "builtin"), default="hf")
    parser.add_argument("--layers", type=int, default=4, help="hf: BERT layers (world-mbert: 4)")
    parser.add_argument("--width", type=int, default=256, help="hf: BERT width (world-mbert: 256)")
    parser.add_argument("--examples", type=int, default=2048)
    parser.add_argument("--dim", type=int, default=512, help="visual feature width")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("overrides", nargs="*", help="run config overrides for every method")
    args = parser.parse_args()
    keep_freed_memory()  # as every `ccrkit` command does
    load_before = os.getloadavg()[0]
    data = SyntheticCaptions(args.examples, args.dim)
    peaks = [gemm_peak(args.threads)]
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        model_dir = None
        if args.encoder == "hf":
            model_dir = world_bert(Path(folder) / "world-bert", args.layers, args.width)
        for name in args.methods:
            results[name] = bench_method(name, args, data, model_dir)
            peaks.append(gemm_peak(args.threads))  # between methods: the machine's load moves
    peak = max(wall for wall, _ in peaks)
    peak_cpu = max(cpu for _, cpu in peaks)
    encoder = f"hf BERT {args.layers} x {args.width}" if args.encoder == "hf" else "built-in"
    print(
        f"text encoder {encoder}; {args.threads} thread(s); GEMM peak {peak / 1e9:.1f} GFLOP/s "
        f"wall ({', '.join(f'{w / 1e9:.0f}' for w, _ in peaks)} over the run), "
        f"{peak_cpu / 1e9:.1f} GFLOP per CPU second; load average {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after"
    )
    print(report_table(results, peak, peak_cpu))


def report_table(results: dict[str, dict[str, float]], peak: float, peak_cpu: float) -> str:
    """MFU (wall) = achieved FLOP/s / GEMM FLOP/s; MFU (CPU) = FLOPs per CPU second of training
    / FLOPs per CPU second of the GEMM: the same ratio with the machine's other jobs taken out
    (the time slices they took count in neither), what a quiet machine would show."""
    base = results.get("baseline")
    lines = [
        "| method | samples/s | ms / sample | GFLOP / sample | GFLOP/s | MFU (wall) | MFU (CPU time) "
        "| time / sample vs baseline |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        achieved = r["flops_per_sample"] * r["samples_per_s"]
        cpu = r.get("cpu_seconds")
        per_cpu = (
            f"{100 * r['flops_per_sample'] * r['examples'] / cpu / peak_cpu:.1f} %" if cpu else "–"
        )
        ratio = f"{base['samples_per_s'] / r['samples_per_s']:.2f} x" if base else "–"
        lines.append(
            f"| {name} | {r['samples_per_s']:.0f} | {1000 / r['samples_per_s']:.2f} | "
            f"{r['flops_per_sample'] / 1e9:.3f} | {achieved / 1e9:.1f} | "
            f"{100 * achieved / peak:.1f} % | {per_cpu} | {ratio} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
