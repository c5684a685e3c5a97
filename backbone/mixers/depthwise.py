"""Causal depthwise convolution pieces shared by the mixers that have a short conv (Mamba, Hyena,
Conformer): the explicit reference form and the one-step update of a streaming buffer."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The real dtype recurrences, kernels and FFTs run in: float64 for float64, float32 otherwise."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def depthwise_conv_ref(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                       left: int, right: int = 0) -> torch.Tensor:
    """Depthwise 1-D convolution written as an explicit sum over taps (the reference of ``F.conv1d``).

    ``x`` (B, C, L), ``weight`` (C, 1, k), ``bias`` (C,) or None; ``left``/``right`` zeros are padded
    on each side, with ``left + right == k - 1`` so the output has length L:
    ``y[:, c, t] = bias[c] + sum_j weight[c, 0, j] * x_pad[:, c, t + j]``.
    """
    k = weight.shape[-1]
    length = x.shape[-1]
    xp = F.pad(x, (left, right))
    y = sum(weight[:, 0, j, None] * xp[..., j:j + length] for j in range(k))
    return y if bias is None else y + bias[:, None]


def depthwise_conv_step(buffer: torch.Tensor, x_t: torch.Tensor, weight: torch.Tensor,
                        bias: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of a causal depthwise convolution.

    ``buffer`` (B, C, k-1) holds the previous k-1 inputs (oldest first), ``x_t`` (B, C) the new one;
    returns ``y_t`` (B, C) in ``x_t``'s dtype and the next buffer. The taps are summed in float32 (as
    ``F.conv1d`` accumulates) and rounded once, so a bf16 step matches a bf16 forward.
    """
    window = torch.cat([buffer.to(x_t.dtype), x_t.unsqueeze(-1)], dim=-1)  # (B, C, k)
    cd = compute_dtype(x_t.dtype)
    y = (window.to(cd) * weight[:, 0, :].to(cd)).sum(-1)
    if bias is not None:
        y = y + bias.to(cd)
    return y.to(x_t.dtype), window[..., 1:]


_CHUNK = 1 << 14  # rows per chunk of the in-place path


def causal_depthwise_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                          inplace: bool = False) -> torch.Tensor:
    """Causal depthwise convolution in the channels-last layout, by shifted multiply-adds over the taps.

    ``x`` (B, L, C), ``weight`` (C, 1, k), ``bias`` (C,) or None -> (B, L, C) in ``x``'s dtype:
    ``y[:, t, c] = bias[c] + sum_j weight[c, 0, j] * x[:, t - (k - 1) + j, c]`` (zeros before t = 0), i.e.
    ``depthwise_conv_ref(x.transpose(1, 2), weight, bias, left=k - 1).transpose(1, 2)``.

    Why by hand rather than ``F.conv1d(groups=C)``: for a few taps at long L oneDNN's depthwise path needs the
    (B, C, L) layout (a full transposing copy) and is itself slow; at L = 64k, C = 384, one thread:
    412 ms for conv1d on the transposed view, 237 ms on a contiguous (B, C, L) input, 159 ms here under
    load (``benchmarks/results/long_conv.md``). Summed in float32 (float64 for float64), rounded once.

    ``inplace=True`` (only without autograd, for a float32/float64 ``x`` the caller owns) overwrites ``x``
    with the result, chunk by chunk from the end, so no second (B, L, C) activation is allocated.
    """
    if inplace and not torch.is_grad_enabled() and x.dtype == compute_dtype(x.dtype) and x.shape[1] > _CHUNK:
        k = weight.shape[-1]
        for end in range(x.shape[1], 0, -_CHUNK):
            start = max(0, end - _CHUNK)
            lo = max(0, start - (k - 1))  # inputs before ``start`` are still unmodified
            x[:, start:end] = causal_depthwise_conv(x[:, lo:end], weight, bias)[:, start - lo:]
        return x
    k = weight.shape[-1]
    cd = compute_dtype(x.dtype)
    xc = x.to(cd)
    w = weight[:, 0, :].to(cd)  # (C, k)
    y = xc * w[:, k - 1] if bias is None else torch.addcmul(bias.to(cd), xc, w[:, k - 1])
    length = x.shape[1]
    for j in range(k - 1):
        shift = k - 1 - j  # tap j reads x[t - shift]
        if shift < length:
            y[:, shift:].addcmul_(xc[:, :length - shift], w[:, j])
    return y.to(x.dtype)
