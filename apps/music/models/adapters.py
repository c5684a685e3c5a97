"""Residual adapters for a frozen language model (Mehta, Chauhan, Choudhury, "Exploring Adapter Design
Tradeoffs for Low Resource Music Generation", ACM MM 2025, arXiv 2506.21298, Sec. 3).

Three kinds, each ``x + up(f(down(x)))`` with the up-projection initialised to zero (the adapted model
starts as the base model):

- ``linear``: bottleneck MLP, down -> GELU -> dropout -> up (the paper's MusicGen adapter);
- ``conv``: down -> dilated residual 1-D convolutions (dilations 1, 2, 4, GELU) -> squeeze-excitation ->
  up (the paper's Mustango adapter family);
- ``transformer``: down -> pre-LN multi-head self-attention -> pre-LN GELU FFN -> up.

Departures, all for a causal symbolic LM (the paper adapts audio models): the convolutions are causal
(left padding) and the squeeze-excitation pools over the past only (a running mean), and the attention
is causal, so an adapted LM still never sees future events. ``size`` is the bottleneck width.

Step form: ``adapter.step(x_t, history)`` keeps the adapter's inputs so far and recomputes its (small)
forward over them, returning the last output: O(t) per step but exactly the forward's value.

Shapes: (B, L, D) -> (B, L, D).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ADAPTERS", "Adapter", "ConvAdapter", "LinearAdapter", "TransformerAdapter", "build_adapter"]


class Adapter(nn.Module):
    """Base: ``x + up(body(down(x)))``; subclasses define ``body`` on (B, L, size)."""

    def __init__(self, dim: int, size: int, dropout: float = 0.1):
        super().__init__()
        if size < 1:
            raise ValueError(f"adapter size (bottleneck width) must be >= 1, got {size}")
        self.down = nn.Linear(dim, size)
        self.up = nn.Linear(size, dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)
        self.drop = nn.Dropout(dropout)

    def body(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(self.drop(self.body(self.down(x))))

    def step(self, x_t: torch.Tensor, history: list[torch.Tensor] | None):
        history = (history or []) + [x_t]
        return self.forward(torch.stack(history, 1))[:, -1], history


class LinearAdapter(Adapter):
    def body(self, h):
        return F.gelu(h)

    def step(self, x_t, history):  # position-wise: no history needed
        return self.forward(x_t), history


class _CausalConv(nn.Module):
    def __init__(self, size: int, kernel: int, dilation: int):
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.conv = nn.Conv1d(size, size, kernel, dilation=dilation)

    def forward(self, h):  # (B, C, L)
        return self.conv(F.pad(h, (self.pad, 0)))


class ConvAdapter(Adapter):
    def __init__(self, dim: int, size: int, dropout: float = 0.1, kernel: int = 3, dilations=(1, 2, 4),
                 se_ratio: int = 4):
        super().__init__(dim, size, dropout)
        self.convs = nn.ModuleList(_CausalConv(size, kernel, d) for d in dilations)
        self.se = nn.Sequential(nn.Linear(size, max(1, size // se_ratio)), nn.GELU(),
                                nn.Linear(max(1, size // se_ratio), size), nn.Sigmoid())

    def body(self, h):
        c = h.transpose(1, 2)
        for conv in self.convs:
            c = c + F.gelu(conv(c))
        h = c.transpose(1, 2)
        steps = torch.arange(1, h.shape[1] + 1, device=h.device, dtype=h.dtype).view(1, -1, 1)
        return h * self.se(h.cumsum(1) / steps)  # squeeze over the past only


class TransformerAdapter(Adapter):
    def __init__(self, dim: int, size: int, dropout: float = 0.1, heads: int = 4):
        super().__init__(dim, size, dropout)
        heads = heads if size % heads == 0 else 1
        self.norm1, self.norm2 = nn.LayerNorm(size), nn.LayerNorm(size)
        self.attn = nn.MultiheadAttention(size, heads, dropout=dropout, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(size, 4 * size), nn.GELU(), nn.Linear(4 * size, size))

    def body(self, h):
        L = h.shape[1]
        causal = torch.ones(L, L, dtype=torch.bool, device=h.device).triu(1)
        a = self.norm1(h)
        h = h + self.attn(a, a, a, attn_mask=causal, need_weights=False)[0]
        return h + self.ffn(self.norm2(h))


ADAPTERS = {"linear": LinearAdapter, "conv": ConvAdapter, "transformer": TransformerAdapter}


def build_adapter(kind: str, dim: int, size: int, **options) -> Adapter:
    if kind not in ADAPTERS:
        raise ValueError(f"unknown adapter kind {kind!r}; expected one of {sorted(ADAPTERS)}")
    return ADAPTERS[kind](dim, size, **options)
