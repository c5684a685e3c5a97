"""Sliding-window (local) attention: a blocked fast path beside its dense-mask reference.

Shapes: ``q, k, v: (B, H, L, d) -> (B, H, L, d)``; ``key_padding_mask: (B, L)`` bool, True = real token.

Visibility (query position ``i``, key position ``j``, window ``w``):

- causal:     ``i - w < j <= i``   (the query itself and the ``w - 1`` keys before it);
- non-causal: ``|i - j| < w``      (``w - 1`` keys on each side and the query itself).

Keys where ``key_padding_mask`` is False are never attended to. A query that ends up with no visible key
returns zeros (not NaN) and passes no gradient.

Fast path (``local_attention``), after Longformer / BigBird's blocked sliding window
(Beltagy et al. 2020, arXiv:2004.05150, sec. 3.1; Zaheer et al. 2020, arXiv:2007.14062, fig. 4):
queries are cut into blocks of ``b`` positions; block ``n`` attends to the key *slab* that covers every
window touching it (``p = ceil((w - 1) / b)`` blocks before it, itself, and for non-causal ``p`` blocks
after it). For the interior blocks the slabs are an ``unfold`` view of the keys (no copy) and every block
uses the same ``(b, slab)`` band mask, so one 4-D ``F.scaled_dot_product_attention`` call runs them all;
the first ``p`` blocks, the ragged tail (and for non-causal the last ``p`` blocks), whose windows cross
the sequence ends, run as two small calls with dense ``O(w + b)``-sized masks. Key padding turns the band
into a per-block ``(n, b, slab)`` mask (one pass per batch element, shared by the heads).
Cost: time O(L·(w + b)·d); forward memory O(L·d) plus, with key padding, the per-block mask
O(L·(w + b)) — never an L×L mask. The backward (autograd through SDPA and the unfold views) is linear in
L too: it materialises the key/value gradient of every slab, O(L·d·(w + b)/b).

Reference (``local_attention_ref``): explicit softmax(QKᵀ·scale)V with the dense L×L mask, in fp32 for
half-precision inputs. O(L²) time and memory; for tests and debugging only.

CUDA (``local_attention_triton`` in ``kernels/triton_local_attention.py``): float16/bfloat16/float32 CUDA
tensors with head size <= 128 take FlashAttention-style Triton kernels that visit only the key blocks
inside each query block's window: O(L·w·d) time, O(L·d) memory, no mask tensor. Triton is imported only
when such a tensor arrives; ``SPANMIX_DISABLE_TRITON=1`` keeps CUDA tensors on the blocked SDPA path.

``SPANMIX_FORCE_REFERENCE=1`` or ``with reference_mode():`` routes ``local_attention`` to the reference.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from spanmix.kernels.dispatch import triton_kernel, use_reference, use_triton

__all__ = ["local_attention", "local_attention_ref"]

# Default query block b = clamp(w / 2, 16, 64). Smaller blocks waste less of each (b x slab) tile (the
# slab is w + b rounded up to whole blocks, where a query needs w keys), but the SDPA backward writes the
# key/value gradient of every slab, (w + b) / b times the size of k and v, so it grows as b shrinks.
# Measured on the 2-vCPU dev box (L=16k, H=8, d=64, causal, 1 thread, forward / backward / peak memory):
#   w=256: b=32 170 / 1031 ms / 837 MiB, b=64 162 / 798 / 584, b=128 219 / 820 / 459, b=256 283 / 984 / 396
#   w=64:  b=16 83 / 746 / 587, b=32 70 / 540 / 459, b=64 94 / 466 / 396;  w=16: b=16 59 ms fwd, b=64 96.
def _default_block(window: int) -> int:
    return min(64, max(16, window // 2))


def _check_inputs(q, k, v, window, key_padding_mask) -> None:
    if isinstance(window, bool) or not isinstance(window, int):
        raise ValueError(f"window must be an int >= 1, got {window!r}")
    if window < 1:
        raise ValueError(f"window must be >= 1, got window={window}")
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{name} must be a torch.Tensor of shape (B, H, L, d), got {type(t).__name__}")
        if t.dim() != 4:
            raise ValueError(f"{name} must have rank 4 (B, H, L, d), got shape {tuple(t.shape)}")
        if not t.is_floating_point():
            raise ValueError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
    if not (q.shape == k.shape == v.shape):
        raise ValueError(
            "q, k and v must have the same shape (B, H, L, d), got "
            f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
        )
    if not (q.dtype == k.dtype == v.dtype):
        raise ValueError(f"q, k and v must share a dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if q.shape[2] == 0:
        raise ValueError(f"sequence length L must be >= 1, got q of shape {tuple(q.shape)}")
    if key_padding_mask is not None:
        B, _, L, _ = q.shape
        if not isinstance(key_padding_mask, torch.Tensor) or key_padding_mask.dtype != torch.bool:
            raise ValueError("key_padding_mask must be a bool tensor of shape (B, L) (True = real token)")
        if tuple(key_padding_mask.shape) != (B, L):
            raise ValueError(
                f"key_padding_mask must have shape (B, L) = ({B}, {L}), got {tuple(key_padding_mask.shape)}"
            )


def _band(Lq: int, Lk: int, q_offset: int, window: int, causal: bool, device) -> torch.Tensor:
    """(Lq, Lk) bool, True where query ``q_offset + r`` may see key ``s`` (window rule only)."""
    i = torch.arange(Lq, device=device)[:, None] + q_offset
    j = torch.arange(Lk, device=device)[None, :]
    diff = i - j
    if causal:
        return (diff >= 0) & (diff < window)
    return diff.abs() < window


def local_attention_ref(q, k, v, window: int, causal: bool = True, key_padding_mask=None, scale=None):
    """Obviously-correct sliding-window attention: dense (L, L) mask + explicit softmax. O(L²).

    Args:
        q, k, v: (B, H, L, d) floating tensors of one dtype.
        window: w >= 1; causal sees ``i - w < j <= i``, non-causal ``|i - j| < w``.
        causal: see above.
        key_padding_mask: optional (B, L) bool, True = real token; False keys are never attended to.
        scale: score scale, default ``1 / sqrt(d)``.

    Returns:
        (B, H, L, d) in the dtype of ``q``; rows with no visible key are zeros.
    """
    _check_inputs(q, k, v, window, key_padding_mask)
    B, H, L, d = q.shape
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    work = torch.float32 if q.dtype in (torch.float16, torch.bfloat16) else q.dtype
    qf, kf, vf = q.to(work), k.to(work), v.to(work)
    mask = _band(L, L, 0, window, causal, q.device)[None, None]  # (1, 1, L, L)
    if key_padding_mask is not None:
        mask = mask & key_padding_mask[:, None, None, :]  # (B, 1, L, L)
    has_key = mask.any(-1, keepdim=True)  # (B|1, 1, L, 1)
    # A row with no visible key would be softmax over all -inf (NaN, also in the backward): let it see
    # everything, then zero its output, so it is 0 and passes no gradient.
    mask = mask | ~has_key
    scores = torch.matmul(qf, kf.transpose(-1, -2)) * scale  # (B, H, L, L)
    scores = scores.masked_fill(~mask, float("-inf"))
    attn = torch.softmax(scores, dim=-1)
    out = torch.matmul(attn, vf)  # (B, H, L, d)
    out = torch.where(has_key, out, torch.zeros((), dtype=work, device=out.device))
    return out.to(q.dtype)


def _empty_rows(mask, own):
    """Rows of ``mask (..., Q, K)`` with no True: switch on key ``own[r]`` (the query's own position,
    always in range) so softmax stays finite. Returns the (..., Q) bool of such rows, or None."""
    empty = ~mask.any(-1)
    if not bool(empty.any()):
        return None
    r = torch.arange(mask.shape[-2], device=mask.device)
    mask[..., r, own] |= empty
    return empty


def _edge_piece(q, k, v, q0, q1, w, causal, kpm, scale):
    """Queries [q0, q1) against every key they can see, with a dense (Q, K) mask; Q, K = O(w + block)."""
    L = q.shape[2]
    k0 = max(0, q0 - w + 1)
    k1 = q1 if causal else min(L, q1 + w - 1)
    mask = _band(q1 - q0, k1 - k0, q0 - k0, w, causal, q.device)[None, None]  # (1, 1, Q, K)
    empty = None
    if kpm is not None:
        mask = mask & kpm[:, None, None, k0:k1]  # (1, 1, Q, K): kpm is one batch row here
        empty = _empty_rows(mask, torch.arange(q0 - k0, q1 - k0, device=q.device))
    out = F.scaled_dot_product_attention(q[:, :, q0:q1], k[:, :, k0:k1], v[:, :, k0:k1],
                                         attn_mask=mask, scale=scale)  # (B, H, Q, d)
    if empty is not None:
        out = out.masked_fill(empty[..., None], 0.0)
    return out


def _local_attention_blocked(q, k, v, window, causal, key_padding_mask, scale, block_size):
    B = q.shape[0]
    if key_padding_mask is not None and B > 1:
        # The mask differs per batch element but not per head; one pass per element keeps it per-block
        # (n, b, slab) and broadcast over heads instead of materialised for every head.
        return torch.cat([
            _blocked_one_mask(q[i:i + 1], k[i:i + 1], v[i:i + 1], window, causal,
                              key_padding_mask[i:i + 1], scale, block_size)
            for i in range(B)
        ])
    return _blocked_one_mask(q, k, v, window, causal, key_padding_mask, scale, block_size)


def _blocked_one_mask(q, k, v, window, causal, kpm, scale, block_size):
    """Blocked local attention; ``kpm`` is None or a single (1, L) row (then B == 1).

    Pieces: a head of ``p`` blocks (their windows reach before position 0), the interior blocks (their
    key slab lies inside the sequence, so one SDPA call with one shared (b, slab) band mask covers them
    all, no padding copies), and a tail (the ragged last block; for non-causal also the last ``p`` full
    blocks, whose windows reach past L). Head and tail use a small dense mask.
    """
    B, H, L, d = q.shape
    w = min(window, L)  # a window longer than the sequence sees the whole sequence
    b = _default_block(w) if block_size is None else block_size
    b = max(1, min(b, L))
    p = -(-(w - 1) // b)  # key blocks needed on each visible side
    n_full = L // b
    n_lo, n_hi = p, (n_full if causal else n_full - p)  # interior blocks [n_lo, n_hi)
    if n_hi <= n_lo:  # short sequence (L < 2 w + 3 b): one dense piece, still O(L (w + b))
        return _edge_piece(q, k, v, 0, L, w, causal, kpm, scale)

    n_int = n_hi - n_lo
    slab = (p + 1) * b if causal else (2 * p + 1) * b
    key_end = (n_hi + (0 if causal else p)) * b  # slab n spans keys [(n - p) b, (n - p) b + slab)
    q4 = q[:, :, n_lo * b:n_hi * b].reshape(B * H, n_int, b, d)  # (BH, n_int, b, d), a view if contiguous
    # Overlapping views of the keys, no copy: window m = keys [m b, m b + slab) = slab of block p + m.
    k4 = k[:, :, :key_end].reshape(B * H, key_end, d).unfold(1, slab, b).transpose(-1, -2)
    v4 = v[:, :, :key_end].reshape(B * H, key_end, d).unfold(1, slab, b).transpose(-1, -2)
    # (BH, n_int, slab, d). Query r of a block is slab position p b + r: one band fits every block.
    mask = _band(b, slab, p * b, w, causal, q.device)[None, None]  # (1, 1, b, slab)
    empty = None
    if kpm is not None:
        mask = mask & kpm[:, :key_end].unfold(1, slab, b)[:, :, None, :]  # (1, n_int, b, slab)
        empty = _empty_rows(mask, torch.arange(p * b, p * b + b, device=q.device))
    mid = F.scaled_dot_product_attention(q4, k4, v4, attn_mask=mask, scale=scale)  # (BH, n_int, b, d)
    if empty is not None:
        mid = mid.masked_fill(empty.reshape(1, n_int, b, 1), 0.0)
    pieces = []
    if n_lo > 0:
        pieces.append(_edge_piece(q, k, v, 0, n_lo * b, w, causal, kpm, scale))
    pieces.append(mid.reshape(B, H, n_int * b, d))
    if n_hi * b < L:
        pieces.append(_edge_piece(q, k, v, n_hi * b, L, w, causal, kpm, scale))
    return pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=2)


_TRITON_DTYPES = (torch.float16, torch.bfloat16, torch.float32)


def local_attention(q, k, v, window: int, causal: bool = True, key_padding_mask=None, scale=None,
                    *, block_size: int | None = None):
    """Sliding-window attention in O(L·w) memory (blocked SDPA); see the module docstring.

    Args:
        q, k, v: (B, H, L, d) floating tensors of one dtype.
        window: w >= 1; causal sees ``i - w < j <= i``, non-causal ``|i - j| < w``.
        causal: see above.
        key_padding_mask: optional (B, L) bool, True = real token; False keys are never attended to. A
            query with no visible key gives zeros.
        scale: score scale, default ``1 / sqrt(d)``.
        block_size: query block length of the blocked SDPA path (default ``clamp(w // 2, 16, 64)``); a
            tuning knob that does not change the result. Ignored by the reference and the Triton path.

    Returns:
        (B, H, L, d), dtype of ``q``.

    Raises:
        ValueError: window < 1, q/k/v not rank 4 or of different shapes/dtypes, bad mask shape.
    """
    _check_inputs(q, k, v, window, key_padding_mask)
    if block_size is not None and (isinstance(block_size, bool) or not isinstance(block_size, int)
                                   or block_size < 1):
        raise ValueError(f"block_size must be an int >= 1 or None, got {block_size!r}")
    if use_reference():
        return local_attention_ref(q, k, v, window, causal, key_padding_mask, scale)
    if q.dtype in _TRITON_DTYPES and q.shape[-1] <= 128 and use_triton(q, k, v, key_padding_mask):
        kernel = triton_kernel("triton_local_attention", "local_attention_triton")
        if kernel is not None:
            return kernel(q, k, v, window, causal, key_padding_mask, scale)
    return _local_attention_blocked(q, k, v, window, causal, key_padding_mask, scale, block_size)
