"""The pre-norm residual block every stack is made of."""
from __future__ import annotations

from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from timm.layers import DropPath, Mlp, SwiGLU
from torch import nn

from spanmix.backbone.mixers.base import Mixer

NORMS = ("layer", "rms")
FFNS = ("mlp", "swiglu", "none")
ACTS = ("gelu", "gelu_tanh")
FFN_POSITIONS = 1 << 14  # positions per FFN block in inference (see Block.forward)


def make_norm(kind: str, dim: int) -> nn.Module:
    """``"layer"`` (LayerNorm) or ``"rms"`` (RMSNorm, Zhang & Sennrich 2019)."""
    if kind == "layer":
        return nn.LayerNorm(dim)
    if kind == "rms":
        return nn.RMSNorm(dim)
    raise ValueError(f"unknown norm {kind!r}; expected one of {NORMS}")


class _GeluLinear(torch.autograd.Function):
    """``linear(gelu(h), weight, bias)`` saving only ``h``: gelu(h) is recomputed in backward."""

    @staticmethod
    def forward(ctx, h, weight, bias, approximate):
        ctx.save_for_backward(h, weight)
        ctx.approximate, ctx.has_bias = approximate, bias is not None
        return F.linear(F.gelu(h, approximate=approximate), weight, bias)

    @staticmethod
    def backward(ctx, gy):
        h, weight = ctx.saved_tensors
        ga = gy @ weight.to(gy.dtype)
        a = F.gelu(h, approximate=ctx.approximate)
        g2 = gy.reshape(-1, gy.shape[-1])
        gw = g2.t() @ a.reshape(-1, a.shape[-1])
        del a
        gb = g2.sum(0) if ctx.has_bias else None
        gh = torch.ops.aten.gelu_backward(ga, h, approximate=ctx.approximate)
        return gh, gw.to(weight.dtype), gb, None


class GeluMlp(Mlp):
    """timm's ``Mlp`` (fc1 -> GELU -> fc2, same parameters and names) whose backward keeps one (B, L, hidden)
    activation instead of two: under autograd, with no dropout or norm inside, fc2 is fused with the GELU so
    only the GELU's input is saved and its output is recomputed in backward (at L = 64k, hidden 512: 128 MiB
    less per block for one more elementwise pass). Otherwise timm's forward, unchanged."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fusable = (torch.is_grad_enabled() and isinstance(self.act, nn.GELU) and isinstance(self.norm, nn.Identity)
                   and (not self.training or (self.drop1.p == 0 and self.drop2.p == 0)))
        if not fusable:
            return super().forward(x)
        return _GeluLinear.apply(self.fc1(x), self.fc2.weight, self.fc2.bias, self.act.approximate)


def make_ffn(kind: str, dim: int, mlp_ratio: float, dropout: float, act: str = "gelu") -> nn.Module:
    """Position-wise feed-forward: ``"mlp"`` (GELU MLP), ``"swiglu"`` (Shazeer 2020) or ``"none"``.

    ``act`` picks the MLP's GELU: ``"gelu"`` (exact erf form) or ``"gelu_tanh"`` (the tanh approximation of
    Hendrycks & Gimpel 2016, used by GPT-2 and HyenaDNA's official MLP).
    """
    hidden = int(round(dim * mlp_ratio))
    if act not in ACTS:
        raise ValueError(f"unknown activation {act!r}; expected one of {ACTS}")
    if kind == "mlp":
        layer = partial(nn.GELU, approximate="tanh") if act == "gelu_tanh" else nn.GELU
        return GeluMlp(dim, hidden, act_layer=layer, drop=dropout)
    if kind == "swiglu":
        # Two thirds of the MLP width keeps the parameter count of the GELU MLP (Shazeer 2020, Sec. 2).
        return SwiGLU(dim, max(1, 2 * hidden // 3), drop=dropout)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown ffn {kind!r}; expected one of {FFNS}")


class Block(nn.Module):
    """Pre-norm residual block: ``x + mixer(norm(x))`` then ``x + ffn(norm(x))``.

    The layout of GPT-2 / ViT (Xiong et al. 2020, "On Layer Normalization in the Transformer
    Architecture"), with stochastic depth (Huang et al. 2016) on both branches.

    Args:
        dim: width D.
        mixer: a token mixer ``(B, L, D) -> (B, L, D)`` (see ``build_mixer``).
        ffn: ``"mlp"``, ``"swiglu"`` or ``"none"`` (mixer-only blocks, as in Mamba stacks).
        mlp_ratio: hidden width of the FFN relative to ``dim``.
        norm: ``"layer"`` or ``"rms"``.
        drop_path: stochastic-depth probability of each residual branch.
        dropout: dropout inside the FFN.
        act: the MLP's activation, ``"gelu"`` or ``"gelu_tanh"`` (see ``make_ffn``).

    Shapes: ``x`` (B, L, D), ``mask`` (B, L) bool (True = real token) -> (B, L, D).
    Cost: the mixer's, plus O(L·D²) for the FFN. In inference (eval mode, no autograd) the FFN runs over blocks
    of ``FFN_POSITIONS`` positions added in place, so its hidden activation is never held for the whole sequence.
    """

    def __init__(self, dim: int, mixer: nn.Module, *, ffn: str = "mlp", mlp_ratio: float = 4.0,
                 norm: str = "layer", drop_path: float = 0.0, dropout: float = 0.0, act: str = "gelu"):
        super().__init__()
        self.norm1 = make_norm(norm, dim)
        self.mixer = mixer
        self.has_ffn = ffn != "none"
        self.norm2 = make_norm(norm, dim) if self.has_ffn else nn.Identity()
        self.ffn = make_ffn(ffn, dim, mlp_ratio, dropout, act)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.drop_path(self.mixer(self.norm1(x), mask=mask))
        if self.has_ffn and not torch.is_grad_enabled() and not self.training and x.dim() == 3 \
                and x.shape[0] * x.shape[1] > FFN_POSITIONS:
            # Inference at long L: the FFN is position-wise, so it runs over blocks of positions added in place
            # into x (which this block owns); no (B, L, hidden) activation (at L = 1M, d 128 -> 512: 2 GiB).
            rows = max(1, FFN_POSITIONS // x.shape[0])
            for r0 in range(0, x.shape[1], rows):
                part = x[:, r0:r0 + rows]
                part += self.ffn(self.norm2(part))
        elif self.has_ffn:
            x = x + self.drop_path(self.ffn(self.norm2(x)))
        return x

    @property
    def supports_step(self) -> bool:
        return isinstance(self.mixer, Mixer) and self.mixer.supports_step

    def init_state(self, batch: int, device=None, dtype=None) -> Any:
        return self.mixer.init_state(batch, device=device, dtype=dtype)

    def step(self, x_t: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """One time step: ``x_t`` (B, D) -> (B, D)."""
        y_t, state = self.mixer.step(self.norm1(x_t), state)
        x_t = x_t + y_t
        if self.has_ffn:
            x_t = x_t + self.ffn(self.norm2(x_t))
        return x_t, state
