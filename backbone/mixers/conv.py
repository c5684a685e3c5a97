"""Conformer convolution module as a token mixer."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spanmix.backbone.mixers.base import Mixer, check_positive, check_step_input, zero_padded
from spanmix.backbone.mixers.depthwise import depthwise_conv_step
from spanmix.backbone.registry import register_mixer

NORMS = ("batch", "layer")


@register_mixer("conv")
class ConformerConv(Mixer):
    """Conformer convolution module (Gulati et al., "Conformer: Convolution-augmented Transformer for
    Speech Recognition", Interspeech 2020, Sec. 2.2 and Fig. 2).

    pointwise conv D -> expansion·D, GLU (halves it to C = expansion·D/2), depthwise conv over time
    (``kernel_size`` taps), BatchNorm, Swish (SiLU), pointwise conv C -> D, dropout. The module's
    leading LayerNorm and its residual connection are left to the pre-norm residual ``Block`` that holds
    every mixer. Pointwise convolutions are ``nn.Linear`` layers over (B, L, D) (the same map).

    Args:
        dim: width D.
        kernel_size: depthwise kernel width (31 in the paper). Non-causal ("same") padding puts
            (kernel_size-1)/2 zeros on each side, so it must be odd there: an even kernel has no centred
            alignment and would shift the receptive field by half a step, which is a ValueError. Causal
            padding is left-only (kernel_size-1 zeros) and takes any width.
        expansion: expansion factor of the first pointwise conv (2 in the paper, so C = D after the
            GLU); ``expansion·dim`` must be even.
        dropout: dropout on the output.
        causal: left padding only, so position t sees t-kernel_size+1 .. t; then ``step`` streams.
        norm: ``"batch"`` (the paper) or ``"layer"`` (LayerNorm over the C channels of each position).
            Default: ``"batch"``, or ``"layer"`` when causal, because BatchNorm in training normalises
            with statistics over the batch *and time*, so a position would see its future through the
            mean and variance (in eval it uses running statistics and is position-wise). An explicit
            ``norm="batch"`` with ``causal=True`` is allowed, causal only in eval mode. BatchNorm's
            training statistics also count padded positions (zeros).

    Shapes: ``x`` (B, L, D), ``mask`` (B, L) bool, True = real token -> (B, L, D). Padded positions are
    zeroed on input, after the GLU (so the pointwise bias does not reach the depthwise conv: padding
    acts like the conv's own zero padding) and on output.
    Cost: O(L·D·(D·expansion + kernel_size)) time, O(L·D) memory; a step is O(D² + D·kernel_size) with
    a (B, C, kernel_size-1) buffer of past GLU outputs.
    """

    def __init__(self, dim: int, *, kernel_size: int = 31, expansion: int = 2, dropout: float = 0.0,
                 causal: bool = False, norm: str | None = None):
        super().__init__()
        who = self.mixer_name
        check_positive(who, dim=dim, kernel_size=kernel_size, expansion=expansion)
        if not causal and kernel_size % 2 == 0:
            raise ValueError(f"{who}: kernel_size must be odd when not causal (centred 'same' padding), "
                             f"got {kernel_size}; use an odd width or causal=True")
        if (expansion * dim) % 2:
            raise ValueError(f"{who}: expansion*dim must be even for the GLU, "
                             f"got expansion={expansion}, dim={dim}")
        if norm is None:
            norm = "layer" if causal else "batch"
        if norm not in NORMS:
            raise ValueError(f"{who}: unknown norm {norm!r}; expected one of {NORMS}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{who}: dropout must be in [0, 1), got {dropout}")
        self.dim, self.kernel_size, self.expansion, self.norm_kind = dim, kernel_size, expansion, norm
        self.causal = bool(causal)
        self.channels = expansion * dim // 2
        c = self.channels
        self.pointwise_in = nn.Linear(dim, 2 * c)
        self.depthwise = nn.Conv1d(c, c, kernel_size, groups=c)  # padded by hand: causal or centred
        self.norm = nn.BatchNorm1d(c) if norm == "batch" else nn.LayerNorm(c)
        self.pointwise_out = nn.Linear(c, dim)
        self.dropout = nn.Dropout(dropout)

    @property
    def supports_step(self) -> bool:
        return self.causal

    @property
    def padding(self) -> tuple[int, int]:
        k = self.kernel_size
        return (k - 1, 0) if self.causal else ((k - 1) // 2, (k - 1) // 2)

    def _gate(self, x: torch.Tensor) -> torch.Tensor:
        return F.glu(self.pointwise_in(x), dim=-1)

    def _tail(self, h: torch.Tensor) -> torch.Tensor:
        """Norm, Swish, pointwise conv, dropout on channels-last ``h`` (..., C)."""
        if self.norm_kind == "batch":
            h = self.norm(h.transpose(1, 2)).transpose(1, 2) if h.dim() == 3 else self.norm(h)
        else:
            h = self.norm(h)
        return self.dropout(self.pointwise_out(F.silu(h)))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, mask)
        g = zero_padded(self._gate(zero_padded(x, mask)), mask)  # (B, L, C)
        h = F.conv1d(F.pad(g.transpose(1, 2), self.padding), self.depthwise.weight, self.depthwise.bias,
                     groups=self.channels)
        return zero_padded(self._tail(h.transpose(1, 2)), mask)

    def reference(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The same module with the depthwise conv as an explicit unfold: windows (B, L, C, k) · taps."""
        self.check_input(x, mask)
        g = zero_padded(self._gate(zero_padded(x, mask)), mask)  # (B, L, C)
        left, right = self.padding
        windows = F.pad(g, (0, 0, left, right)).unfold(1, self.kernel_size, 1)  # (B, L, C, k)
        h = (windows * self.depthwise.weight[:, 0, :]).sum(-1) + self.depthwise.bias
        return zero_padded(self._tail(h), mask)

    def init_state(self, batch: int, device: torch.device | None = None, dtype: torch.dtype | None = None):
        """Causal only: the last kernel_size-1 GLU outputs, zeros (B, C, kernel_size-1)."""
        if not self.causal:
            raise NotImplementedError(f"mixer {self.mixer_name!r} has no step form unless causal=True")
        w = self.depthwise.weight
        return torch.zeros(batch, self.channels, self.kernel_size - 1, device=device or w.device,
                           dtype=dtype or w.dtype)

    def step(self, x_t: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One causal step: ``x_t`` (B, D) -> ``y_t`` (B, D); normalisation as in eval mode."""
        if not self.causal:
            raise NotImplementedError(f"mixer {self.mixer_name!r} has no step form unless causal=True")
        check_step_input(x_t, self.dim, self.mixer_name)
        h, state = depthwise_conv_step(state, self._gate(x_t), self.depthwise.weight, self.depthwise.bias)
        return self._tail(h), state
