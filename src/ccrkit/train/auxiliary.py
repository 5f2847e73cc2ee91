"""Steps of the optimisers a method drives itself (e.g. NRCCR's language discriminator)."""

from __future__ import annotations

import torch

from ccrkit.methods.base import AuxiliaryOptimizer
from ccrkit.train.distributed import DistEnv, average_gradients


class AuxiliaryStepper:
    """`stepper(loss)`: gradients of `loss` w.r.t. this optimiser's parameters only, averaged over
    processes, then one optimiser step. `torch.autograd.grad` leaves every other parameter's
    `.grad` (and DDP's reducer) untouched, so the method may call it in the middle of `forward`."""

    def __init__(self, spec: AuxiliaryOptimizer, env: DistEnv) -> None:
        self.name, self.parameters, self.env = spec.name, list(spec.parameters), env
        self.optimizer = spec.build(self.parameters)

    def __call__(self, loss: torch.Tensor) -> None:
        grads = torch.autograd.grad(loss, self.parameters, allow_unused=True)
        grads = [
            torch.zeros_like(p) if g is None else g
            for p, g in zip(self.parameters, grads, strict=True)
        ]
        average_gradients(grads, self.env)
        for param, grad in zip(self.parameters, grads, strict=True):
            param.grad = grad
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
