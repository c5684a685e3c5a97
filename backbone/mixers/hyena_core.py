"""The Hyena recurrence after the input projection, as one autograd function with a hand-written backward.

    s = short causal depthwise conv(u)                      # u (B, L, (N+1)·D), the in_proj output
    x_0, ..., x_{N-1}, v = split(s);  z = v
    for each long filter i:  w = pre_i ⊙ z;  y_i = k_i * w + bias_i ⊙ w;  z = post_i ⊙ y_i
    out = z                                                 # (B, L, D), the out_proj input

``pre_i`` / ``post_i`` are gates (or nothing) and the padding mask, as ``Hyena`` lays them out (``steps``).
Why by hand: autograd through the short conv's shifted ``addcmul_`` and the FFT convolution saves every
intermediate (the complex spectra of each convolution input, the gate products, the short conv's output)
and its backward of in-place slice updates copies whole activations. Here the forward runs without autograd
and saves only ``u`` and each filter's output ``y_i`` (N or N-1 activations of (B, L, D)); the backward
recomputes the short conv and the gate products and runs the convolutions' adjoints by FFT, channel group by
channel group (complex temporaries of ~16 MiB):

    grad w = irfft(G · conj K)[:L] + bias ⊙ g,   grad k = irfft(Σ_b G · conj W)[:Lk],   grad bias = Σ g ⊙ w

with G, W, K the rFFTs (zero-padded to the forward's size n >= L + Lk - 1, so there is no wrap-around) of the
output gradient g, the input w and the kernel. Outputs and gradients equal autograd's through the reference
(``Hyena.reference``) to float rounding (``tests/backbone/test_hyena_fast_paths.py``).
"""
from __future__ import annotations

import torch

from spanmix.backbone.mixers.depthwise import causal_depthwise_conv, compute_dtype
from spanmix.kernels import channel_groups, fft_size

_ROWS = 1 << 14  # sequence rows per chunk of the short conv's backward


def _gated(z: torch.Tensor, gate: torch.Tensor | None, keep: torch.Tensor | None) -> torch.Tensor:
    if gate is not None:
        z = z * gate
    return z if keep is None else z * keep


def long_conv_into(out: torch.Tensor, w: torch.Tensor, k: torch.Tensor, bias: torch.Tensor, n: int,
                   k_spec: torch.Tensor | None = None) -> torch.Tensor:
    """``out = k * w + bias ⊙ w`` along dim 1 of (B, L, C) tensors (``out`` may be ``w`` itself: each channel
    group is read before it is written). ``k`` (C, Lk), ``bias`` (C,), ``k_spec`` optional (C, n//2+1)."""
    B, L, C = w.shape
    work = compute_dtype(w.dtype)
    for c0, c1 in channel_groups(B, C, n):
        wc = w[:, :, c0:c1].transpose(1, 2).to(work, copy=True)  # (B, g, L) contiguous
        spec = torch.fft.rfft(wc, n=n)
        spec *= torch.fft.rfft(k[c0:c1].to(work), n=n) if k_spec is None else k_spec[c0:c1]
        y = torch.fft.irfft(spec, n=n)[..., :L]
        y.addcmul_(bias[c0:c1].to(work)[:, None], wc)
        out[:, :, c0:c1] = y.transpose(1, 2)
    return out


def _long_conv_backward(g: torch.Tensor, w: torch.Tensor, k: torch.Tensor, bias: torch.Tensor, n: int):
    """Adjoint of ``long_conv_into``: (grad w (B, L, C), grad k (C, Lk), grad bias (C,))."""
    B, L, C = w.shape
    work = compute_dtype(w.dtype)
    Lk = k.shape[1]
    gw = torch.empty_like(w)
    gk = torch.empty(C, Lk, dtype=work, device=w.device)
    gb = torch.empty(C, dtype=work, device=w.device)
    for c0, c1 in channel_groups(B, C, n):
        gc = g[:, :, c0:c1].transpose(1, 2).to(work, copy=True)  # (B, g, L)
        wc = w[:, :, c0:c1].transpose(1, 2).to(work, copy=True)
        gspec = torch.fft.rfft(gc, n=n)
        wspec = torch.fft.rfft(wc, n=n)
        wspec.conj_physical_()
        wspec *= gspec
        gk[c0:c1] = torch.fft.irfft(wspec.sum(0), n=n)[:, :Lk]
        gspec *= torch.fft.rfft(k[c0:c1].to(work), n=n).conj_physical_()
        x = torch.fft.irfft(gspec, n=n)[..., :L]
        x.addcmul_(bias[c0:c1].to(work)[:, None], gc)
        gw[:, :, c0:c1] = x.transpose(1, 2)
        gb[c0:c1] = (gc * wc).sum((0, 2))
    return gw, gk, gb


def _short_conv_backward(gs: torch.Tensor, u: torch.Tensor, weight: torch.Tensor, has_bias: bool):
    """Adjoint of ``causal_depthwise_conv(u, weight, bias)``: grad u, grad weight (C, 1, k), grad bias.
    ``gs`` (the output gradient, owned by the caller) is overwritten with grad u, in row chunks from the start
    (chunk [r0, r1) reads rows up to r1 + k - 2, which later chunks have not written yet)."""
    taps, L = weight.shape[-1], u.shape[1]
    cd = compute_dtype(u.dtype)
    w = weight[:, 0, :].to(cd)
    gw = torch.zeros(w.shape, dtype=cd, device=u.device)
    for j in range(taps):
        shift = taps - 1 - j  # y[t] += w_j · u[t - shift]
        if shift < L:
            gw[:, j] = _dot_rows(gs[:, shift:], u[:, :L - shift])
    gb = gs.sum((0, 1)) if has_bias else None
    for r0 in range(0, L, _ROWS):
        r1 = min(L, r0 + _ROWS)
        src = gs[:, r0:min(L, r1 + taps - 1)]
        out = src[:, :r1 - r0] * w[:, taps - 1]
        for j in range(taps - 1):
            shift = taps - 1 - j  # grad u[t] += w_j · gs[t + shift]
            rows = min(r1, L - shift) - r0
            if rows > 0:
                out[:, :rows].addcmul_(src[:, shift:shift + rows], w[:, j])
        gs[:, r0:r1] = out
    return gs, gw.unsqueeze(1), gb


def _dot_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(a * b).sum((0, 1))`` for (B, L, C) tensors, in row chunks (no full-size temporary)."""
    total = torch.zeros(a.shape[-1], dtype=torch.promote_types(a.dtype, b.dtype), device=a.device)
    for r0 in range(0, a.shape[1], _ROWS):
        total += (a[:, r0:r0 + _ROWS] * b[:, r0:r0 + _ROWS]).sum((0, 1))
    return total


class HyenaCore(torch.autograd.Function):
    """Autograd function of the module docstring; see ``hyena_core`` for the arguments."""

    @staticmethod
    def forward(ctx, u, conv_weight, conv_bias, k, bias, keep, steps, dim):
        n_steps = len(steps)
        L, Lk = u.shape[1], k.shape[-1]
        n = fft_size(L, Lk)
        s = causal_depthwise_conv(u, conv_weight, conv_bias)
        *gates, z = s.split(dim, dim=-1)
        ys = []
        for i, (pre, post) in enumerate(steps):
            w = _gated(z, None if pre is None else gates[pre], keep)
            y = long_conv_into(torch.empty_like(w), w, k[i], bias[i], n)
            ys.append(y)
            z = y if post is None else y * gates[post]
        ctx.save_for_backward(u, conv_weight, conv_bias, k, bias, keep, *ys)
        ctx.steps, ctx.dim, ctx.n, ctx.n_steps = steps, dim, n, n_steps
        return z

    @staticmethod
    def backward(ctx, grad_out):
        u, conv_weight, conv_bias, k, bias, keep, *ys = ctx.saved_tensors
        steps, dim, n = ctx.steps, ctx.dim, ctx.n
        s = causal_depthwise_conv(u, conv_weight, conv_bias)
        *gates, v = s.split(dim, dim=-1)
        zs = [v]  # the input z of each step
        for i, (_, post) in enumerate(steps[:-1]):
            zs.append(ys[i] if post is None else ys[i] * gates[post])
        gs = torch.empty_like(s)  # every gate and v is used exactly once: each slice is written once
        g_gates = gs.split(dim, dim=-1)
        gk, gbias = torch.empty_like(k), torch.empty_like(bias)
        gz = grad_out
        for i in reversed(range(len(steps))):
            pre, post = steps[i]
            if post is not None:
                torch.mul(gz, ys[i], out=g_gates[post])
                gz = gz * gates[post]
            gate = None if pre is None else gates[pre]
            w = _gated(zs[i], gate, keep)
            gw, gk_i, gb_i = _long_conv_backward(gz, w, k[i], bias[i], n)
            del w
            gk[i], gbias[i] = gk_i.to(k.dtype), gb_i.to(bias.dtype)
            if keep is not None:
                gw *= keep
            if gate is not None:
                torch.mul(gw, zs[i], out=g_gates[pre])
                gw *= gate
            gz = gw
        g_gates[-1].copy_(gz)  # v
        del s, gates, v, zs, gz, gw, ys
        gu, gcw, gcb = _short_conv_backward(gs, u, conv_weight, conv_bias is not None)
        return (gu, gcw.to(conv_weight.dtype), None if gcb is None else gcb.to(conv_bias.dtype), gk, gbias,
                None, None, None)


def hyena_core(u, conv_weight, conv_bias, k, bias, keep, steps, dim):
    """Run the recurrence of the module docstring with the hand-written backward.

    Args:
        u: (B, L, (N+1)·D) input projection (float32 or float64), zero at padded positions.
        conv_weight, conv_bias: the short conv's (C, 1, taps) and (C,) (bias may be None).
        k: (S, D, Lk) long filters, Lk <= L; bias: (S, D) their skip terms.
        keep: (B, L, 1) 0/1 mask multiplied into every convolution input, or None.
        steps: S pairs (pre, post): the gate index multiplied into z before filter i, and after it (None: none).
        dim: D.

    Returns:
        (B, L, D), the input of the output projection.
    """
    return HyenaCore.apply(u, conv_weight, conv_bias, k, bias, keep, tuple(steps), dim)
