"""Mamba-1 selective scan (the "S6" recurrence): a reference loop, a chunked PyTorch form, a fused CPU kernel.

Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", Sec. 3.2 /
Algorithm 2; the argument names and semantics follow the authors' ``selective_scan_ref``
(``mamba_ssm/ops/selective_scan_interface.py``) with real ``A`` and input-dependent ("variable") B, C.

Shapes: ``u``, ``delta``, ``z``: (B, D, L); ``A``: (D, N); ``B``, ``C``: (B, N, L); ``D``, ``delta_bias``: (D,)::

    dt_l = softplus(delta_l + delta_bias)   (or delta_l + delta_bias without delta_softplus)
    h_l  = exp(dt_l A) * h_{l-1} + dt_l B_l u_l          h: (B, D, N), h_{-1} = 0
    y_l  = sum_n h_l[..., n] C_l[n] + D u_l ;  y <- y * silu(z)   if z is given

Every path computes in float32 (float64 for float64 ``u``: reference and chunked only) and returns
``y`` in ``u``'s dtype; with ``return_last_state=True`` also ``h_{L-1}`` (B, D, N) in the compute dtype.

Paths (``selective_scan`` picks one):

- ``selective_scan_ref``: a Python loop over L. O(B·D·L·N) memory (the exp(dt A) table), L steps.
- ``selective_scan_chunked``: chunks of ``chunk_size`` (32) steps; a T-step recurrence inside every
  chunk runs for all chunks at once, then an (L/T)-step recurrence carries the state across chunks.
  L/T + T sequential steps, O(B·D·L·N) memory, any device, autograd gives the gradients.
- ``selective_scan_fused``: CPU, float32, numba. One pass over L per (batch, channel) with bias,
  softplus, D skip and gate fused in; no (B, D, L, N) tensor. The backward is a hand-derived
  reverse-time adjoint scan that recomputes the states inside chunks of 64 steps from the states
  stored at chunk starts (B·D·(L/64)·N floats), vectorised over blocks of 64 channels (the forward
  over the state); forward+backward costs about 4x the forward (benchmarks/scan_cpu.py). Parallel
  over (batch, channel) with numba's ``prange`` on its built-in workqueue layer (unless
  ``NUMBA_THREADING_LAYER`` says otherwise);
  numba's thread count follows ``torch.get_num_threads()``. The kernels compile on first use
  (~10-20 s) and are cached on disk (``cache=True``: next to this file, or numba's user cache dir).
  ``SPANMIX_DISABLE_NUMBA=1`` turns this path off.

- ``selective_scan_triton`` (``kernels/triton_selective_scan.py``): CUDA, Triton kernels with the same
  chunk-start-state backward; imported only when a CUDA tensor arrives.

``selective_scan``: ``use_reference()`` (``SPANMIX_FORCE_REFERENCE=1``) -> reference; CUDA tensors with
Triton installed (not float64, not ``SPANMIX_DISABLE_TRITON=1``) -> Triton; CPU and numba (not float64,
and not in a child forked after numba's OpenMP pool started, which would abort) -> fused; otherwise ->
chunked.
"""
from __future__ import annotations

import os
import threading
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from spanmix.kernels.dispatch import triton_kernel, use_reference, use_triton

__all__ = [
    "numba_available", "selective_scan", "selective_scan_chunked", "selective_scan_fused", "selective_scan_ref",
]

Tensor = torch.Tensor

# ----------------------------------------------------------------------------------------------- checks


def _shape(x) -> str:
    return str(tuple(x.shape)) if isinstance(x, torch.Tensor) else type(x).__name__


def _check_inputs(who: str, u, delta, A, B, C, D, z, delta_bias) -> None:
    """One clear ValueError naming the argument, its expected shape and what it got."""
    if not isinstance(u, torch.Tensor) or u.dim() != 3:
        raise ValueError(f"{who}: expected u of shape (batch, d_inner, length), got {_shape(u)}")
    if not u.is_floating_point():
        raise ValueError(f"{who}: expected a floating-point u, got {u.dtype}")
    bsz, dim, length = u.shape
    if length < 1:
        raise ValueError(f"{who}: expected a sequence of length >= 1, got u of shape {tuple(u.shape)}")
    if not isinstance(A, torch.Tensor) or A.dim() != 2 or A.shape[0] != dim:
        raise ValueError(f"{who}: expected A of shape (d_inner, d_state) = ({dim}, N), got {_shape(A)}")
    if A.is_complex() or not A.is_floating_point():
        raise ValueError(f"{who}: expected a real floating-point A, got {A.dtype}")
    n = A.shape[1]
    expected = {
        "delta": ((bsz, dim, length), "(batch, d_inner, length)", delta),
        "B": ((bsz, n, length), "(batch, d_state, length)", B),
        "C": ((bsz, n, length), "(batch, d_state, length)", C),
        "D": ((dim,), "(d_inner,)", D),
        "z": ((bsz, dim, length), "(batch, d_inner, length)", z),
        "delta_bias": ((dim,), "(d_inner,)", delta_bias),
    }
    for name, (shape, form, x) in expected.items():
        if x is None and name in ("D", "z", "delta_bias"):
            continue
        if not isinstance(x, torch.Tensor) or tuple(x.shape) != shape:
            raise ValueError(f"{who}: expected {name} of shape {form} = {shape}, got {_shape(x)}")
        if not x.is_floating_point():
            raise ValueError(f"{who}: expected a real floating-point {name}, got {x.dtype}")


def _compute_dtype(u: Tensor) -> torch.dtype:
    return torch.float64 if u.dtype == torch.float64 else torch.float32


def _delta_to_dt(delta: Tensor, delta_bias: Tensor | None, delta_softplus: bool, cd: torch.dtype) -> Tensor:
    dt = delta.to(cd)
    if delta_bias is not None:
        dt = dt + delta_bias.to(cd).unsqueeze(-1)
    return F.softplus(dt) if delta_softplus else dt


# -------------------------------------------------------------------------------------------- reference


def selective_scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                       return_last_state=False):
    """The recurrence as a loop over L (obviously correct and slow; autograd gives its gradients).

    Args:
        u, delta: (B, D, L). A: (D, N) real. B, C: (B, N, L). D, delta_bias: (D,) or None. z: (B, D, L) or None.
        delta_softplus: apply softplus to ``delta + delta_bias``.
        return_last_state: also return the state after the last step, (B, D, N).

    Returns:
        y (B, D, L) in ``u``'s dtype, or ``(y, h_last)``.
    """
    _check_inputs("selective_scan_ref", u, delta, A, B, C, D, z, delta_bias)
    cd = _compute_dtype(u)
    uc = u.to(cd)
    dt = _delta_to_dt(delta, delta_bias, delta_softplus, cd)
    Bc, Cc = B.to(cd), C.to(cd)
    decay = torch.exp(dt.unsqueeze(-1) * A.to(cd).unsqueeze(1))  # (B, D, L, N)
    drive = (dt * uc).unsqueeze(-1) * Bc.transpose(1, 2).unsqueeze(1)  # (B, D, L, N)
    h = uc.new_zeros(u.shape[0], u.shape[1], A.shape[1])  # (B, D, N)
    ys = []
    # unbind, not decay[:, :, t]: the backward of each index would allocate a full (B, D, L, N) zero tensor
    for a_t, b_t, c_t in zip(decay.unbind(2), drive.unbind(2), Cc.unbind(2)):
        h = a_t * h + b_t
        ys.append((h * c_t.unsqueeze(1)).sum(-1))  # (B, D)
    y = torch.stack(ys, dim=2)
    if D is not None:
        y = y + D.to(cd).unsqueeze(-1) * uc
    if z is not None:
        y = y * F.silu(z.to(cd))
    y = y.to(u.dtype)
    return (y, h) if return_last_state else y


# ---------------------------------------------------------------------------------------------- chunked


def selective_scan_chunked(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                           return_last_state=False, chunk_size: int = 32):
    """Chunked, parallel form in plain PyTorch (any device; autograd gives its gradients).

    Inside chunks of T = ``chunk_size`` steps the states are split as ``h_t = h_loc_t + P_t * h_start``:
    ``P_t = exp(cumsum(dt A))`` is the decay since the chunk start (a log-space cumulative sum whose
    exponent only falls for A <= 0, so it cannot overflow), and ``h_loc`` (the state from a zero start)
    is a T-step recurrence run for every chunk at once. The chunk-start states then follow from an
    (L/T)-step recurrence on (B, D, N). The popular ``exp(S_t) * cumsum(exp(-S_s) b_s)`` form is not
    used: ``exp(-S_s)`` overflows (float32 from about 64 steps of Mamba-init decay, float64 for
    stronger decays), while this split is exact in any dtype. L need not be a multiple of T.
    Memory and time O(B·D·L·N); L/T + T sequential steps. Same arguments as ``selective_scan_ref``.
    """
    _check_inputs("selective_scan_chunked", u, delta, A, B, C, D, z, delta_bias)
    if chunk_size < 1:
        raise ValueError(f"selective_scan_chunked: chunk_size must be >= 1, got {chunk_size}")
    cd = _compute_dtype(u)
    bsz, dim, length = u.shape
    n = A.shape[1]
    uc = u.to(cd)
    dt = _delta_to_dt(delta, delta_bias, delta_softplus, cd)
    Bc, Cc = B.to(cd), C.to(cd)
    T = min(chunk_size, length)
    nc = -(-length // T)
    pad = nc * T - length
    if pad:  # dt = 0 on the padding: decay 1 and input 0, so the state passes through unchanged
        dt, uc_p = F.pad(dt, (0, pad)), F.pad(uc, (0, pad))
        Bc, Cc = F.pad(Bc, (0, pad)), F.pad(Cc, (0, pad))
    else:
        uc_p = uc
    # Step-major layout (T, B, D, nc, N): each step of the in-chunk loop is one contiguous slice.
    dt_t = dt.view(bsz, dim, nc, T).permute(3, 0, 1, 2)  # (T, B, D, nc)
    du_t = (dt * uc_p).view(bsz, dim, nc, T).permute(3, 0, 1, 2)
    B_t = Bc.view(bsz, n, nc, T).permute(3, 0, 2, 1).unsqueeze(2)  # (T, B, 1, nc, N)
    C_t = Cc.view(bsz, n, nc, T).permute(3, 0, 2, 1).unsqueeze(2)
    log_a = dt_t.unsqueeze(-1) * A.to(cd).view(1, 1, dim, 1, n)  # (T, B, D, nc, N)
    drive = du_t.unsqueeze(-1) * B_t
    decay = torch.exp(log_a)
    since_start = torch.exp(torch.cumsum(log_a, dim=0))  # P_t

    # (unbind rather than indexing in the loops: the backward of x[t] allocates a zero tensor of x's
    # full size per step)
    h = uc.new_zeros(bsz, dim, nc, n)
    local = []
    for a_t, b_t in zip(decay.unbind(0), drive.unbind(0)):  # all chunks at once, from a zero state
        h = a_t * h + b_t
        local.append(h)
    h_loc = torch.stack(local, dim=0)  # (T, B, D, nc, N)

    state = uc.new_zeros(bsz, dim, n)
    starts = []
    chunk_decay = since_start[-1].permute(2, 0, 1, 3).contiguous()  # (nc, B, D, N)
    chunk_end = h.permute(2, 0, 1, 3).contiguous()
    for p_c, h_c in zip(chunk_decay.unbind(0), chunk_end.unbind(0)):  # carry the state across chunks
        starts.append(state)
        state = p_c * state + h_c
    h_start = torch.stack(starts, dim=2)  # (B, D, nc, N)

    h_all = h_loc + since_start * h_start  # (T, B, D, nc, N)
    y = (h_all * C_t).sum(-1).permute(1, 2, 3, 0).reshape(bsz, dim, nc * T)
    y = y[:, :, :length]
    if D is not None:
        y = y + D.to(cd).unsqueeze(-1) * uc
    if z is not None:
        y = y * F.silu(z.to(cd))
    y = y.to(u.dtype)
    return (y, state) if return_last_state else y


# ------------------------------------------------------------------------------------- fused (numba, CPU)
#
# The kernels are plain Python functions here; ``_kernels()`` imports numba and compiles them with
# ``numba.njit(parallel=True, cache=True)`` on the first call (so importing this module never imports
# numba). Before compiling it binds the module globals the kernels use (``prange``, ``_exp32``, ...).
#
# Layout: u, delta, z, y and their gradients (B, D, L); A (D, NP); Bt, Ct (B, L, NP): B and C
# transposed so that one time step's N values are contiguous, and the state width padded to NP, a
# multiple of _W = 16 (A = B = C = 0 there, so padded state entries stay 0). The inner loops then have
# a constant trip count of 16 and LLVM turns each into single AVX-512 (or 2 x AVX2) operations.
# Everything elementwise (bias, softplus, the D skip, the silu(z) gate and their derivatives) is done
# inside the kernels: no (B, D, L) temporaries, and no torch thread pool woken between numba's.
# Optional inputs are passed as zeros (bias, D) or as a 1-element dummy with a flag (z), so each
# kernel compiles to exactly one signature.

_W = 16  # state entries per inner loop (one 512-bit float32 vector)
_LANES = 64  # channels per lane block of the backward kernel (a multiple of _W)
_CHUNK = 64  # steps between stored states (the backward recomputes the states inside a chunk)
_FASTMATH = {"contract", "reassoc", "nsz"}  # FMA, reordered sums; no finite-math assumptions

prange = range  # these four are replaced by numba objects in _kernels()
_exp32 = _log1p32 = _sigmoid32 = _softplus32 = None

_F32 = np.float32
_LO, _HI = _F32(-87.0), _F32(88.0)
_LOG2E, _HALF, _ONE, _TWO, _ZERO = _F32(1.4426950408889634), _F32(0.5), _F32(1.0), _F32(2.0), _F32(0.0)
_LN2_HI, _LN2_LO = _F32(0.693359375), _F32(-2.12194440e-4)  # Cody-Waite split of ln 2
_E0, _E1, _E2 = _F32(1.9875691500e-4), _F32(1.3981999507e-3), _F32(8.3334519073e-3)
_E3, _E4, _E5 = _F32(4.1665795894e-2), _F32(1.6666665459e-1), _F32(5.0000001201e-1)
_T3, _T5, _T7, _T9 = _F32(1 / 3), _F32(1 / 5), _F32(1 / 7), _F32(1 / 9)
_T11, _T13, _T15 = _F32(1 / 11), _F32(1 / 13), _F32(1 / 15)
_SOFTPLUS_THRESHOLD = _F32(20.0)  # torch's: softplus(x) = x above it


def _exp32_impl(x):
    """exp for float32 that LLVM can vectorise (libm's expf is a scalar call): Cephes' expf polynomial
    on x - k ln2 and 2^k built from its bits. Max relative error ~3e-7 on [-87, 88]; the argument is
    clamped to that range (exp(-87) ~ 1.6e-38 stands for smaller values; 88 caps overflow)."""
    x = min(max(x, _LO), _HI)
    k = np.floor(x * _LOG2E + _HALF)
    r = x - k * _LN2_HI - k * _LN2_LO
    r2 = r * r
    p = (((((_E0 * r + _E1) * r + _E2) * r + _E3) * r + _E4) * r + _E5) * r2 + r + _ONE
    return p * np.int32((np.int32(k) + 127) << 23).view(np.float32)


def _log1p32_impl(t):
    """log(1 + t) for t in [0, 1]: 2 atanh(s), s = t / (2 + t) <= 1/3, as an odd series to s^15
    (truncation < 1e-9)."""
    s = t / (_TWO + t)
    s2 = s * s
    p = _T13 + s2 * _T15
    p = _T11 + s2 * p
    p = _T9 + s2 * p
    p = _T7 + s2 * p
    p = _T5 + s2 * p
    p = _T3 + s2 * p
    return _TWO * s * (_ONE + s2 * p)


def _softplus32_impl(x):
    """torch's softplus (beta 1, threshold 20): log(1 + e^x) = max(x, 0) + log1p(e^-|x|)."""
    if x > _SOFTPLUS_THRESHOLD:
        return x
    return max(x, _ZERO) + _log1p32(_exp32(-abs(x)))


def _sigmoid32_impl(x):
    return _ONE / (_ONE + _exp32(-x))


def _scan_fwd_kernel(u, delta, bias, softplus, A, Bt, Ct, Dv, z, has_z, chunk, y, h_chunks, h_last):
    """y = (scan + D u) * silu(z); h_chunks[b, d, c] = state before step c*chunk (not written when
    h_chunks has no chunk axis); h_last = the final state. One work item per (batch, channel)."""
    nb, nd, L = u.shape
    NP = A.shape[1]
    nblk = NP // _W
    save = h_chunks.shape[2] > 0
    for task in prange(nb * nd):
        b = task // nd
        d = task - b * nd
        dt = np.empty(L, np.float32)
        bd = bias[d]
        if softplus:
            for l in range(L):
                dt[l] = _softplus32(delta[b, d, l] + bd)
        else:
            for l in range(L):
                dt[l] = delta[b, d, l] + bd
        h = np.zeros(NP, np.float32)
        skip = Dv[d]
        for l in range(L):
            if save and l % chunk == 0:
                c = l // chunk
                for n in range(NP):
                    h_chunks[b, d, c, n] = h[n]
            dtl = dt[l]
            ul = u[b, d, l]
            dtu = dtl * ul
            acc = np.float32(0.0)
            for k in range(nblk):
                o = k * _W
                for j in range(_W):
                    n = o + j
                    hn = _exp32(dtl * A[d, n]) * h[n] + dtu * Bt[b, l, n]
                    h[n] = hn
                    acc += hn * Ct[b, l, n]
            y[b, d, l] = acc + skip * ul
        if has_z:
            for l in range(L):
                zl = z[b, d, l]
                y[b, d, l] *= zl * _sigmoid32(zl)
        for n in range(NP):
            h_last[b, d, n] = h[n]


def _scan_bwd_kernel(u, delta, bias, softplus, At, Bt, Ct, Dv, z, has_z, gout, gh_last, h_chunks, chunk,
                     nsplit, gu, gdelta, gz, gA, gBp, gCp, gD, gbias,
                     carry, gA_acc, gD_acc, gb_acc, hb, ab, gBv, gCv, vecs, lane, xs):
    """Reverse-time adjoint of _scan_fwd_kernel, vectorised over channels.

    With a_l = exp(dt_l A) and gy_l = dL/dy_l before the gate, the adjoint g_l = dL/dh_l obeys
    g_l = gy_l C_l + a_{l+1} g_{l+1} (g_{L-1} also gets gh_last). Then dL/dC_l += gy_l h_l,
    dL/dB_l += g_l dt_l u_l, dL/du_l = gy_l D + dt_l sum(g_l B_l),
    dL/ddt_l = u_l sum(g_l B_l) + sum(g_l h_{l-1} a_l A), dL/dA += g_l h_{l-1} a_l dt_l,
    dL/ddelta_l = dL/ddt_l softplus'(delta_l + bias) (= sigmoid), dL/dbias = sum of those,
    dL/dD = sum gy_l u_l, dL/dz_l = gout_l y_l silu'(z_l).

    The vector lanes are W channels (a block of ``lanes`` = _LANES, not the state entries as in the
    forward): the sums over the state (sum(g B), sum(g h a A), y) are then lane-wise adds, and only the
    sums over channels for dL/dB and dL/dC need horizontal adds, once per chunk and task instead of once
    per step and channel. A block walks each chunk twice: forwards from the stored chunk-start state
    (recomputing h and a into the per-task buffers hb, ab), then backwards for the adjoint. ``At`` is A
    transposed, (N, channels padded to a multiple of W, zeros there); lanes past the last channel run on
    zeros. Everything per (step, lane) sits in ``xs`` (see below), per (state, lane) in ``vecs``, per lane
    in ``lane``; float32 inside a chunk, float64 across chunks for the sums over L (gA, gD, gbias).

    Work item ``task`` = (b, s): batch b, channel blocks [s*per, (s+1)*per). It owns gA, gD, gbias at
    [b, its channels], the partial sums gBp[task], gCp[task] (the caller sums them over s) and row
    ``task`` of every scratch array (arguments, not allocations inside the loop, so that LLVM knows they
    alias nothing). Chunks run from last to first, the task's blocks inside a chunk, so that the chunk's
    partial sums stay in cache.
    """
    nb, nd, L = u.shape
    N = At.shape[0]
    nchunk = h_chunks.shape[2]
    # The lane count is read at run time: with a compile-time trip count LLVM unrolls the lane loops fully
    # and then vectorises the state loop around them instead (gathers, ~2x slower).
    W = xs.shape[3]
    nblk_all = (nd + W - 1) // W
    per = (nblk_all + nsplit - 1) // nsplit
    # xs[task, q, t, j] for the chunk's step t and lane j: q = 0 dt, 1 softplus', 2 u, 3 dt u, 4 gy,
    # 5 gout, 6 silu'(z), 7 sum_n g B (then dL/du), 8 sum_n g h a A (then dL/ddelta), 9 y - D u (then dL/dz).
    # vecs[task, 0 / 1, n, j]: dL/dA summed over the chunk / A. lane[task, :, j]: D, dL/dD, dL/dbias.
    for task in prange(nb * nsplit):
        b = task // nsplit
        s = task - b * nsplit
        k0 = min(s * per, nblk_all)
        nblk = min(nblk_all, k0 + per) - k0
        for k in range(nblk):
            for j in range(W):
                d = (k0 + k) * W + j
                for n in range(N):
                    carry[task, k, n, j] = gh_last[b, d, n] if d < nd else _ZERO
                    gA_acc[task, k, n, j] = 0.0
                gD_acc[task, k, j] = 0.0
                gb_acc[task, k, j] = 0.0
        for c in range(nchunk - 1, -1, -1):
            l0 = c * chunk
            T = min(chunk, L - l0)
            for k in range(nblk):
                d0 = (k0 + k) * W
                for j in range(W):  # gather the chunk with channels as lanes (zeros past the last channel)
                    d = d0 + j
                    if d < nd:
                        bd = bias[d]
                        # (row slices: indexing rows at l0 + t, which numba cannot prove >= 0, gets
                        # negative-index fix-ups that turn contiguous accesses into gathers/scatters)
                        d_row, u_row = delta[b, d, l0:l0 + T], u[b, d, l0:l0 + T]
                        g_row = gout[b, d, l0:l0 + T]
                        for t in range(T):
                            xs[task, 0, t, j] = d_row[t] + bd
                            xs[task, 2, t, j] = u_row[t]
                            xs[task, 5, t, j] = g_row[t]
                        if has_z:
                            z_row = z[b, d, l0:l0 + T]
                            for t in range(T):
                                xs[task, 6, t, j] = z_row[t]
                        for n in range(N):
                            hb[task, 0, n, j] = h_chunks[b, d, c, n]
                    else:
                        for t in range(T):
                            xs[task, 0, t, j] = _ZERO
                            xs[task, 2, t, j] = _ZERO
                            xs[task, 5, t, j] = _ZERO
                            xs[task, 6, t, j] = _ZERO
                        for n in range(N):
                            hb[task, 0, n, j] = _ZERO
                for n in range(N):
                    for j in range(W):
                        vecs[task, 0, n, j] = _ZERO
                        vecs[task, 1, n, j] = At[n, d0 + j]
                for j in range(W):
                    lane[task, 0, j] = Dv[d0 + j] if d0 + j < nd else _ZERO
                    lane[task, 1, j] = _ZERO
                    lane[task, 2, j] = _ZERO
                # The elementwise steps, each loop over (t, lane) free of branches so that it vectorises.
                if softplus:
                    for t in range(T):
                        for j in range(W):
                            x = xs[task, 0, t, j]
                            e = _exp32(-abs(x))
                            r = _ONE / (_ONE + e)
                            sp = (x if x > _ZERO else _ZERO) + _log1p32(e)
                            sg = r if x >= _ZERO else e * r
                            xs[task, 0, t, j] = x if x > _SOFTPLUS_THRESHOLD else sp
                            xs[task, 1, t, j] = _ONE if x > _SOFTPLUS_THRESHOLD else sg
                else:
                    for t in range(T):
                        for j in range(W):
                            xs[task, 1, t, j] = _ONE
                if has_z:
                    for t in range(T):
                        for j in range(W):
                            zl = xs[task, 6, t, j]
                            sz = _sigmoid32(zl)
                            xs[task, 4, t, j] = xs[task, 5, t, j] * zl * sz
                            xs[task, 6, t, j] = sz * (_ONE + zl * (_ONE - sz))
                else:
                    for t in range(T):
                        for j in range(W):
                            xs[task, 4, t, j] = xs[task, 5, t, j]
                            xs[task, 6, t, j] = _ONE
                for t in range(T):
                    for j in range(W):
                        xs[task, 3, t, j] = xs[task, 0, t, j] * xs[task, 2, t, j]
                        xs[task, 7, t, j] = _ZERO
                        xs[task, 8, t, j] = _ZERO
                        xs[task, 9, t, j] = _ZERO
                for t in range(T):  # recompute the chunk's states and decays
                    l = l0 + t
                    for n in range(N):
                        bn = Bt[b, l, n]
                        for j in range(W):
                            a = _exp32(xs[task, 0, t, j] * vecs[task, 1, n, j])
                            ab[task, t, n, j] = a
                            hb[task, t + 1, n, j] = a * hb[task, t, n, j] + xs[task, 3, t, j] * bn
                for t in range(T - 1, -1, -1):  # the adjoint, backwards in time
                    l = l0 + t
                    for n in range(N):
                        bn = Bt[b, l, n]
                        cn = Ct[b, l, n]
                        for j in range(W):
                            a = ab[task, t, n, j]
                            hn = hb[task, t + 1, n, j]
                            gyl = xs[task, 4, t, j]
                            g = gyl * cn + carry[task, k, n, j]
                            gCv[task, t, n, j] += gyl * hn
                            gBv[task, t, n, j] += g * xs[task, 3, t, j]
                            xs[task, 7, t, j] += g * bn
                            ga = g * hb[task, t, n, j] * a
                            xs[task, 8, t, j] += ga * vecs[task, 1, n, j]
                            xs[task, 9, t, j] += hn * cn
                            vecs[task, 0, n, j] += ga * xs[task, 0, t, j]
                            carry[task, k, n, j] = a * g
                for n in range(N):
                    for j in range(W):
                        gA_acc[task, k, n, j] += vecs[task, 0, n, j]
                for t in range(T):
                    for j in range(W):
                        gyl = xs[task, 4, t, j]
                        ul = xs[task, 2, t, j]
                        skip = lane[task, 0, j]
                        gd = (ul * xs[task, 7, t, j] + xs[task, 8, t, j]) * xs[task, 1, t, j]
                        lane[task, 1, j] += gyl * ul
                        lane[task, 2, j] += gd
                        xs[task, 7, t, j] = gyl * skip + xs[task, 0, t, j] * xs[task, 7, t, j]  # now dL/du
                        xs[task, 8, t, j] = gd
                        y_pre = xs[task, 9, t, j] + skip * ul
                        xs[task, 9, t, j] = xs[task, 5, t, j] * y_pre * xs[task, 6, t, j]
                for j in range(W):
                    gD_acc[task, k, j] += lane[task, 1, j]
                    gb_acc[task, k, j] += lane[task, 2, j]
                    d = d0 + j
                    if d < nd:
                        gu_row, gd_row = gu[b, d, l0:l0 + T], gdelta[b, d, l0:l0 + T]
                        for t in range(T):
                            gu_row[t] = xs[task, 7, t, j]
                            gd_row[t] = xs[task, 8, t, j]
                        if has_z:
                            gz_row = gz[b, d, l0:l0 + T]
                            for t in range(T):
                                gz_row[t] = xs[task, 9, t, j]
            for t in range(T):  # the horizontal adds: sum the lanes (channels)
                for n in range(N):
                    sB = _ZERO
                    sC = _ZERO
                    for j in range(W):  # (and zero them for the next chunk: the caller passes zeros)
                        sB += gBv[task, t, n, j]
                        sC += gCv[task, t, n, j]
                        gBv[task, t, n, j] = _ZERO
                        gCv[task, t, n, j] = _ZERO
                    gBp[task, l0 + t, n] = sB
                    gCp[task, l0 + t, n] = sC
        for k in range(nblk):
            for j in range(W):
                d = (k0 + k) * W + j
                if d < nd:
                    gD[b, d] = gD_acc[task, k, j]
                    gbias[b, d] = gb_acc[task, k, j]
                    for n in range(N):
                        gA[b, d, n] = gA_acc[task, k, n, j]


_kernel_lock = threading.Lock()
_launch_lock = threading.Lock()
_kernel_cache: dict = {}


def numba_available() -> bool:
    """True when the fused CPU path can be used: numba is importable and not disabled with
    ``SPANMIX_DISABLE_NUMBA=1``."""
    if os.environ.get("SPANMIX_DISABLE_NUMBA", "0").lower() not in ("", "0", "false", "no"):
        return False
    if "available" not in _kernel_cache:
        import importlib.util

        _kernel_cache["available"] = importlib.util.find_spec("numba") is not None
    return _kernel_cache["available"]


def _kernels():
    """(numba, forward kernel, backward kernel): jitted on first use; each compiles on its first call
    (or loads from numba's on-disk cache)."""
    if "fwd" not in _kernel_cache:
        with _kernel_lock:
            if "fwd" not in _kernel_cache:
                import numba

                if "NUMBA_THREADING_LAYER" not in os.environ:
                    # numba's OpenMP layer shares libgomp with torch: it resets torch's thread count
                    # (1 -> 2 in a DataLoader worker or under OMP_NUM_THREADS=1) and its spinning
                    # threads slowed later torch ops ~20x on 2 cores. The built-in workqueue has neither
                    # problem; it is not thread-safe, so launches are serialised by _launch_lock.
                    numba.config.THREADING_LAYER = "workqueue"
                g = globals()
                g["prange"] = numba.prange
                scalar = {"fastmath": _FASTMATH, "inline": "always", "cache": True}
                g["_exp32"] = numba.njit(_exp32_impl, **scalar)
                g["_log1p32"] = numba.njit(_log1p32_impl, **scalar)
                g["_sigmoid32"] = numba.njit(_sigmoid32_impl, **scalar)
                g["_softplus32"] = numba.njit(_softplus32_impl, **scalar)
                kernel = {"parallel": True, "fastmath": _FASTMATH, "cache": True, "nogil": True}
                _kernel_cache["bwd"] = numba.njit(_scan_bwd_kernel, **kernel)
                _kernel_cache["numba"] = numba
                _kernel_cache["fwd"] = numba.njit(_scan_fwd_kernel, **kernel)
    return _kernel_cache["numba"], _kernel_cache["fwd"], _kernel_cache["bwd"]


def _forked_after_use() -> bool:
    """True in a child forked from a process whose numba used GNU OpenMP: libgomp is not fork-safe and
    numba would abort the child ("fork() called from a process already using GNU OpenMP")."""
    pid = _kernel_cache.get("omp_pid")
    return pid is not None and pid != os.getpid()


def _before_launch(numba) -> int:
    """Check fork safety, set numba's thread count from torch's (e.g. 1 in a DataLoader worker);
    returns it."""
    if _forked_after_use():
        raise RuntimeError("selective_scan_fused: this process was forked after numba's OpenMP thread pool "
                           "started in its parent, and libgomp is not fork-safe; use selective_scan (it "
                           "falls back to the chunked path here) or the 'spawn' start method")
    n = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(n)
    return n


def _after_launch(numba) -> None:
    if "omp_pid" not in _kernel_cache and numba.threading_layer() == "omp":
        _kernel_cache["omp_pid"] = os.getpid()


def _f32(x: Tensor) -> np.ndarray:
    """A C-contiguous float32 numpy array (a view when x already is one; else a copy)."""
    return np.ascontiguousarray(x.detach().numpy() if x.dtype == torch.float32 else
                                x.detach().to(torch.float32).numpy())


def _state_layout(x: np.ndarray, width: int) -> np.ndarray:
    """(batch, N, L) -> (batch, L, width), zeros past N (numpy: a single-threaded copy is fastest here)."""
    out = np.zeros((x.shape[0], x.shape[2], width), np.float32)
    out[:, :, : x.shape[1]] = x.transpose(0, 2, 1)
    return out


_DUMMY = np.zeros((1, 1, 1), np.float32)


def _bwd_lanes(dim: int) -> int:
    """Channels per lane block of the backward: _LANES, fewer (a multiple of _W) for narrow inputs."""
    return min(_LANES, -(-dim // _W) * _W)


def _aligned_empty(shape, dtype=np.float32, align: int = 64, zero: bool = False) -> np.ndarray:
    """np.empty whose data starts on a 64-byte boundary: every row of _W floats is then one cache line.
    (numpy aligns to 16 bytes; rows split across two lines made each vector load and store two, and
    broke store-to-load forwarding in the kernels' loop-carried buffers.)"""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    raw = (np.zeros if zero else np.empty)(nbytes + align, np.uint8)
    start = -raw.ctypes.data % align
    return raw[start:start + nbytes].view(dtype).reshape(shape)


class _FusedScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, delta_softplus):
        numba, fwd, _ = _kernels()
        bsz, dim, length = u.shape
        n = A.shape[1]
        npad = -(-n // _W) * _W
        uf, xf = _f32(u), _f32(delta)
        Ap = np.zeros((dim, npad), np.float32)
        Ap[:, :n] = _f32(A)
        Bt, Ct = _state_layout(_f32(B), npad), _state_layout(_f32(C), npad)
        Dv = _f32(D) if D is not None else np.zeros(dim, np.float32)
        bias = _f32(delta_bias) if delta_bias is not None else np.zeros(dim, np.float32)
        zf = _f32(z) if z is not None else _DUMMY
        needs_grad = any(ctx.needs_input_grad[:8])
        nchunk = -(-length // _CHUNK) if needs_grad else 0
        y = np.empty((bsz, dim, length), np.float32)
        h_chunks = np.empty((bsz, dim, nchunk, npad), np.float32)
        h_last = np.empty((bsz, dim, npad), np.float32)
        with _launch_lock:
            _before_launch(numba)
            fwd(uf, xf, bias, delta_softplus, Ap, Bt, Ct, Dv, zf, z is not None, _CHUNK, y, h_chunks, h_last)
            _after_launch(numba)
        if needs_grad:
            ctx.arrays = (uf, xf, bias, Ap, Bt, Ct, Dv, zf, h_chunks)
            # The arrays may share memory with the inputs; saving the inputs as well makes autograd
            # refuse a backward after they were modified in place.
            ctx.save_for_backward(u, delta, A, B, C, D, z, delta_bias)
        ctx.delta_softplus, ctx.has_z, ctx.n = delta_softplus, z is not None, n
        ctx.dtypes = [t.dtype if t is not None else None for t in (u, delta, A, B, C, D, z, delta_bias)]
        return torch.from_numpy(y).to(u.dtype), torch.from_numpy(h_last[..., :n])

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_out, g_last):
        numba, _, bwd = _kernels()
        ctx.saved_tensors  # noqa: B018 -- raises if an input was modified in place since the forward
        uf, xf, bias, Ap, Bt, Ct, Dv, zf, h_chunks = ctx.arrays
        bsz, dim, length = uf.shape
        n, npad = ctx.n, Ap.shape[1]
        gout = _f32(g_out) if g_out is not None else np.zeros(uf.shape, np.float32)
        gh_last = np.zeros((bsz, dim, npad), np.float32)
        if g_last is not None:
            gh_last[..., :n] = _f32(g_last)
        with _launch_lock:
            nthreads = _before_launch(numba)
            lanes = _bwd_lanes(dim)
            nblk = -(-dim // lanes)
            nsplit = max(1, min(nblk, -(-2 * nthreads // bsz)))  # >= 2 work items per thread
            ntask = bsz * nsplit
            At = np.zeros((n, nblk * lanes), np.float32)
            At[:, :dim] = Ap[:, :n].T
            gu, gdelta = np.empty_like(uf), np.empty_like(uf)
            gz = np.empty_like(uf) if ctx.has_z else _DUMMY
            gA = np.empty((bsz, dim, n), np.float32)
            gBp = np.empty((ntask, length, n), np.float32)  # partial sums over channel groups
            gCp = np.empty((ntask, length, n), np.float32)
            gD = np.empty((bsz, dim), np.float64)
            gbias = np.empty((bsz, dim), np.float64)
            # per-task scratch (see the kernel's docstring): arguments rather than allocations inside the
            # parallel loop, so that LLVM knows they alias nothing and vectorises the lane loops
            per, T = -(-nblk // nsplit), _CHUNK
            f32, f64 = np.float32, np.float64
            scratch = tuple(_aligned_empty(shape, dtype, zero=zero) for shape, dtype, zero in (
                ((ntask, per, n, lanes), f32, False), ((ntask, per, n, lanes), f64, False),
                ((ntask, per, lanes), f64, False), ((ntask, per, lanes), f64, False),
                ((ntask, T + 1, n, lanes), f32, False), ((ntask, T, n, lanes), f32, False),
                ((ntask, T, n, lanes), f32, True), ((ntask, T, n, lanes), f32, True),  # gBv, gCv start at 0
                ((ntask, 2, n, lanes), f32, False), ((ntask, 3, lanes), f32, False),
                ((ntask, 10, T, lanes), f32, False)))
            bwd(uf, xf, bias, ctx.delta_softplus, At, Bt, Ct, Dv, zf, ctx.has_z, gout, gh_last, h_chunks, _CHUNK,
                nsplit, gu, gdelta, gz, gA, gBp, gCp, gD, gbias, *scratch)
            _after_launch(numba)
        need = ctx.needs_input_grad
        t = torch.from_numpy
        grads = [
            t(gu) if need[0] else None,
            t(gdelta) if need[1] else None,
            t(gA.sum(0)) if need[2] else None,
            t(gBp.reshape(bsz, nsplit, length, n).sum(1).transpose(0, 2, 1)) if need[3] else None,
            t(gCp.reshape(bsz, nsplit, length, n).sum(1).transpose(0, 2, 1)) if need[4] else None,
            t(gD.sum(0)) if need[5] else None,
            t(gz) if need[6] and ctx.has_z else None,
            t(gbias.sum(0)) if need[7] else None,
        ]
        return (*[g.to(dtype) if g is not None else None for g, dtype in zip(grads, ctx.dtypes)], None)


def selective_scan_fused(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                         return_last_state=False):
    """Fused CPU kernel (numba), float32 inside; hand-written backward. Same arguments as
    ``selective_scan_ref``. Raises ValueError for tensors not on the CPU."""
    _check_inputs("selective_scan_fused", u, delta, A, B, C, D, z, delta_bias)
    tensors = [t for t in (u, delta, A, B, C, D, z, delta_bias) if t is not None]
    if any(t.device.type != "cpu" for t in tensors):
        raise ValueError(f"selective_scan_fused: expected CPU tensors, got {sorted({str(t.device) for t in tensors})}")
    y, h_last = _FusedScan.apply(u, delta, A, B, C, D, z, delta_bias, bool(delta_softplus))
    return (y, h_last) if return_last_state else y


# ----------------------------------------------------------------------------------------------- public


_warned_numba = False


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                   return_last_state=False):
    """Mamba-1 selective scan; picks the fastest path that applies (see the module docstring).

    Args:
        u: (B, D, L) input. delta: (B, D, L) step sizes before ``delta_bias`` and softplus.
        A: (D, N) real state matrix (diagonal per channel; negative for a stable scan).
        B, C: (B, N, L) input-dependent input and output projections.
        D: (D,) skip connection. z: (B, D, L) gate: ``y * silu(z)``. delta_bias: (D,) added to delta.
        delta_softplus: apply softplus to ``delta + delta_bias``.
        return_last_state: also return the state after the last step, (B, D, N), float32.

    Returns:
        y (B, D, L) in ``u``'s dtype, or ``(y, h_last)``.

    Cost: O(B·D·L·N) time; the fused CPU path keeps O(B·D·L + B·D·N·L/64) memory, the Triton path
    O(B·D·L + B·D·N·L/32), the chunked path O(B·D·L·N).
    """
    global _warned_numba
    args = (u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)
    if use_reference():
        return selective_scan_ref(*args)
    if getattr(u, "dtype", None) != torch.float64 and use_triton(u, delta, A, B, C, D, z, delta_bias):
        kernel = triton_kernel("triton_selective_scan", "selective_scan_triton")
        return (kernel or selective_scan_chunked)(*args)
    if isinstance(u, torch.Tensor) and u.device.type == "cpu":
        if u.dtype != torch.float64 and numba_available() and not _forked_after_use():
            try:
                _kernels()
            except Exception as exc:  # noqa: BLE001 -- a broken numba install: fall back, say so once
                _kernel_cache["available"] = False
                if not _warned_numba:
                    warnings.warn(f"selective_scan: numba kernels unavailable ({exc!r}); using the chunked "
                                  "PyTorch path", RuntimeWarning, stacklevel=2)
                    _warned_numba = True
            else:
                return selective_scan_fused(*args)
    return selective_scan_chunked(*args)
