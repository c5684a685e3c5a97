"""Sliding-window attention as Triton kernels (GPU; on CPU only under ``TRITON_INTERPRET=1``, for tests).

Same arguments and result as ``spanmix.kernels.local_attention_ref``: ``q, k, v: (B, H, L, d)``;
query ``i`` sees key ``j`` when ``i - w < j <= i`` (causal) or ``|i - j| < w`` (non-causal) and
``key_padding_mask[b, j]`` (True = real token); a query with no visible key returns zeros and passes no
gradient.

FlashAttention-2 tiling (Dao 2023, arXiv:2307.08691, Alg. 1 and 2) restricted to the band: a program
holds ``BLOCK_M`` queries and visits only the ``BLOCK_N``-key blocks that intersect their windows,
about ``(w + BLOCK_M) / BLOCK_N`` (causal) or ``(2 w + BLOCK_M) / BLOCK_N`` blocks, so time is
O(L·w·d) and memory O(L·d) — no mask tensor at all (window, bounds and padding are evaluated per tile).
Forward: online softmax in base 2 (scores times ``scale·log2 e``), storing the row log-sum-exp for
the backward. Backward: ``delta_i = rowsum(dO_i · O_i)``, then one kernel per key block for dK, dV
(it visits the query blocks whose windows reach it) and one per query block for dQ, so there are no
atomics and the result is deterministic. Matmuls take bf16/fp16 inputs as they are (fp32
accumulation); float32 inputs use full-precision fp32 dots unless ``torch.backends.cuda.matmul
.allow_tf32`` is on, then TF32, as torch's own matmuls do.

Tile sizes, warps and pipeline stages (``_CONFIGS``) are the largest that compile without register
spills for sm_90a (``python benchmarks/kernels.py --ptxas``, which needs no GPU); they are not tuned by
timing: no GPU was available when this was written. Head sizes up to 128.
"""
from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from spanmix.kernels._triton_compat import patch_interpreter

patch_interpreter()

__all__ = ["local_attention_triton"]

_LOG2E = 1.4426950408889634


@triton.jit
def _visible(offs_m, offs_n, L, W, KPM, kpm_row, CAUSAL: tl.constexpr, HAS_KPM: tl.constexpr):
    """(BLOCK_M, BLOCK_N) bool: query offs_m may see key offs_n (window, bounds, key padding)."""
    diff = offs_m[:, None] - offs_n[None, :]
    if CAUSAL:
        vis = (diff >= 0) & (diff < W)
    else:
        vis = (diff < W) & (diff > -W)
    vis = vis & (offs_m < L)[:, None] & (offs_n < L)[None, :]
    if HAS_KPM:
        real = tl.load(KPM + kpm_row + offs_n, mask=offs_n < L, other=0)
        vis = vis & (real != 0)[None, :]
    return vis


@triton.jit
def _key_range(m0, L, W, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, CAUSAL: tl.constexpr):
    """[lo, hi) of the keys seen by queries [m0, m0 + BLOCK_M), lo rounded down to a key block."""
    lo = tl.maximum(m0 - W + 1, 0)
    lo = (lo // BLOCK_N) * BLOCK_N
    q_end = tl.minimum(m0 + BLOCK_M, L)
    if CAUSAL:
        hi = q_end
    else:
        hi = tl.minimum(q_end + W - 1, L)
    return lo, hi


@triton.jit
def _attn_fwd_kernel(Q, K, V, OUT, LSE, KPM, L, H, W, HEAD_D, qk_scale,
                     CAUSAL: tl.constexpr, HAS_KPM: tl.constexpr, DOT_PREC: tl.constexpr,
                     BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    m0 = tl.program_id(0) * BLOCK_M
    bh = tl.program_id(1).to(tl.int64)
    base = bh * L * HEAD_D
    kpm_row = (bh // H) * L
    offs_m = m0 + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    mdh = offs_d < HEAD_D
    q = tl.load(Q + base + offs_m[:, None] * HEAD_D + offs_d[None, :],
                mask=(offs_m < L)[:, None] & mdh[None, :], other=0.0)
    m_i = tl.full((BLOCK_M,), float("-inf"), tl.float32)
    l_i = tl.zeros((BLOCK_M,), tl.float32)
    acc = tl.zeros((BLOCK_M, BLOCK_D), tl.float32)
    lo, hi = _key_range(m0, L, W, BLOCK_M, BLOCK_N, CAUSAL)
    for n0 in range(lo, hi, BLOCK_N):
        offs_n = n0 + tl.arange(0, BLOCK_N)
        kv_mask = (offs_n < L)[:, None] & mdh[None, :]
        k = tl.load(K + base + offs_n[:, None] * HEAD_D + offs_d[None, :], mask=kv_mask, other=0.0)
        v = tl.load(V + base + offs_n[:, None] * HEAD_D + offs_d[None, :], mask=kv_mask, other=0.0)
        s = tl.dot(q, tl.trans(k), input_precision=DOT_PREC) * qk_scale
        vis = _visible(offs_m, offs_n, L, W, KPM, kpm_row, CAUSAL, HAS_KPM)
        s = tl.where(vis, s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, axis=1))
        m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)  # a row with nothing visible yet
        p = tl.exp2(s - m_safe[:, None])
        alpha = tl.exp2(m_i - m_safe)
        l_i = l_i * alpha + tl.sum(p, axis=1)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=DOT_PREC)
        m_i = m_new
    seen = l_i > 0.0
    out = acc / tl.where(seen, l_i, 1.0)[:, None]  # rows with no visible key: acc = 0, so 0
    tl.store(OUT + base + offs_m[:, None] * HEAD_D + offs_d[None, :], out.to(OUT.dtype.element_ty),
             mask=(offs_m < L)[:, None] & mdh[None, :])
    # log2-sum-exp2 of the scaled scores; 0 for an empty row (its probabilities are all masked to 0)
    tl.store(LSE + bh * L + offs_m, tl.where(seen, m_i + tl.log2(tl.where(seen, l_i, 1.0)), 0.0),
             mask=offs_m < L)


@triton.jit
def _attn_bwd_dkdv_kernel(Q, K, V, DO, LSE, DELTA, DK, DV, KPM, L, H, W, HEAD_D, qk_scale, scale,
                          CAUSAL: tl.constexpr, HAS_KPM: tl.constexpr, DOT_PREC: tl.constexpr,
                          BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    n0 = tl.program_id(0) * BLOCK_N
    bh = tl.program_id(1).to(tl.int64)
    base = bh * L * HEAD_D
    kpm_row = (bh // H) * L
    offs_n = n0 + tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    mdh = offs_d < HEAD_D
    kv_mask = (offs_n < L)[:, None] & mdh[None, :]
    k = tl.load(K + base + offs_n[:, None] * HEAD_D + offs_d[None, :], mask=kv_mask, other=0.0)
    v = tl.load(V + base + offs_n[:, None] * HEAD_D + offs_d[None, :], mask=kv_mask, other=0.0)
    dk = tl.zeros((BLOCK_N, BLOCK_D), tl.float32)
    dv = tl.zeros((BLOCK_N, BLOCK_D), tl.float32)
    # queries that can see keys [n0, n0 + BLOCK_N): i in [j, j + w) causal, (j - w, j + w) non-causal
    k_end = tl.minimum(n0 + BLOCK_N, L)
    if CAUSAL:
        lo = n0
    else:
        lo = tl.maximum(n0 - W + 1, 0)
    lo = (lo // BLOCK_M) * BLOCK_M
    hi = tl.minimum(k_end + W - 1, L)
    for m0 in range(lo, hi, BLOCK_M):
        offs_m = m0 + tl.arange(0, BLOCK_M)
        q_mask = (offs_m < L)[:, None] & mdh[None, :]
        q = tl.load(Q + base + offs_m[:, None] * HEAD_D + offs_d[None, :], mask=q_mask, other=0.0)
        do = tl.load(DO + base + offs_m[:, None] * HEAD_D + offs_d[None, :], mask=q_mask, other=0.0)
        lse = tl.load(LSE + bh * L + offs_m, mask=offs_m < L, other=0.0)
        delta = tl.load(DELTA + bh * L + offs_m, mask=offs_m < L, other=0.0)
        s = tl.dot(q, tl.trans(k), input_precision=DOT_PREC) * qk_scale  # (BLOCK_M, BLOCK_N)
        vis = _visible(offs_m, offs_n, L, W, KPM, kpm_row, CAUSAL, HAS_KPM)
        p = tl.where(vis, tl.exp2(s - lse[:, None]), 0.0)
        dv += tl.dot(tl.trans(p.to(do.dtype)), do, input_precision=DOT_PREC)
        dp = tl.dot(do, tl.trans(v), input_precision=DOT_PREC)
        ds = p * (dp - delta[:, None])
        dk += tl.dot(tl.trans(ds.to(q.dtype)), q, input_precision=DOT_PREC)
    tl.store(DK + base + offs_n[:, None] * HEAD_D + offs_d[None, :], (dk * scale).to(DK.dtype.element_ty),
             mask=kv_mask)
    tl.store(DV + base + offs_n[:, None] * HEAD_D + offs_d[None, :], dv.to(DV.dtype.element_ty), mask=kv_mask)


@triton.jit
def _attn_bwd_dq_kernel(Q, K, V, DO, LSE, DELTA, DQ, KPM, L, H, W, HEAD_D, qk_scale, scale,
                        CAUSAL: tl.constexpr, HAS_KPM: tl.constexpr, DOT_PREC: tl.constexpr,
                        BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    m0 = tl.program_id(0) * BLOCK_M
    bh = tl.program_id(1).to(tl.int64)
    base = bh * L * HEAD_D
    kpm_row = (bh // H) * L
    offs_m = m0 + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    mdh = offs_d < HEAD_D
    q_mask = (offs_m < L)[:, None] & mdh[None, :]
    q = tl.load(Q + base + offs_m[:, None] * HEAD_D + offs_d[None, :], mask=q_mask, other=0.0)
    do = tl.load(DO + base + offs_m[:, None] * HEAD_D + offs_d[None, :], mask=q_mask, other=0.0)
    lse = tl.load(LSE + bh * L + offs_m, mask=offs_m < L, other=0.0)
    delta = tl.load(DELTA + bh * L + offs_m, mask=offs_m < L, other=0.0)
    dq = tl.zeros((BLOCK_M, BLOCK_D), tl.float32)
    lo, hi = _key_range(m0, L, W, BLOCK_M, BLOCK_N, CAUSAL)
    for n0 in range(lo, hi, BLOCK_N):
        offs_n = n0 + tl.arange(0, BLOCK_N)
        kv_mask = (offs_n < L)[:, None] & mdh[None, :]
        k = tl.load(K + base + offs_n[:, None] * HEAD_D + offs_d[None, :], mask=kv_mask, other=0.0)
        v = tl.load(V + base + offs_n[:, None] * HEAD_D + offs_d[None, :], mask=kv_mask, other=0.0)
        s = tl.dot(q, tl.trans(k), input_precision=DOT_PREC) * qk_scale
        vis = _visible(offs_m, offs_n, L, W, KPM, kpm_row, CAUSAL, HAS_KPM)
        p = tl.where(vis, tl.exp2(s - lse[:, None]), 0.0)
        dp = tl.dot(do, tl.trans(v), input_precision=DOT_PREC)
        ds = p * (dp - delta[:, None])
        dq += tl.dot(ds.to(k.dtype), k, input_precision=DOT_PREC)
    tl.store(DQ + base + offs_m[:, None] * HEAD_D + offs_d[None, :], (dq * scale).to(DQ.dtype.element_ty),
             mask=q_mask)


# (BLOCK_M, BLOCK_N, num_warps, num_stages) per kernel, chosen from `python benchmarks/kernels.py --ptxas`
# (sm_90a, d = 64 / 128): the largest tiles that compile without register spills. Untimed: no GPU yet.
_CONFIGS = {
    ("half", 64): dict(fwd=(128, 64, 8, 3), dkdv=(64, 64, 8, 3), dq=(64, 64, 8, 3)),
    ("half", 128): dict(fwd=(64, 32, 8, 2), dkdv=(64, 32, 8, 2), dq=(64, 32, 8, 2)),
    ("tf32", 128): dict(fwd=(64, 32, 4, 2), dkdv=(64, 32, 4, 2), dq=(64, 32, 4, 2)),  # d = 64 measured
    ("ieee", 64): dict(fwd=(32, 32, 8, 2), dkdv=(16, 32, 8, 2), dq=(32, 32, 8, 2)),  # fp32 FMA dots
    ("ieee", 128): dict(fwd=(16, 32, 8, 2), dkdv=(16, 32, 8, 2), dq=(16, 32, 8, 2)),  # not measured
}


def _dot_precision(dtype: torch.dtype):
    if dtype != torch.float32:
        return None  # bf16/fp16: tensor-core dots with fp32 accumulation
    return "tf32" if torch.backends.cuda.matmul.allow_tf32 else "ieee"


def _configs(head_d: int, prec, blocks) -> dict:
    if blocks is not None:  # tests / tuning: one tile shape for all three kernels
        return {k: (*blocks, 4, 2) for k in ("fwd", "dkdv", "dq")}
    kind = "half" if prec is None else prec
    size = 64 if head_d <= 64 and (kind, 64) in _CONFIGS else 128
    return _CONFIGS[kind, size]


class _TritonLocalAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, window, causal, kpm, scale, blocks):
        q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
        B, H, L, d = q.shape
        bd = max(16, triton.next_power_of_2(d))
        prec = _dot_precision(q.dtype)
        cfg = _configs(d, prec, blocks)
        kpm8 = kpm.contiguous().view(torch.uint8) if kpm is not None else q  # q: never read
        o = torch.empty_like(q)
        lse = torch.empty(B * H, L, device=q.device, dtype=torch.float32)
        w = min(window, L)  # a window past the sequence ends sees everything; keeps the int32 math small
        bm, bn, warps, stages = cfg["fwd"]
        _attn_fwd_kernel[(triton.cdiv(L, bm), B * H)](
            q, k, v, o, lse, kpm8, L, H, w, d, scale * _LOG2E,
            CAUSAL=causal, HAS_KPM=kpm is not None, DOT_PREC=prec, BLOCK_M=bm, BLOCK_N=bn, BLOCK_D=bd,
            num_warps=warps, num_stages=stages)
        ctx.save_for_backward(q, k, v, o, lse, kpm8 if kpm is not None else None)
        ctx.cfg = (w, causal, kpm is not None, scale, bd, prec, cfg)
        return o

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, do):
        q, k, v, o, lse, kpm8 = ctx.saved_tensors
        w, causal, has_kpm, scale, bd, prec, cfg = ctx.cfg
        B, H, L, d = q.shape
        do = do.contiguous()
        delta = (do.float() * o.float()).sum(-1).reshape(B * H, L)
        kpm8 = kpm8 if has_kpm else q
        dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
        flags = dict(CAUSAL=causal, HAS_KPM=has_kpm, DOT_PREC=prec, BLOCK_D=bd)
        bm, bn, warps, stages = cfg["dkdv"]
        _attn_bwd_dkdv_kernel[(triton.cdiv(L, bn), B * H)](
            q, k, v, do, lse, delta, dk, dv, kpm8, L, H, w, d, scale * _LOG2E, scale,
            BLOCK_M=bm, BLOCK_N=bn, num_warps=warps, num_stages=stages, **flags)
        bm, bn, warps, stages = cfg["dq"]
        _attn_bwd_dq_kernel[(triton.cdiv(L, bm), B * H)](
            q, k, v, do, lse, delta, dq, kpm8, L, H, w, d, scale * _LOG2E, scale,
            BLOCK_M=bm, BLOCK_N=bn, num_warps=warps, num_stages=stages, **flags)
        return dq, dk, dv, None, None, None, None, None


def local_attention_triton(q, k, v, window: int, causal: bool = True, key_padding_mask=None, scale=None,
                           *, blocks: tuple[int, int] | None = None):
    """The Triton kernels; same arguments and result as ``local_attention_ref``.

    Needs float16/bfloat16/float32 tensors with head size <= 128 on a CUDA device, or
    ``TRITON_INTERPRET=1`` set before triton was first imported (then CPU tensors run in Triton's
    interpreter, slowly: tests only).

    Args (beyond the reference's):
        blocks: (BLOCK_M, BLOCK_N) query/key tile sizes, powers of two >= 16; default from the head size.
    """
    from spanmix.kernels.local_attention import _check_inputs

    _check_inputs(q, k, v, window, key_padding_mask)
    if q.dtype not in (torch.float16, torch.bfloat16, torch.float32):
        raise ValueError(f"local_attention_triton: expected float16, bfloat16 or float32, got {q.dtype}")
    if q.shape[-1] > 128:
        raise ValueError(f"local_attention_triton: head size must be <= 128, got {q.shape[-1]}")
    if blocks is not None and any(b < 16 or b & (b - 1) for b in blocks):
        raise ValueError(f"local_attention_triton: blocks must be powers of two >= 16, got {blocks}")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    return _TritonLocalAttention.apply(q, k, v, window, bool(causal), key_padding_mask, scale, blocks)
