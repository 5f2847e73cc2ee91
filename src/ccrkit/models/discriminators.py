"""NRCCR's language discriminators (methods.md §1.1): is a sentence English or a translation?

They read the text encoder's token states (B, L, D) — mBERT's last hidden states in NRCCR — and
return two logits per sentence (NRCCR trains both towards the same label, see
`ccrkit.losses.adversarial_language`). Heads, by name:

- `weak`: mean over tokens → Linear(D→2);
- `not-so-weak` (Multi30K, MSCOCO, MSR-VTT-CN): mean over tokens → Linear(D→256) → tanh →
  Linear(256→128) → tanh → Linear(128→2);
- `strong` (VATEX): Conv1d(D→128, k=1) → 3 residual blocks → mean over tokens → Linear(128→2).

Pooling is over the real tokens only; `pad_pool=True` averages over the padded length as the
official code does (`nrccr_compat_padding_pool`, methods.md §1.7 item 5).
"""

from __future__ import annotations

import torch
from torch import nn

from ccrkit.models.base import masked_mean

DISCRIMINATOR_HEADS = ("weak", "not-so-weak", "strong")
CONV_WIDTH = 128
RESIDUAL_SCALE = 0.3


def _pool(states: torch.Tensor, mask: torch.Tensor, pad_pool: bool) -> torch.Tensor:
    return states.mean(dim=1) if pad_pool else masked_mean(states, mask)


class ResidualConvBlock(nn.Module):
    """ReLU → Conv1d(k5) → ReLU → Conv1d(k5), added back at scale 0.3, on (B, C, L).

    The official block applies its first ReLU in place, so the residual it adds back is ReLU(x),
    not x: out = ReLU(x) + 0.3 · conv(ReLU(conv(ReLU(x)))). We reproduce that computation.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(width, width, 5, padding=2)
        self.conv2 = nn.Conv1d(width, width, 5, padding=2)

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """`keep` (B, 1, L) zeroes padded positions before each convolution (None: no masking)."""
        mask = (lambda t: t) if keep is None else (lambda t: t * keep)
        rectified = torch.relu(x)
        inner = torch.relu(self.conv1(mask(rectified)))
        return rectified + RESIDUAL_SCALE * self.conv2(mask(inner))


class LanguageDiscriminator(nn.Module):
    """Sentence-level discriminator; `head` is one of `DISCRIMINATOR_HEADS`."""

    def __init__(self, head: str, dim: int, classes: int = 2) -> None:
        super().__init__()
        if head not in DISCRIMINATOR_HEADS:
            raise ValueError(
                f"unknown discriminator head {head!r}; valid heads: {', '.join(DISCRIMINATOR_HEADS)}"
            )
        self.head = head
        self.convolve: nn.ModuleList | None = None
        if head == "weak":
            self.classify: nn.Module = nn.Linear(dim, classes)
        elif head == "not-so-weak":
            self.classify = nn.Sequential(
                nn.Linear(dim, 256), nn.Tanh(), nn.Linear(256, 128), nn.Tanh(),
                nn.Linear(128, classes),
            )  # fmt: skip
        else:
            self.convolve = nn.ModuleList(
                [nn.Conv1d(dim, CONV_WIDTH, 1), *(ResidualConvBlock(CONV_WIDTH) for _ in range(3))]
            )
            self.classify = nn.Linear(CONV_WIDTH, classes)

    def forward(
        self, states: torch.Tensor, mask: torch.Tensor, pad_pool: bool = False
    ) -> torch.Tensor:
        """(B, L, D) token states and their (B, L) mask -> (B, classes) logits."""
        if self.convolve is not None:
            states = self._convolve(states, mask, pad_pool)
        return self.classify(_pool(states, mask, pad_pool))

    def _convolve(self, states: torch.Tensor, mask: torch.Tensor, pad_pool: bool) -> torch.Tensor:
        """The conv stack over the sequence. Outside compat mode padded positions are zeroed before
        every k=5 convolution, so real tokens see zeros past their end (as at a sequence boundary)
        whatever the batch's padding; the pooling then skips the padded positions."""
        keep = None if pad_pool else mask[:, None, :].to(states.dtype)
        first, *blocks = self.convolve  # type: ignore[misc]
        x = first(states.transpose(1, 2))
        for block in blocks:
            x = block(x, keep)
        return x.transpose(1, 2)
