"""LS-attention: one attention layer whose heads are split into local (windowed) and global heads."""
from __future__ import annotations

import torch

from spanmix.backbone.mixers.multihead import (
    AttentionMixer,
    KVCache,
    append_to_cache,
    check_int_option,
    empty_cache,
    explicit_attention,
    sdpa_attention,
    visibility_mask,
)
from spanmix.backbone.registry import register_mixer
from spanmix.kernels import local_attention

__all__ = ["LSAttention", "default_local_heads"]


def default_local_heads(heads: int) -> int:
    """Mostly local heads, a few global ones: ``heads - max(1, heads // 4)`` (see ``LSAttention``)."""
    return heads - max(1, heads // 4)


@register_mixer("ls")
class LSAttention(AttentionMixer):
    """Long Short-attention (Hajra, "Short-Range Dependency Effects on Transformer Instability and a
    Decomposed Attention Solution", arXiv:2505.15548, 2025).

    Formulation followed: an ordinary multi-head attention layer (one q/k/v projection, ``heads``
    heads of width ``d = dim / heads``, one output projection) in which the first ``local_heads`` heads
    are *local* (short-range: a banded mask, each query sees a window of ``window`` positions) and the
    other ``heads - local_heads`` are *global* (long-range: ordinary full attention, causal if
    ``causal``). The head outputs are concatenated, local heads first, and projected by ``W_O``:

        A_loc,i = Q_i K_iᵀ / sqrt(d) + M_local,   A_glob,j = Q_j K_jᵀ / sqrt(d) + M_global
        LS(X)   = Concat(O_loc,0 .. O_loc,s-1, O_glob,0 .. O_glob,h-s-1) W_O

    There is no extra normalisation, gating or parameter beside MHSA's: with ``local_heads=0`` it is
    ``full`` and with ``local_heads=heads`` it is ``local`` (same parameter names, so weights load
    across the three). Departures / choices of ours (the paper is about causal LMs): the window rule
    is the one of ``local`` (causal ``i - w < j <= i``, non-causal ``|i - j| < w``); a non-causal form
    is offered; RoPE, when on, rotates every head. Default split: the paper presents LS-attention as
    mostly short-range local heads with a small number of long-range global heads, so by default a
    quarter of the heads (at least one) are global, ``local_heads = heads - max(1, heads // 4)``
    (4 heads: 3 local + 1 global; 8: 6 + 2). The exact split of the paper's experiments was not
    available to check here; set ``local_heads`` to match a given configuration.

    Args:
        dim, heads, causal, dropout, bias, rope, rope_base: as for ``full``.
        local_heads: number of local heads, ``0 <= local_heads <= heads``; default
            ``heads - max(1, heads // 4)`` (see above).
        window: w >= 1, the window of the local heads.

    Shapes: ``x`` (B, L, D), ``mask`` (B, L) bool key-padding mask (True = real) -> (B, L, D).
    Cost: local heads O(L·w·d) each, global heads O(L²·d) time / O(L) memory (SDPA) each.
    Streaming (causal only): a rolling window cache for the local heads and a growing KV cache for the
    global heads (``{"local": KVCache, "global": KVCache}``).
    """

    def __init__(self, dim: int, *, heads: int = 4, local_heads: int | None = None, window: int = 64,
                 causal: bool = False, dropout: float = 0.0, bias: bool = True, rope: bool = False,
                 rope_base: float = 10000.0):
        check_int_option(self.mixer_name, "window", window, 1)
        super().__init__(dim, heads=heads, causal=causal, dropout=dropout, bias=bias, rope=rope,
                         rope_base=rope_base)
        if local_heads is None:
            local_heads = default_local_heads(heads)
        if isinstance(local_heads, bool) or not isinstance(local_heads, int) or not 0 <= local_heads <= heads:
            raise ValueError(f"{self.mixer_name}: local_heads must be an integer in [0, heads={heads}], "
                             f"got {local_heads!r}")
        self.window, self.local_heads = window, local_heads

    @property
    def global_heads(self) -> int:
        return self.heads - self.local_heads

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, local_heads={self.local_heads}, window={self.window}"

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, mask)
        q, k, v = self.project(x)
        s = self.local_heads
        parts = []
        if s > 0:
                parts.append(local_attention(q[:, :s], k[:, :s], v[:, :s], self.window, causal=self.causal,
                                         key_padding_mask=mask))
        if s < self.heads:
            parts.append(sdpa_attention(q[:, s:], k[:, s:], v[:, s:], causal=self.causal,
                                        key_padding_mask=mask))
        return self.merge(torch.cat(parts, dim=1) if len(parts) > 1 else parts[0])

    def reference(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Explicit fp32 softmax attention with a per-head dense mask: band for local heads (no dropout)."""
        self.check_input(x, mask)
        q, k, v = self.project(x)
        L = x.shape[1]
        local = visibility_mask(L, L, causal=self.causal, window=self.window, device=x.device)
        glob = visibility_mask(L, L, causal=self.causal, device=x.device)
        if glob is None:
            glob = torch.ones(1, 1, L, L, dtype=torch.bool, device=x.device)
        per_head = torch.cat([local.expand(1, self.local_heads, L, L),
                              glob.expand(1, self.global_heads, L, L)], dim=1)
        if mask is not None:
            per_head = per_head & mask[:, None, None, :]
        return self.merge(explicit_attention(q, k, v, per_head), dropout=False)

    def init_state(self, batch: int, device=None, dtype=None) -> dict[str, KVCache]:
        self._require_causal("init_state")
        device, dtype = self._cache_args(device, dtype)
        return {"local": empty_cache(batch, self.local_heads, self.head_dim, device, dtype),
                "global": empty_cache(batch, self.global_heads, self.head_dim, device, dtype)}

    def step(self, x_t: torch.Tensor, state: dict[str, KVCache]) -> tuple[torch.Tensor, dict[str, KVCache]]:
        """One token ``x_t`` (B, D) -> (B, D): local heads see the last ``window`` tokens, global all."""
        self._require_causal("step")
        q, k, v = self._project_step(x_t, state["local"]["offset"])
        s = self.local_heads
        loc = append_to_cache(state["local"], k[:, :s], v[:, :s], keep=self.window)
        glob = append_to_cache(state["global"], k[:, s:], v[:, s:], keep=None)
        parts = []
        if s > 0:
            parts.append(sdpa_attention(q[:, :s], loc["k"].to(q.dtype), loc["v"].to(q.dtype)))
        if s < self.heads:
            parts.append(sdpa_attention(q[:, s:], glob["k"].to(q.dtype), glob["v"].to(q.dtype)))
        o = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        return self.merge(o)[:, 0], {"local": loc, "global": glob}
