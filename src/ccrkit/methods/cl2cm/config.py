"""`Cl2cmConfig`: CL2CM's reconstruction (methods.md §3) as config values with the spec's defaults.

No official code and no paper body: the abstract fixes two networks (cross-lingual CL, cross-modal
CM), the CL → CM knowledge transfer and retrieval with the CM network alone ([abs]); multi-level
alignment, word-level optimal transport and relational distillation come from third-party
summaries ([S]); the numbers, the losses' exact forms and the schedule are the project's
reconstruction ([R]/[open]) or its own defaults ([ours]). See docs/methods/cl2cm.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from ccrkit.losses.negatives import ALL, check_negatives
from ccrkit.losses.transport import PLAN_GRADS
from ccrkit.methods.towers import TowerConfig

SCHEDULES = ("joint", "two_stage")
CL_ENCODERS = ("copy", "shared")
OT_STATES = ("tower", "encoder")
KT_DIRECTIONS = ("both", "forward")


@dataclass
class Cl2cmConfig(TowerConfig):
    tau: float = 0.07  # every InfoNCE and the relations [ours]
    # --- CM network: InfoNCE(v, e_t) and InfoNCE(v, e_s) [R] --------------------------------------
    source_weight: float = 1.0
    mt_weight: float = 1.0
    # --- CL network: sentence InfoNCE(s, t) + word-level OT [S]/[R] --------------------------------
    sentence_weight: float = 1.0
    ot_weight: float = 1.0  # λ_OT [ours]
    ot_epsilon: float = 0.1  # entropic regularisation ε [ours]
    ot_iterations: int = 50  # Sinkhorn iterations [ours]
    ot_tol: float = 0.0  # stop early when row marginals are within this (0: all iterations)
    ot_plan_grad: str = "detach"  # detach | autodiff | last_step [open]
    ot_states: str = "tower"  # token states aligned: the CL tower's (tower) or the encoder's
    # --- relational knowledge transfer CL → CM [S]/[R] ---------------------------------------------
    kt_weight: float = 1.0  # λ_KT [ours]
    kt_teacher_tau: float | None = None  # τ of the CL relations (None: tau)
    kt_directions: str = "both"  # both: rows and columns of the relation matrices [R] | forward
    # --- schedule and the CL network's encoder [open]/[ours] --------------------------------------
    schedule: str = "two_stage"  # two_stage: CL first, then CM with the frozen CL teacher | joint
    cl_epochs: int = 1  # two_stage: epochs of the CL stage [ours]
    cl_encoder: str = "copy"  # copy: own text encoder, initialised as the CM one | shared
    gather: bool = True  # under DDP, contrastive terms see every process's batch
    negatives: str = ALL  # mask_identical_text: identical caption texts are no InfoNCE negatives

    def __post_init__(self) -> None:
        super().__post_init__()
        check_negatives(self.negatives)
        for name, value, choices in (
            ("schedule", self.schedule, SCHEDULES), ("cl_encoder", self.cl_encoder, CL_ENCODERS),
            ("ot_states", self.ot_states, OT_STATES), ("ot_plan_grad", self.ot_plan_grad, PLAN_GRADS),
            ("kt_directions", self.kt_directions, KT_DIRECTIONS),
        ):  # fmt: skip
            if value not in choices:
                raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
        if self.tau <= 0 or self.ot_epsilon <= 0 or (self.kt_teacher_tau or 1.0) <= 0:
            raise ValueError("tau, ot_epsilon and kt_teacher_tau must be > 0")
        if self.ot_iterations < 1 or self.cl_epochs < 0:
            raise ValueError(
                f"ot_iterations must be >= 1 and cl_epochs >= 0, got {self.ot_iterations}, "
                f"{self.cl_epochs}"
            )
        if self.schedule == "two_stage" and not self.uses_cl:
            raise ValueError(
                "schedule two_stage trains the CL network first, but sentence_weight, ot_weight "
                "and kt_weight are all 0; use schedule=joint (the CM network alone)"
            )
        if self.schedule == "two_stage" and self.cl_encoder == "shared":
            raise ValueError(
                "schedule two_stage freezes the CL network as the teacher, but cl_encoder=shared "
                "lets the CM stage keep training its encoder; use cl_encoder=copy or schedule=joint"
            )

    @property
    def uses_cl(self) -> bool:
        """Whether any term needs the CL network (its own terms, or the transfer from it)."""
        return bool(self.sentence_weight or self.ot_weight or self.kt_weight)

    def in_cl_stage(self, epoch: int) -> bool:
        """two_stage: epochs 1..cl_epochs train the CL network alone."""
        return self.schedule == "two_stage" and epoch <= self.cl_epochs

    def cl_frozen(self, epoch: int) -> bool:
        """two_stage: after the CL stage the CL network is a frozen teacher."""
        return self.schedule == "two_stage" and epoch > self.cl_epochs
