"""Causal long convolution by FFT, beside its direct-convolution reference.

    y[b, c, t] = sum_{s=0}^{t} k[c, s] * u[b, c, t - s]  (+ D[c] * u[b, c, t])

Shapes: ``u: (B, C, L)``, ``k: (C, Lk)``, ``D: (C,)`` or None -> ``y: (B, C, L)`` in the dtype of ``u``.

Kernel length: ``Lk < L`` means the missing taps are zero. ``Lk > L`` is accepted and the kernel is
truncated to its first L taps — exact, since a tap ``s >= L`` never reaches an output ``t < L``. (Hyena
keeps one filter of the maximum length and applies it to shorter inputs.)

Fast path (``fft_conv``), as in H3 / Hyena (Fu et al. 2023, arXiv:2212.14052, sec. 4; Poli et al.
2023, arXiv:2302.10866, sec. 3.3): rfft of ``u`` and ``k`` zero-padded to ``n >= L + Lk - 1`` (no
circular wrap-around; ``n`` rounded up to a 2·3·5-smooth length, which the FFT handles fast), product,
irfft, keep the first L samples. O(B·C·n log n) time. Always computed in fp32 or wider (bf16/fp16
inputs are upcast, the result is cast back). Long problems run in channel groups, so the complex
temporaries are O(B·n·group) rather than O(B·C·n); without autograd each group is computed in place and
written straight into the output (L = 1M, C = 128: +236 MiB peak instead of +2.5 GiB). With autograd the
groups are concatenated and the backward is autograd's through rfft/irfft (it keeps the spectra).

Reference (``fft_conv_ref``): ``F.conv1d`` with ``groups=C`` on the left-padded input and the flipped
kernel — the textbook causal depthwise convolution. O(B·C·L·Lk); for tests and debugging.

Spectrum cache: ``kernel_spectrum(k, L)`` is the kernel's rfft at the size ``fft_conv`` uses for a
length-L input; a caller whose kernel does not change between calls (inference, evaluation, generation
with a fixed prompt) computes it once and passes it as ``k_spec=``, saving one rfft of (C, n) per call.
The caller owns the cache and its invalidation (``Hyena`` keys it on its filter parameters' versions).
``k_spec`` carries no gradient to ``k``: it is refused when ``k`` needs one.

``SPANMIX_FORCE_REFERENCE=1`` or ``with reference_mode():`` routes ``fft_conv`` to the reference.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from spanmix.kernels.dispatch import use_reference

__all__ = ["channel_groups", "fft_conv", "fft_conv_ref", "fft_size", "kernel_spectrum"]

# Long problems run in channel groups: complex temporaries of ~_GROUP_ELEMS elements (16 MiB of
# complex64) instead of B·C·n, which is both less memory and faster (at L = 64k, C = 128: 157 vs 340 ms
# single-threaded); but at least _MIN_GROUP channels per FFT call, whose set-up cost grows with n
# (at n = 2M: 39 ms for one channel alone, 17 ms per channel in a batch of 16).
_GROUP_ELEMS = 1 << 21
_MIN_GROUP = 8


def _check_inputs(u, k, D) -> None:
    for name, t in (("u", u), ("k", k)):
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if u.dim() != 3:
        raise ValueError(f"u must have rank 3 (B, C, L), got shape {tuple(u.shape)}")
    if k.dim() != 2:
        raise ValueError(f"k must have rank 2 (C, Lk), got shape {tuple(k.shape)}")
    B, C, L = u.shape
    if k.shape[0] != C:
        raise ValueError(f"k must have shape (C, Lk) with C = {C} (channels of u), got {tuple(k.shape)}")
    if L < 1:
        raise ValueError(f"sequence length L must be >= 1, got u of shape {tuple(u.shape)}")
    if k.shape[1] < 1:
        raise ValueError(f"kernel length Lk must be >= 1, got k of shape {tuple(k.shape)}")
    if D is not None:
        if not isinstance(D, torch.Tensor):
            raise ValueError(f"D must be a torch.Tensor of shape (C,) or None, got {type(D).__name__}")
        if tuple(D.shape) != (C,):
            raise ValueError(f"D must have shape (C,) = ({C},), got {tuple(D.shape)}")
    for name, t in (("u", u), ("k", k), ("D", D)):
        if t is not None and (not t.is_floating_point()):
            raise ValueError(f"{name} must be a real floating-point tensor, got dtype {t.dtype}")


def _work_dtype(u, k, D) -> torch.dtype:
    dt = torch.promote_types(u.dtype, k.dtype)
    if D is not None:
        dt = torch.promote_types(dt, D.dtype)
    return torch.promote_types(dt, torch.float32)  # at least fp32


def _next_fast_len(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n (lengths the real FFT handles at full speed)."""
    if n <= 1:
        return 1
    best = 1 << (n - 1).bit_length()  # a power of two always qualifies
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def fft_conv_ref(u, k, D=None):
    """Obviously-correct causal depthwise convolution via ``F.conv1d``. O(B·C·L·Lk).

    Args:
        u: (B, C, L) input.
        k: (C, Lk) kernel, tap ``s`` multiplies ``u[t - s]``; taps beyond L are unused.
        D: optional (C,) skip weight, adds ``D[c] * u``.

    Returns:
        (B, C, L) in the dtype of ``u`` (computed in at least fp32).
    """
    _check_inputs(u, k, D)
    B, C, L = u.shape
    work = _work_dtype(u, k, D)
    k = k[:, :L].to(work)
    Lk = k.shape[1]
    x = F.pad(u.to(work), (Lk - 1, 0))  # (B, C, Lk - 1 + L): u[t - s] for s < Lk, zeros before t = 0
    y = F.conv1d(x, k.flip(-1).unsqueeze(1), groups=C)  # (B, C, L); conv1d is cross-correlation
    if D is not None:
        y = y + D.to(work)[:, None] * u.to(work)
    return y.to(u.dtype)


def fft_size(L: int, Lk: int) -> int:
    """The FFT length ``fft_conv`` uses for inputs of length L and a kernel of Lk taps (2·3·5-smooth)."""
    return _next_fast_len(L + min(Lk, L) - 1)


def kernel_spectrum(k: torch.Tensor, L: int) -> torch.Tensor:
    """rfft of ``k`` (C, Lk) at the FFT size ``fft_conv`` uses for inputs of length L: (C, n // 2 + 1)
    complex, in fp32 or wider; pass it to ``fft_conv(..., k_spec=)`` while ``k`` is unchanged."""
    if not isinstance(k, torch.Tensor) or k.dim() != 2 or not k.is_floating_point():
        raise ValueError(f"k must be a real floating-point tensor of shape (C, Lk), got {getattr(k, 'shape', k)}")
    work = torch.promote_types(k.dtype, torch.float32)
    return torch.fft.rfft(k[:, :L].to(work), n=fft_size(L, k.shape[1]))


def channel_groups(batch: int, channels: int, n: int) -> list[tuple[int, int]]:
    """The (c0, c1) channel groups of a length-``n`` FFT over (batch, channels, ·): complex temporaries of about
    ``_GROUP_ELEMS`` elements, at least ``_MIN_GROUP`` channels each (fewer only when there are fewer)."""
    group = min(channels, max(_MIN_GROUP, _GROUP_ELEMS // (batch * (n // 2 + 1))))
    return [(c0, min(channels, c0 + group)) for c0 in range(0, channels, group)]


def _fft_conv_fast(u, k, D, k_spec=None):
    B, C, L = u.shape
    work = _work_dtype(u, k, D)
    k = k[:, :L]
    n = fft_size(L, k.shape[1])

    def k_hat(c0, c1):
        return torch.fft.rfft(k[c0:c1].to(work), n=n) if k_spec is None else k_spec[c0:c1]

    groups = channel_groups(B, C, n)
    needs_grad = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (u, k, D))
    if needs_grad or len(groups) == 1:
        pieces = []
        for c0, c1 in groups:
            uc = u[:, c0:c1].to(work)  # (B, g, L)
            spec = torch.fft.rfft(uc, n=n) * k_hat(c0, c1)  # (B, g, n // 2 + 1)
            y = torch.fft.irfft(spec, n=n)[..., :L]  # (B, g, L); samples >= L hold the discarded tail
            if D is not None:
                y = y + D[c0:c1].to(work)[:, None] * uc
            pieces.append(y.to(u.dtype))
        return pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=1)
    # Inference: the same, in place, each group written straight into the output.
    out = torch.empty(B, C, L, dtype=u.dtype, device=u.device)
    for c0, c1 in groups:
        uc = u[:, c0:c1].to(work)
        spec = torch.fft.rfft(uc, n=n)
        spec *= k_hat(c0, c1)
        y = torch.fft.irfft(spec, n=n)[..., :L]
        if D is not None:
            y.addcmul_(D[c0:c1].to(work)[:, None], uc)
        out[:, c0:c1] = y
    return out


def fft_conv(u, k, D=None, *, k_spec=None):
    """Causal long convolution ``y = k * u (+ D u)`` by zero-padded real FFT; see the module docstring.

    Args:
        u: (B, C, L) input.
        k: (C, Lk) kernel, tap ``s`` multiplies ``u[t - s]``; ``Lk < L``: missing taps are zero;
            ``Lk > L``: truncated to L taps (exact).
        D: optional (C,) skip weight, adds ``D[c] * u``.
        k_spec: optional ``kernel_spectrum(k, L)``, computed earlier for this very ``k`` (no gradient).

    Returns:
        (B, C, L) in the dtype of ``u``; computed in fp32 (or fp64 if any input is fp64).

    Raises:
        ValueError: wrong ranks, channel mismatch, empty sequence or kernel, bad ``D`` shape.
    """
    _check_inputs(u, k, D)
    if k_spec is not None:
        B, C, L = u.shape
        want = (C, fft_size(L, k.shape[1]) // 2 + 1)
        if tuple(k_spec.shape) != want or not k_spec.is_complex():
            raise ValueError(f"k_spec must be kernel_spectrum(k, L): complex of shape {want}, got "
                             f"{k_spec.dtype} {tuple(k_spec.shape)}")
        if torch.is_grad_enabled() and k.requires_grad:
            raise ValueError("k_spec carries no gradient to k: pass it only when k needs none")
    if use_reference():
        return fft_conv_ref(u, k, D)
    return _fft_conv_fast(u, k, D, k_spec)
