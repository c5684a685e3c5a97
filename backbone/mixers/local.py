"""Sliding-window (local) multi-head attention."""
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

__all__ = ["LocalAttention"]


@register_mixer("local")
class LocalAttention(AttentionMixer):
    """Multi-head attention restricted to a sliding window of ``window`` (= w) positions.

    The sliding-window pattern of Longformer (Beltagy et al., "Longformer: The Long-Document
    Transformer", 2020, sec. 3.1) and of the local pattern of Sparse Transformers (Child et al.,
    "Generating Long Sequences with Sparse Transformers", 2019). Stacked with a few ``full`` layers it
    gives MASFormer's mixed attention spans (Zhang et al., "MASFormer: Efficient long-sequence
    transformer with mixed attention spans", 2023): ``MixerStack(D, "local*3,full", window=w)``.

    Visibility (query ``i``, key ``j``): causal ``i - w < j <= i`` (itself and the ``w - 1`` keys
    before); non-causal ``|i - j| < w`` (``w - 1`` keys each side). With ``w >= L`` it is full attention.
    Runs on ``spanmix.kernels.local_attention`` (blocked SDPA, never an L×L tensor).

    Args:
        dim, heads, causal, dropout, bias, rope, rope_base: as for ``full``.
        window: w >= 1.

    Shapes: ``x`` (B, L, D), ``mask`` (B, L) bool key-padding mask (True = real) -> (B, L, D).
    Cost: O(L·w·D) time, O(L·w) memory.
    Streaming (causal only): a rolling KV window of the last ``w`` tokens; O(w·D) per step and state.
    """

    def __init__(self, dim: int, *, heads: int = 4, window: int = 64, causal: bool = False,
                 dropout: float = 0.0, bias: bool = True, rope: bool = False, rope_base: float = 10000.0):
        check_int_option(self.mixer_name, "window", window, 1)
        super().__init__(dim, heads=heads, causal=causal, dropout=dropout, bias=bias, rope=rope,
                         rope_base=rope_base)
        self.window = window

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, window={self.window}"

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, mask)
        q, k, v = self.project(x)
        o = local_attention(q, k, v, self.window, causal=self.causal, key_padding_mask=mask)
        return self.merge(o)

    def reference(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Explicit softmax attention in fp32 with the dense L×L band mask (no dropout)."""
        self.check_input(x, mask)
        q, k, v = self.project(x)
        L = x.shape[1]
        visible = visibility_mask(L, L, causal=self.causal, window=self.window, key_padding_mask=mask,
                                  device=x.device)
        return self.merge(explicit_attention(q, k, v, visible), dropout=False)

    def init_state(self, batch: int, device=None, dtype=None) -> KVCache:
        self._require_causal("init_state")
        return empty_cache(batch, self.heads, self.head_dim, *self._cache_args(device, dtype))

    def step(self, x_t: torch.Tensor, state: KVCache) -> tuple[torch.Tensor, KVCache]:
        """One token ``x_t`` (B, D) -> (B, D): attend to the last ``window`` tokens (itself included)."""
        self._require_causal("step")
        q, k, v = self._project_step(x_t, state["offset"])
        state = append_to_cache(state, k, v, keep=self.window)
        o = sdpa_attention(q, state["k"].to(q.dtype), state["v"].to(q.dtype))
        return self.merge(o)[:, 0], state
