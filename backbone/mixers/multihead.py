"""What the attention mixers share: projections, head split/merge, RoPE, masks and attention cores.

``AttentionMixer`` is the base of ``full``, ``local``, ``ls`` and ``probsparse``. It owns

- ``qkv``: one ``Linear(D, 3D)``; its output is read as ``[q | k | v]``, each ``(H, d)`` with head ``h``
  in channels ``h*d : (h+1)*d`` (``d = D / H``);
- ``out``: ``Linear(D, D)`` applied to the concatenated heads (Vaswani et al. 2017, sec. 3.2.2);
- ``rotary``: an optional ``RotaryEmbedding(d, rope_base)`` (Su et al. 2021) applied to q and k;
- ``drop``: dropout on the mixer output (after ``out``; Vaswani et al.'s residual dropout, where the
  pre-norm ``Block`` would put it). It is the same for every attention mixer because the local kernel
  has no attention-probability dropout. ``reference`` never applies it.

The attention cores take ``(B, H, L, d)`` tensors:

- ``sdpa_attention``: exact attention on ``F.scaled_dot_product_attention`` (fused kernels), with a
  causal and/or key-padding mask; a query that sees no key gives zeros and passes no gradient.
- ``explicit_attention``: ``softmax(QKᵀ·scale + mask)V`` written out, in fp32 for half inputs (the
  references use it).
- ``visibility_mask``: the dense ``(·, ·, Lq, Lk)`` bool mask of a causal / windowed / padded pattern.
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spanmix.backbone.mixers.base import Mixer, check_heads, check_step_input
from spanmix.backbone.positional import RotaryEmbedding

__all__ = [
    "AttentionMixer",
    "KVCache",
    "check_int_option",
    "explicit_attention",
    "sdpa_attention",
    "visibility_mask",
]


def check_int_option(who: str, name: str, value: Any, minimum: int) -> int:
    """A clear ValueError unless ``value`` is an int (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{who}: {name} must be an integer >= {minimum}, got {value!r}")
    return value


def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


# ------------------------------------------------------------------------------------------------ masks
def visibility_mask(
    Lq: int,
    Lk: int,
    *,
    causal: bool,
    window: int | None = None,
    key_padding_mask: torch.Tensor | None = None,
    q_offset: int = 0,
    device: torch.device | None = None,
) -> torch.Tensor | None:
    """Dense bool mask, True where query ``q_offset + i`` may see key ``j``; None when all may.

    causal: ``j <= i``; window ``w``: causal ``i - w < j <= i``, non-causal ``|i - j| < w``;
    key_padding_mask ``(B, Lk)``: keys where it is False are hidden. Shape ``(1|B, 1, Lq, Lk)``.
    """
    mask = None
    if causal or window is not None:
        i = torch.arange(Lq, device=device)[:, None] + q_offset
        j = torch.arange(Lk, device=device)[None, :]
        diff = i - j
        if causal:
            mask = diff >= 0
            if window is not None:
                mask = mask & (diff < window)
        else:
            mask = diff.abs() < window
        mask = mask[None, None]
    if key_padding_mask is not None:
        keys = key_padding_mask[:, None, None, :]
        mask = keys if mask is None else mask & keys
    return mask


# ------------------------------------------------------------------------------------------------ cores
def explicit_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    scale: float | None = None,
) -> torch.Tensor:
    """``softmax(QKᵀ·scale, masked)V`` written out; fp32 for half-precision inputs. O(Lq·Lk) memory.

    q ``(B, H, Lq, d)``, k/v ``(B, H, Lk, d)``, mask bool broadcastable to ``(B, H, Lq, Lk)`` (True =
    visible). A query with no visible key gives zeros. Returns q's dtype.
    """
    work = _work_dtype(q.dtype)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = torch.matmul(q.to(work), k.to(work).transpose(-1, -2)) * scale
    has_key = None
    if mask is not None:
        has_key = mask.any(-1, keepdim=True)
        scores = scores.masked_fill(~(mask | ~has_key), float("-inf"))
    out = torch.matmul(torch.softmax(scores, dim=-1), v.to(work))
    if has_key is not None:
        out = out * has_key.to(work)
    return out.to(q.dtype)


def sdpa_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = False,
    key_padding_mask: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    scale: float | None = None,
) -> torch.Tensor:
    """Exact attention on ``F.scaled_dot_product_attention``.

    q ``(B, H, Lq, d)``, k/v ``(B, H, Lk, d)``. ``causal`` (needs ``Lq == Lk``): query ``i`` sees keys
    ``j <= i``. ``key_padding_mask`` ``(B, Lk)`` bool, True = real key. ``mask``: an extra bool
    visibility mask broadcastable to ``(B, H, Lq, Lk)``. A query that sees no key (e.g. a fully padded
    row) gives zeros, not NaN, and passes no gradient: it is let to see every key, then zeroed.
    """
    if causal and q.shape[-2] != k.shape[-2]:
        raise ValueError(f"causal attention needs Lq == Lk, got q {tuple(q.shape)} and k {tuple(k.shape)}")
    if key_padding_mask is None and mask is None:
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale)
    visible = visibility_mask(
        q.shape[-2], k.shape[-2], causal=causal, key_padding_mask=key_padding_mask, device=q.device
    )
    if mask is not None:
        visible = mask if visible is None else visible & mask
    has_key = visible.any(-1, keepdim=True)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=visible | ~has_key, scale=scale)
    return out * has_key.to(out.dtype)


# ----------------------------------------------------------------------------------------------- caches
class KVCache(dict):
    """Streaming state of the attention mixers: rotated keys/values seen so far and the position.

    Keys: ``"k"``, ``"v"`` ``(B, H, T, d)`` (``T`` = tokens kept: all of them for full attention, the
    last ``w`` for a window) and ``"offset"``, the position of the next token. A dict, so it can be
    inspected or shifted (``state["offset"] = 100`` makes the next token position 100: with RoPE only
    relative positions matter, so outputs do not change).
    """


def empty_cache(batch: int, heads: int, head_dim: int, device, dtype) -> KVCache:
    empty = torch.zeros(batch, heads, 0, head_dim, device=device, dtype=dtype)
    return KVCache(k=empty, v=empty.clone(), offset=0)


def append_to_cache(cache: KVCache, k: torch.Tensor, v: torch.Tensor, keep: int | None) -> KVCache:
    """A new cache with ``k``, ``v`` ``(B, H, 1, d)`` appended, trimmed to the last ``keep`` tokens."""
    K = torch.cat([cache["k"], k.to(cache["k"].dtype)], dim=2)
    V = torch.cat([cache["v"], v.to(cache["v"].dtype)], dim=2)
    if keep is not None and K.shape[2] > keep:
        K, V = K[:, :, -keep:], V[:, :, -keep:]
    return KVCache(k=K, v=V, offset=cache["offset"] + 1)


# ------------------------------------------------------------------------------------------------- base
class AttentionMixer(Mixer):
    """Base of the multi-head attention mixers: projections, RoPE, head split/merge, validation.

    Args:
        dim: width D; must be divisible by ``heads``.
        heads: number of heads H; head width ``d = D / H``.
        causal: query ``i`` sees keys ``j <= i`` only.
        dropout: dropout probability on the mixer output (training only).
        bias: biases in the q/k/v and output projections.
        rope: rotary position embedding on q and k (needs an even head width).
        rope_base: RoPE frequency base.
    """

    def __init__(self, dim: int, *, heads: int, causal: bool, dropout: float, bias: bool, rope: bool,
                 rope_base: float):
        super().__init__()
        who = self.mixer_name
        check_int_option(who, "dim", dim, 1)
        if isinstance(heads, bool) or not isinstance(heads, int):
            raise ValueError(f"{who}: heads must be an integer, got {heads!r}")
        self.head_dim = check_heads(dim, heads, who)
        if not (isinstance(dropout, (int, float)) and 0.0 <= dropout < 1.0):
            raise ValueError(f"{who}: dropout must be in [0, 1), got {dropout!r}")
        if rope and self.head_dim % 2:
            raise ValueError(f"{who}: rope needs an even head width, got dim / heads = {dim} / {heads} = "
                             f"{self.head_dim}")
        self.dim, self.heads, self.causal = dim, heads, bool(causal)
        self.qkv = nn.Linear(dim, 3 * dim, bias=bias)
        self.out = nn.Linear(dim, dim, bias=bias)
        self.drop = nn.Dropout(dropout)
        self.rotary = RotaryEmbedding(self.head_dim, rope_base) if rope else None

    @property
    def supports_step(self) -> bool:
        """Streaming exists for causal attention only (and only where the subclass defines ``step``)."""
        return self.causal and type(self).step is not Mixer.step

    def extra_repr(self) -> str:
        return f"dim={self.dim}, heads={self.heads}, causal={self.causal}, rope={self.rotary is not None}"

    # -- projections
    def project(self, x: torch.Tensor, offset: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x`` ``(B, L, D)`` -> q, k, v ``(B, H, L, d)``; RoPE (if on) at positions ``offset + l``."""
        B, L, _ = x.shape
        q, k, v = self.qkv(x).view(B, L, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        if self.rotary is not None:
            q, k = self.rotary(q, k, offset=offset)
        return q, k, v

    def merge(self, o: torch.Tensor, dropout: bool = True) -> torch.Tensor:
        """Heads ``(B, H, L, d)`` -> ``(B, L, D)`` through the output projection (and dropout)."""
        B, H, L, d = o.shape
        y = self.out(o.transpose(1, 2).reshape(B, L, H * d))
        return self.drop(y) if dropout else y

    # -- streaming helpers
    def _require_causal(self, what: str) -> None:
        if not self.causal:
            raise ValueError(f"{self.mixer_name}.{what}: the step form needs causal=True")

    def _cache_args(self, device, dtype):
        device = self.qkv.weight.device if device is None else device
        dtype = self.qkv.weight.dtype if dtype is None else dtype
        return device, dtype

    def _project_step(self, x_t: torch.Tensor, offset: int):
        check_step_input(x_t, self.dim, self.mixer_name)
        return self.project(x_t[:, None, :], offset=offset)  # each (B, H, 1, d)
