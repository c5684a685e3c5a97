"""Mamba-1 selective scan as Triton kernels (GPU; on CPU only under ``TRITON_INTERPRET=1``, for tests).

Same arguments, semantics and result as ``spanmix.kernels.selective_scan_ref`` (Gu & Dao 2023, "Mamba",
Sec. 3.2 / Algorithm 2; real A, input-dependent B and C). Shapes: ``u``, ``delta``, ``z``: (B, D, L);
``A``: (D, N); ``B``, ``C``: (B, N, L); ``D``, ``delta_bias``: (D,)::

    dt_l = softplus(delta_l + delta_bias)      h_l = exp(dt_l A) h_{l-1} + dt_l B_l u_l,  h_{-1} = 0
    y_l  = sum_n h_l[n] C_l[n] + D u_l ;       y <- y * silu(z)

Forward: one program per (batch, block of ``BLOCK_D`` channels); it walks L in chunks of ``T`` steps
and keeps the state h, (BLOCK_D, N), in registers. Inside a chunk the recurrence is one parallel
``tl.associative_scan`` over the time axis of the (BLOCK_D, N, T) tile with the first-order-recurrence
operator (a1, b1) o (a2, b2) = (a1 a2, a2 b1 + b2); the state entering the chunk is then added as
``prod(a) h_start``. Bias + softplus, the D skip and the silu(z) gate are fused in; with gradients
needed the state at every chunk start is stored, (B, D, L/T, N) float32.

Backward: the same programs walk the chunks from last to first. Each chunk recomputes its states from
the stored chunk-start state (the same scan), then runs the adjoint ``g_l = dL/dh_l``,
``g_l = gy_l C_l + a_{l+1} g_{l+1}`` (``g_{L-1}`` also gets the cotangent of ``h_last``), as a
reverse associative scan whose coefficients ``a_{l+1}`` come from ``delta`` loaded one step ahead; the
adjoint entering from the next chunk is carried in registers. With ``a_l h_{l-1} = h_l - dt_l u_l B_l``
(no division, no shifted state) the gradients are the ones of the numba kernel in
``kernels/selective_scan.py``::

    dC_l = sum_d gy_l h_l          dB_l = sum_d g_l dt_l u_l          du_l = gy_l D + dt_l sum_n g_l B_l
    ddt_l = u_l sum_n g_l B_l + sum_n g_l a_l h_{l-1} A               dA = sum_{b,l} g_l a_l h_{l-1} dt_l
    ddelta_l = ddt_l softplus'(delta_l + bias);  dbias = sum ddelta;  dD = sum gy u;  dz = gout y silu'(z)

dB and dC sum over channels, so every program adds its (N, T) tile with ``tl.atomic_add`` into a float32
buffer — fast, but the order of the additions, hence the last bits,
varies between runs; under ``torch.use_deterministic_algorithms(True)`` each channel block writes its own
partial sums instead, (B, D / BLOCK_D, N, L) floats each, added up afterwards. dA, dD and dbias are
per-(batch, channel) partial sums added up over the batch afterwards. Everything is computed in float32:
bf16/fp16 inputs are cast on load; ``y`` comes back in u's dtype, ``h_last`` in float32, every gradient
in its input's dtype.

Not the authors' kernel: theirs is CUDA C++, one thread block per channel, the 2048 steps of a chunk
spread over the threads of a block-wide scan, states and chunks in loops; this is a re-derivation in
Triton (a block of channels x all states x the T steps of a chunk in one tile, chunks in a loop). What
it shares with theirs: atomics for dB/dC and the identity a_l h_{l-1} = h_l - dt_l u_l B_l in the
backward. Extra memory: the chunk-start states, B·D·N·L/T floats (N/T = 1/4 of a (B, D, L) float32
tensor at N = 16, T = 64), plus float32 gradient buffers.

Launch configuration (``_chunk_for``, ``_launch_config``): T = 64 steps at N <= 16 (T·N = 1024 up to
N = 64); ``BLOCK_D`` the largest power of two with BLOCK_D·N·T <= 8192 (forward) / 4096 (backward), i.e.
8 / 4 at N = 16, halved while the grid has fewer programs than the GPU has SMs (B = 1, D = 1024 on 132
SMs: 4 for both); 8 warps for forward tiles of 8192 and backward tiles of 4096 elements, else 4. Every
configuration this produces for N in {16, 32, 64} compiles without register spills for sm_90a
(``benchmarks/kernels.py --ptxas``, tests/kernels/test_triton_compile.py). None of it is tuned by
timing: no GPU was available when this was written.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from spanmix.kernels._triton_compat import patch_interpreter

patch_interpreter()

__all__ = ["selective_scan_triton"]

_FWD_TILE = 8192  # BLOCK_D * BLOCK_N * T elements per program, forward
_BWD_TILE = 4096  # backward (more live tiles)


@triton.jit
def _first_order(a1, b1, a2, b2):
    """h -> a2 (a1 h + b1) + b2: composing two steps of h_l = a_l h_{l-1} + b_l."""
    return a1 * a2, b1 * a2 + b2


@triton.jit
def _softplus(x):
    # torch's softplus: x above 20; log1p(exp(x)) otherwise, with log1p(t) = log(1 + t) t / ((1 + t) - 1)
    # (exact to float32 rounding even for tiny t, where log(1 + t) alone loses every digit).
    t = tl.exp(tl.minimum(x, 20.0))
    w = 1.0 + t
    lp = tl.where(w == 1.0, t, tl.log(w) * t / (w - 1.0))
    return tl.where(x > 20.0, x, lp)


@triton.jit
def _load_dt(DELTA, offs, mask, bias, SOFTPLUS: tl.constexpr):
    """dt = softplus(delta + bias) (or delta + bias), 0 where masked (decay 1, input 0: a no-op step),
    and softplus' (1 without softplus)."""
    x = tl.load(DELTA + offs, mask=mask, other=0.0).to(tl.float32) + bias
    if SOFTPLUS:
        dt = _softplus(x)
        slope = tl.where(x > 20.0, 1.0, tl.sigmoid(x))
    else:
        dt = x
        slope = tl.full(x.shape, 1.0, tl.float32)
    return tl.where(mask, dt, 0.0), slope


@triton.jit
def _chunk_states(h0, A3, dt, u, Bt):
    """States after every step of one chunk: (BLOCK_D, BLOCK_N, T), from h0 (BLOCK_D, BLOCK_N)."""
    a = tl.exp(dt[:, None, :] * A3)
    b = (dt * u)[:, None, :] * Bt[None, :, :]
    decay, local = tl.associative_scan((a, b), 2, _first_order)
    return decay * h0[:, :, None] + local


@triton.jit
def _scan_fwd_kernel(U, DELTA, A, Bm, Cm, Dv, Z, BIAS, Y, HCH, HLAST,
                     L, DIM, N, NCHUNK,
                     HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr,
                     SOFTPLUS: tl.constexpr, STORE: tl.constexpr,
                     BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, T: tl.constexpr):
    pid_d = tl.program_id(0)
    b = tl.program_id(1).to(tl.int64)
    offs_d = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    md, mn = offs_d < DIM, offs_n < N
    mdn = md[:, None] & mn[None, :]
    A3 = tl.load(A + offs_d[:, None] * N + offs_n[None, :], mask=mdn, other=0.0).to(tl.float32)[:, :, None]
    bias = tl.load(BIAS + offs_d, mask=md, other=0.0).to(tl.float32)[:, None] if HAS_BIAS else 0.0
    skip = tl.load(Dv + offs_d, mask=md, other=0.0).to(tl.float32)[:, None] if HAS_D else 0.0
    row = (b * DIM + offs_d)[:, None] * L  # (BLOCK_D, 1) offsets of the (b, d, :) rows
    col = (b * N + offs_n)[:, None] * L  # (BLOCK_N, 1) offsets of the (b, n, :) rows of B, C
    hrow = ((b * DIM + offs_d)[:, None] * NCHUNK) * N + offs_n[None, :]  # HCH[b, d, 0, n]
    last = (tl.arange(0, T) == T - 1)[None, None, :]
    h = tl.zeros((BLOCK_D, BLOCK_N), tl.float32)
    for c in range(0, NCHUNK):
        if STORE:
            tl.store(HCH + hrow + c * N, h, mask=mdn)
        offs_t = c * T + tl.arange(0, T)
        mt = offs_t < L
        m2 = md[:, None] & mt[None, :]
        mbc = mn[:, None] & mt[None, :]
        u = tl.load(U + row + offs_t[None, :], mask=m2, other=0.0).to(tl.float32)
        dt, _ = _load_dt(DELTA, row + offs_t[None, :], m2, bias, SOFTPLUS)
        Bt = tl.load(Bm + col + offs_t[None, :], mask=mbc, other=0.0).to(tl.float32)
        Ct = tl.load(Cm + col + offs_t[None, :], mask=mbc, other=0.0).to(tl.float32)
        hs = _chunk_states(h, A3, dt, u, Bt)
        y = tl.sum(hs * Ct[None, :, :], axis=1)
        h = tl.sum(tl.where(last, hs, 0.0), axis=2)
        if HAS_D:
            y += skip * u
        if HAS_Z:
            zv = tl.load(Z + row + offs_t[None, :], mask=m2, other=0.0).to(tl.float32)
            y *= zv * tl.sigmoid(zv)
        tl.store(Y + row + offs_t[None, :], y.to(Y.dtype.element_ty), mask=m2)
    tl.store(HLAST + (b * DIM + offs_d)[:, None] * N + offs_n[None, :], h, mask=mdn)


@triton.jit
def _scan_bwd_kernel(U, DELTA, A, Bm, Cm, Dv, Z, BIAS, GOUT, GHLAST, HCH,
                     DU, DDELTA, DZ, DA, DB, DC, DD, DBIAS,
                     L, DIM, N, NCHUNK,
                     HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr,
                     SOFTPLUS: tl.constexpr, HAS_GH: tl.constexpr, ATOMIC: tl.constexpr,
                     BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, T: tl.constexpr):
    pid_d = tl.program_id(0)
    b = tl.program_id(1).to(tl.int64)
    offs_d = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    md, mn = offs_d < DIM, offs_n < N
    mdn = md[:, None] & mn[None, :]
    A2 = tl.load(A + offs_d[:, None] * N + offs_n[None, :], mask=mdn, other=0.0).to(tl.float32)
    A3 = A2[:, :, None]
    bias = tl.load(BIAS + offs_d, mask=md, other=0.0).to(tl.float32)[:, None] if HAS_BIAS else 0.0
    skip = tl.load(Dv + offs_d, mask=md, other=0.0).to(tl.float32)[:, None] if HAS_D else 0.0
    row = (b * DIM + offs_d)[:, None] * L
    col = (b * N + offs_n)[:, None] * L
    hrow = ((b * DIM + offs_d)[:, None] * NCHUNK) * N + offs_n[None, :]
    state = (b * DIM + offs_d)[:, None] * N + offs_n[None, :]  # (b, d, n) of a (B, D, N) tensor
    if ATOMIC:
        part = col  # dB, dC: (B, N, L), every channel block adds into it
    else:
        part = ((b * tl.num_programs(0) + pid_d) * N + offs_n)[:, None] * L  # (B, D blocks, N, L) partials
    first = (tl.arange(0, T) == 0)[None, None, :]
    if HAS_GH:
        g_next = tl.load(GHLAST + state, mask=mdn, other=0.0).to(tl.float32)  # dL/dh entering from the right
    else:
        g_next = tl.zeros((BLOCK_D, BLOCK_N), tl.float32)
    dA = tl.zeros((BLOCK_D, BLOCK_N), tl.float32)
    dD = tl.zeros((BLOCK_D,), tl.float32)
    dbias = tl.zeros((BLOCK_D,), tl.float32)
    for i in range(0, NCHUNK):
        c = NCHUNK - 1 - i
        offs_t = c * T + tl.arange(0, T)
        mt = offs_t < L
        m2 = md[:, None] & mt[None, :]
        mbc = mn[:, None] & mt[None, :]
        u = tl.load(U + row + offs_t[None, :], mask=m2, other=0.0).to(tl.float32)
        dt, slope = _load_dt(DELTA, row + offs_t[None, :], m2, bias, SOFTPLUS)
        # the next step's decay a_{l+1}; 1 past the end (dt = 0), so the last step sees g_next = gh_last
        m2n = md[:, None] & (offs_t + 1 < L)[None, :]
        dt_next, _ = _load_dt(DELTA, row + offs_t[None, :] + 1, m2n, bias, SOFTPLUS)
        Bt = tl.load(Bm + col + offs_t[None, :], mask=mbc, other=0.0).to(tl.float32)
        Ct = tl.load(Cm + col + offs_t[None, :], mask=mbc, other=0.0).to(tl.float32)
        gout = tl.load(GOUT + row + offs_t[None, :], mask=m2, other=0.0).to(tl.float32)
        h0 = tl.load(HCH + hrow + c * N, mask=mdn, other=0.0)
        hs = _chunk_states(h0, A3, dt, u, Bt)  # h_l, (BLOCK_D, BLOCK_N, T)
        if HAS_Z:
            zv = tl.load(Z + row + offs_t[None, :], mask=m2, other=0.0).to(tl.float32)
            sz = tl.sigmoid(zv)
            y_pre = tl.sum(hs * Ct[None, :, :], axis=1) + skip * u
            tl.store(DZ + row + offs_t[None, :], gout * y_pre * sz * (1.0 + zv * (1.0 - sz)), mask=m2)
            gy = gout * zv * sz
        else:
            gy = gout
        a_next = tl.exp(dt_next[:, None, :] * A3)
        decay, local = tl.associative_scan((a_next, gy[:, None, :] * Ct[None, :, :]), 2, _first_order,
                                           reverse=True)
        g = decay * g_next[:, :, None] + local  # dL/dh_l
        g_next = tl.sum(tl.where(first, g, 0.0), axis=2)
        dtu = dt * u
        ga = g * (hs - dtu[:, None, :] * Bt[None, :, :])  # g_l a_l h_{l-1}
        s_b = tl.sum(g * Bt[None, :, :], axis=1)  # (BLOCK_D, T)
        s_a = tl.sum(ga * A3, axis=1)
        tl.store(DU + row + offs_t[None, :], gy * skip + dt * s_b, mask=m2)
        ddelta = tl.where(m2, (u * s_b + s_a) * slope, 0.0)
        tl.store(DDELTA + row + offs_t[None, :], ddelta, mask=m2)
        dA += tl.sum(ga * dt[:, None, :], axis=2)
        dD += tl.sum(gy * u, axis=1)
        dbias += tl.sum(ddelta, axis=1)
        dC = tl.sum(gy[:, None, :] * hs, axis=0)
        dB = tl.sum(g * dtu[:, None, :], axis=0)
        if ATOMIC:
            tl.atomic_add(DC + part + offs_t[None, :], dC, mask=mbc)
            tl.atomic_add(DB + part + offs_t[None, :], dB, mask=mbc)
        else:
            tl.store(DC + part + offs_t[None, :], dC, mask=mbc)
            tl.store(DB + part + offs_t[None, :], dB, mask=mbc)
    tl.store(DA + state, dA, mask=mdn)
    tl.store(DD + b * DIM + offs_d, dD, mask=md)
    tl.store(DBIAS + b * DIM + offs_d, dbias, mask=md)


def _programs_wanted(device: torch.device) -> int:
    """At least one program per SM (each program is a sequential walk over L)."""
    if device.type != "cuda":
        return 1
    return torch.cuda.get_device_properties(device).multi_processor_count


def _chunk_for(n_pad: int) -> int:
    """Default chunk length T: 64 steps at N <= 16, N·T = 1024 above (16 at N = 64)."""
    return max(16, min(64, 1024 // n_pad))


def _launch_config(bsz: int, dim: int, n_pad: int, chunk: int, tile: int, device, block_d) -> tuple[int, int]:
    """(BLOCK_D, num_warps): the largest power of two with BLOCK_D·N·T <= tile, halved (down to 2)
    while the grid has fewer programs than the GPU has SMs; 8 warps for a full tile, else 4 (see the
    module docstring for where these come from)."""
    if block_d is None:
        bd = max(1, tile // (n_pad * chunk))
        bd = min(1 << (bd.bit_length() - 1), triton.next_power_of_2(dim))
        while bd > 2 and bsz * triton.cdiv(dim, bd) < _programs_wanted(device):
            bd //= 2
    else:
        bd = block_d
    return bd, (8 if bd * n_pad * chunk >= tile else 4)


class _TritonScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, softplus, chunk, block_d_fwd, block_d_bwd):
        bsz, dim, length = u.shape
        n = A.shape[1]
        n_pad = max(2, triton.next_power_of_2(n))
        T = chunk
        nchunk = triton.cdiv(length, T)
        inputs = [x.contiguous() if x is not None else None for x in (u, delta, A, B, C, D, z, delta_bias)]
        u_, delta_, A_, B_, C_, D_, z_, bias_ = inputs
        store = any(ctx.needs_input_grad[:8])  # (grad mode is off inside forward)
        y = torch.empty_like(u_)
        h_last = torch.empty(bsz, dim, n, device=u.device, dtype=torch.float32)
        hch = torch.empty(bsz, dim, nchunk if store else 0, n, device=u.device, dtype=torch.float32)
        bd, warps = _launch_config(bsz, dim, n_pad, T, _FWD_TILE, u.device, block_d_fwd)
        dummy = u_  # never read: the matching HAS_* flag is off
        _scan_fwd_kernel[(triton.cdiv(dim, bd), bsz)](
            u_, delta_, A_, B_, C_, D_ if D_ is not None else dummy, z_ if z_ is not None else dummy,
            bias_ if bias_ is not None else dummy, y, hch if store else dummy, h_last,
            length, dim, n, nchunk,
            HAS_D=D_ is not None, HAS_Z=z_ is not None, HAS_BIAS=bias_ is not None, SOFTPLUS=softplus,
            STORE=store, BLOCK_D=bd, BLOCK_N=n_pad, T=T, num_warps=warps)
        ctx.save_for_backward(*[x for x in inputs if x is not None], hch)
        ctx.present = [x is not None for x in inputs]
        ctx.dtypes = [x.dtype if x is not None else None for x in inputs]
        ctx.cfg = (softplus, T, block_d_bwd)
        ctx.set_materialize_grads(False)  # an unused h_last then comes back as None, not as zeros
        return y, h_last

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_out, g_last):
        saved = list(ctx.saved_tensors)
        hch = saved.pop()
        it = iter(saved)
        u, delta, A, B, C, D, z, bias = [next(it) if p else None for p in ctx.present]
        softplus, T, block_d_bwd = ctx.cfg
        bsz, dim, length = u.shape
        n = A.shape[1]
        n_pad = max(2, triton.next_power_of_2(n))
        nchunk = hch.shape[2]
        f32 = dict(device=u.device, dtype=torch.float32)
        gout = g_out.contiguous() if g_out is not None else torch.zeros(u.shape, **f32)
        du, ddelta = torch.empty(u.shape, **f32), torch.empty(u.shape, **f32)
        dz = torch.empty(u.shape, **f32) if z is not None else du
        dA = torch.empty(bsz, dim, n, **f32)
        bd, warps = _launch_config(bsz, dim, n_pad, T, _BWD_TILE, u.device, block_d_bwd)
        nblk = triton.cdiv(dim, bd)
        # atomics are faster but their order varies from run to run; under
        # torch.use_deterministic_algorithms(True) every channel block writes its own partial sums
        atomic = not torch.are_deterministic_algorithms_enabled()
        if atomic:
            dB, dC = torch.zeros(bsz, n, length, **f32), torch.zeros(bsz, n, length, **f32)
        else:
            dB, dC = torch.empty(bsz, nblk, n, length, **f32), torch.empty(bsz, nblk, n, length, **f32)
        dD, dbias = torch.empty(bsz, dim, **f32), torch.empty(bsz, dim, **f32)
        dummy = u
        _scan_bwd_kernel[(nblk, bsz)](
            u, delta, A, B, C, D if D is not None else dummy, z if z is not None else dummy,
            bias if bias is not None else dummy, gout,
            g_last.contiguous() if g_last is not None else dummy, hch,
            du, ddelta, dz, dA, dB, dC, dD, dbias,
            length, dim, n, nchunk,
            HAS_D=D is not None, HAS_Z=z is not None, HAS_BIAS=bias is not None, SOFTPLUS=softplus,
            HAS_GH=g_last is not None, ATOMIC=atomic, BLOCK_D=bd, BLOCK_N=n_pad, T=T, num_warps=warps)
        if not atomic:
            dB, dC = dB.sum(1), dC.sum(1)
        grads = [du, ddelta, dA.sum(0), dB, dC, dD.sum(0) if D is not None else None,
                 dz if z is not None else None, dbias.sum(0) if bias is not None else None]
        need = ctx.needs_input_grad
        out = [g.to(dtype) if (g is not None and need[i]) else None
               for i, (g, dtype) in enumerate(zip(grads, ctx.dtypes))]
        return (*out, None, None, None, None)


def selective_scan_triton(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                          return_last_state=False, *, chunk_size: int | None = None,
                          block_d: tuple | None = None):
    """The Triton kernels; same arguments and result as ``selective_scan_ref``.

    Needs tensors on a CUDA device, or ``TRITON_INTERPRET=1`` set before triton was first imported
    (then CPU tensors run in Triton's interpreter, slowly: tests only). float64 is computed in float32.

    Args (beyond the reference's):
        chunk_size: T, time steps per chunk; a power of two (default ``_chunk_for(N)``: 64 at N <= 16).
        block_d: (forward, backward) channels per program, powers of two; default from the tile budget.
    """
    from spanmix.kernels.selective_scan import _check_inputs

    _check_inputs("selective_scan_triton", u, delta, A, B, C, D, z, delta_bias)
    if chunk_size is None:
        chunk_size = _chunk_for(max(2, triton.next_power_of_2(A.shape[1])))
    if chunk_size < 1 or chunk_size & (chunk_size - 1):
        raise ValueError(f"selective_scan_triton: chunk_size must be a power of two, got {chunk_size}")
    bd_f, bd_b = block_d if block_d is not None else (None, None)
    y, h_last = _TritonScan.apply(u, delta, A, B, C, D, z, delta_bias, bool(delta_softplus), int(chunk_size),
                                  bd_f, bd_b)
    return (y, h_last) if return_last_state else y
