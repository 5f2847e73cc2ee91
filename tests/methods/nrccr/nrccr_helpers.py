"""Tiny NRCCR methods and batches for the tests of tests/methods/nrccr (and nrf, cl2cm)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import torch

from ccrkit.data.batch import TrainBatch, VisualBatch
from ccrkit.methods import Method, build_method
from ccrkit.models import BuildContext

TESTS = Path(__file__).parents[2]

TEXTS = {
    "source": ["A red circle.", "A blue star next to a green square.", "A red circle again."],
    "mt:de": ["ein roter kreis", "ein blauer stern neben einem grünen quadrat", "wieder ein kreis"],
    "bt:de": ["A red circle.", "A blue star beside a green square.", "Again a circle."],
}
VISUAL_DIM = 6


def tiny_nrccr(visual: dict | None = None, **method: object) -> Method:
    """An NRCCR with the built-in text encoder, 16-wide everything; dropout off."""
    config = {
        "text_encoder": {"name": "builtin", "dim": 16, "layers": 1, "heads": 2, "ffn_dim": 32,
                         "vocab_size": 120, "dropout": 0.0, "max_length": 24},
        "visual_encoder": visual or {"name": "feature", "hidden": 12},
        "method": {"name": "nrccr", "hidden": 16, "heads": 2, "qk_dim": 8, "embed_dim": 10,
                   "dropout": 0.0, "mapping_dropout": 0.0, **method},
    }  # fmt: skip
    corpus = [text for texts in TEXTS.values() for text in texts]
    torch.manual_seed(0)
    return build_method(config, BuildContext(visual_dim=VISUAL_DIM, corpus=lambda: iter(corpus)))


def feature_batch(method: Method, views: tuple[str, ...] = tuple(TEXTS)) -> TrainBatch:
    torch.manual_seed(1)
    visual = VisualBatch(
        torch.randn(3, 1, VISUAL_DIM), torch.ones(3, 1, dtype=torch.bool), "feature"
    )
    return TrainBatch(["r", "b", "g"], torch.tensor([0, 1, 2]), visual,
                      {view: method.tokenize(TEXTS[view]) for view in views})  # fmt: skip


def bind_plain_steps(method: Method) -> dict[str, torch.optim.Optimizer]:
    """What the trainer does for `extra_optimizers()`, without a trainer: step on the sub-loss."""
    optimizers = {}
    for spec in method.extra_optimizers():
        optimizers[spec.name] = spec.build(spec.parameters)

    def stepper(name: str) -> Callable[[torch.Tensor], None]:
        params = next(s.parameters for s in method.extra_optimizers() if s.name == name)

        def step(loss: torch.Tensor) -> None:
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            for param, grad in zip(params, grads, strict=True):
                param.grad = grad
            optimizers[name].step()
            optimizers[name].zero_grad(set_to_none=True)

        return step

    method.bind_auxiliary_steps({name: stepper(name) for name in optimizers})
    return optimizers


def bind_no_steps(method: Method) -> None:
    """Auxiliary steps that leave the discriminator unchanged (for exact term values)."""
    method.bind_auxiliary_steps(
        {spec.name: lambda loss: None for spec in method.extra_optimizers()}
    )


def load_test_module(path: Path, name: str):
    """A helper module of another test folder (their conftest names would clash)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def build_world(root: Path) -> Path:
    """The world-contract miniature layout of tests/data (random features: plumbing only)."""
    return load_test_module(TESTS / "data" / "conftest.py", "data_conftest").build_world(root)
