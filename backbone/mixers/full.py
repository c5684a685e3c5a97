"""Full (global) multi-head softmax attention."""
from __future__ import annotations

import torch

from spanmix.backbone.mixers.multihead import (
    AttentionMixer,
    KVCache,
    append_to_cache,
    empty_cache,
    explicit_attention,
    sdpa_attention,
    visibility_mask,
)
from spanmix.backbone.registry import register_mixer

__all__ = ["FullAttention"]


@register_mixer("full")
class FullAttention(AttentionMixer):
    """Multi-head scaled dot-product attention over the whole sequence (Vaswani et al., "Attention Is
    All You Need", NeurIPS 2017, sec. 3.2).

    ``y = Concat_h(softmax(Q_h K_hᵀ / sqrt(d) + M) V_h) W_O`` with ``Q, K, V = x W_QKV`` split into
    ``heads`` heads of width ``d = dim / heads``; ``M`` hides future keys (``causal``) and padded keys
    (``mask``). Runs on ``F.scaled_dot_product_attention`` (flash / memory-efficient kernels).

    Args:
        dim: width D (divisible by ``heads``).
        heads: number of heads.
        causal: query ``i`` sees keys ``j <= i``.
        dropout: dropout on the output (training only).
        bias: biases in the projections.
        rope: rotary position embedding on q/k (``RotaryEmbedding(d, rope_base)``, Su et al. 2021).
        rope_base: RoPE frequency base.

    Shapes: ``x`` (B, L, D), ``mask`` (B, L) bool, True = real token (a key-padding mask; a query that
    sees no real key returns zeros) -> (B, L, D).
    Cost: O(L²·D) time; O(L) extra memory with the fused SDPA kernels (O(L²) with an explicit mask on
    backends without a fused masked kernel).
    Streaming (causal only): ``init_state`` / ``step`` keep a KV cache of every past token
    (``KVCache``: rotated keys, values, next position); O(t·D) per step.
    """

    def __init__(self, dim: int, *, heads: int = 4, causal: bool = False, dropout: float = 0.0,
                 bias: bool = True, rope: bool = False, rope_base: float = 10000.0):
        super().__init__(dim, heads=heads, causal=causal, dropout=dropout, bias=bias, rope=rope,
                         rope_base=rope_base)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, mask)
        q, k, v = self.project(x)
        return self.merge(sdpa_attention(q, k, v, causal=self.causal, key_padding_mask=mask))

    def reference(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Explicit ``softmax(QKᵀ/sqrt(d) + mask)V`` in fp32 with a dense L×L mask (no dropout)."""
        self.check_input(x, mask)
        q, k, v = self.project(x)
        L = x.shape[1]
        visible = visibility_mask(L, L, causal=self.causal, key_padding_mask=mask, device=x.device)
        return self.merge(explicit_attention(q, k, v, visible), dropout=False)

    def init_state(self, batch: int, device=None, dtype=None) -> KVCache:
        self._require_causal("init_state")
        return empty_cache(batch, self.heads, self.head_dim, *self._cache_args(device, dtype))

    def step(self, x_t: torch.Tensor, state: KVCache) -> tuple[torch.Tensor, KVCache]:
        """One token ``x_t`` (B, D) -> (B, D): attend to every cached key and itself."""
        self._require_causal("step")
        q, k, v = self._project_step(x_t, state["offset"])
        state = append_to_cache(state, k, v, keep=None)
        o = sdpa_attention(q, state["k"].to(q.dtype), state["v"].to(q.dtype))
        return self.merge(o)[:, 0], state
