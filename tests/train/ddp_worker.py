"""Run by `torchrun --nproc_per_node 2` from test_ddp.py (gloo, CPU): one DDP step vs the
single-process step on the concatenated batch, then a short DDP training run.

Usage: ddp_worker.py OUT_DIR (with this folder on PYTHONPATH, for `trainfakes`)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from trainfakes import FakeCollate, FakeEvalDataset, FakeTrainDataset, FakeWorld, tiny_config

from ccrkit.config import build
from ccrkit.methods import build_method
from ccrkit.models import BuildContext
from ccrkit.train import DistEnv, RunConfig, run_training
from ccrkit.train.distributed import init_process_group


def sections(gather: bool) -> dict:
    config = tiny_config(epochs=2)
    config["text_encoder"]["dropout"] = 0.0
    config["method"].update(gather=gather, learn_temperature=True)
    return config


def make_method(data: FakeTrainDataset, gather: bool):
    corpus = data.texts("source", None) + data.texts("mt", "de")
    torch.manual_seed(0)
    return build_method(sections(gather), BuildContext(visual_dim=16, corpus=lambda: iter(corpus)))


def one_step(out: Path, env: DistEnv) -> None:
    data = FakeTrainDataset(FakeWorld())
    examples = [data[i] for i in (0, 5, 9, 10, 17, 30, 41, 1)]  # items 0, 2, 4, 5, 8, 15, 20, 0
    method, reference = make_method(data, gather=True), make_method(data, gather=False)
    reference.load_state_dict(method.state_dict())
    collate = FakeCollate(method.tokenize)
    half = len(examples) // env.world_size
    ddp = DistributedDataParallel(method)
    local = ddp(collate(examples[env.rank * half : (env.rank + 1) * half]))
    sum(local.values()).backward()
    single = reference(collate(examples))
    sum(single.values()).backward()
    grads = {
        name: float((param.grad - dict(reference.named_parameters())[name].grad).abs().max())
        for name, param in method.named_parameters()
        if param.grad is not None
    }
    result = {
        "ddp": {k: float(v.detach()) for k, v in local.items()},
        "single": {k: float(v.detach()) for k, v in single.items()},
        "max_grad_diff": max(grads.values()),
        "params_with_grad": len(grads),
        "params": sum(1 for p in reference.parameters() if p.requires_grad),
    }
    (out / f"step-rank{env.rank}.json").write_text(json.dumps(result))


def short_run(out: Path) -> None:
    world = FakeWorld()
    config = build(RunConfig, sections(gather=True), "ddp test")
    outcome = run_training(
        config, out / "run", FakeTrainDataset(world), FakeCollate, FakeEvalDataset(world),
        FakeEvalDataset(world),
    )  # fmt: skip
    env = DistEnv.from_environ()
    summary = {
        "epochs": outcome.progress.epoch,
        "test": outcome.test,
        "examples": outcome.progress.history[0]["examples"],
    }
    (out / f"run-rank{env.rank}.json").write_text(json.dumps(summary))


def main() -> None:
    torch.set_num_threads(1)
    out = Path(sys.argv[1])
    env = DistEnv.from_environ()
    init_process_group(env, "gloo", torch.device("cpu"))
    one_step(out, env)
    short_run(out)
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
