"""`NrccrConfig`: every number of NRCCR (methods.md §1.1–§1.3) with the published value as default,
the ablation switches (one per component) and the compatibility switches for the official code.
`TowerConfig` holds its tower numbers alone; NRF's and CL2CM's configs extend it too, so their YAML
reads like NRCCR's."""

from __future__ import annotations

from dataclasses import dataclass, field

from ccrkit.losses.negatives import ALL, check_negatives
from ccrkit.models.discriminators import DISCRIMINATOR_HEADS
from ccrkit.models.visual import ACTIVATIONS

BN_STATS = ("shared", "mt")
ABLATION_SWITCHES = (
    "source_term",
    "cross_teacher",
    "similarity_view",
    "feature_view",
    "back_translation",
    "adversarial",
)


@dataclass
class TowerConfig:
    """NRCCR's towers (§1.1)."""

    hidden: int = 768  # H, `text_hidden_size` of every official script
    heads: int = 8
    qk_dim: int = 512  # query/key width of the attention block
    positions: int = 250  # trainable position table of the text tower
    dropout: float = 0.1  # input projection, positions, attention
    embed_dim: int = 1536  # the common space (mapping Linear → BN → Dropout → L2)
    mapping_dropout: float = 0.2
    visual_hidden: int | None = None  # Linear after the visual encoder (CLIP: 512 → 1024)
    visual_activation: str = "none"  # NRCCR's CLIP projection has no activation

    def __post_init__(self) -> None:
        if self.visual_activation not in ACTIVATIONS:
            raise ValueError(
                f"visual_activation must be one of {', '.join(ACTIVATIONS)}, got {self.visual_activation!r}"
            )
        if self.hidden % self.heads or self.qk_dim % self.heads:
            raise ValueError(
                f"hidden ({self.hidden}) and qk_dim ({self.qk_dim}) must be divisible by heads ({self.heads})"
            )


@dataclass
class NrccrConfig(TowerConfig):
    clean_source: bool = True  # NRCCR's English cleaner on training sources (§1.5)
    # --- loss terms and their published weights (§1.2) ------------------------------------------
    margin: float = 0.2
    source_weight: float = 1.0  # L_tri(e_s, v)
    mt_weight: float = 0.6  # tri_alpha: L_tri(e_t, v)
    similarity_weight: float = 0.4  # dtl_beta: similarity-view distillation
    tau: float = 0.07
    feature_weight: float = 0.1  # l1_gama: feature-view SmoothL1
    smooth_l1_beta: float = 4.0
    bt_weight: float = 0.5  # back_w: L_tri(e_s, e_b)
    adversarial_weight: float = 0.001  # scale: BCE(D(t), 1)
    discriminator: str = "not-so-weak"  # weak | not-so-weak | strong
    discriminator_lr: float = 1e-3  # glr; Adam, no weight decay
    discriminator_betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    discriminator_eps: float = 1e-8
    # --- ablation switches: false removes the component ----------------------------------------
    source_term: bool = True  # L_tri(e_s, v)
    cross_teacher: bool = True  # false: the distillation teacher is e_s instead of e_c
    similarity_view: bool = True
    feature_view: bool = True
    back_translation: bool = True
    adversarial: bool = True
    # --- the official code's behaviour, where it differs from the fix (§1.7) --------------------
    nrccr_compat_padding_pool: bool = False  # mean over padded positions (text; video: encoder)
    nrccr_compat_feature_grad: bool = False  # feature-view teacher not detached
    gather: bool = True  # under DDP, ranking and distillation see every process's batch
    negatives: str = ALL  # mask_identical_text: identical caption texts are no triplet negatives
    # BatchNorm running statistics of the text mapping at test time: "shared" (as trained, over
    # source, MT, cross and back-translation passes: the official code) or "mt" (re-estimated on
    # the training MT alone before the test, the distribution of target-language queries)
    bn_stats: str = "shared"

    def __post_init__(self) -> None:
        check_negatives(self.negatives)
        if self.bn_stats not in BN_STATS:
            raise ValueError(
                f"bn_stats must be one of {', '.join(BN_STATS)}, got {self.bn_stats!r}"
            )
        if self.discriminator not in DISCRIMINATOR_HEADS:
            raise ValueError(
                f"unknown discriminator head {self.discriminator!r}; valid heads: "
                f"{', '.join(DISCRIMINATOR_HEADS)}"
            )
        super().__post_init__()
        if self.tau <= 0 or self.smooth_l1_beta <= 0:
            raise ValueError(
                f"tau and smooth_l1_beta must be > 0, got {self.tau}, {self.smooth_l1_beta}"
            )
        if len(self.discriminator_betas) != 2:
            raise ValueError(
                f"discriminator_betas must be two numbers, got {self.discriminator_betas}"
            )

    @property
    def distills(self) -> bool:
        return self.similarity_view or self.feature_view

    def ablated(self) -> list[str]:
        """The components switched off, in `ABLATION_SWITCHES` order."""
        return [name for name in ABLATION_SWITCHES if not getattr(self, name)]
