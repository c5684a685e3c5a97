"""Mamba-1 selective state-space block, unidirectional (streamable) or bidirectional."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from spanmix.backbone.mixers.base import Mixer, check_positive, check_step_input, zero_padded
from spanmix.backbone.mixers.depthwise import compute_dtype, depthwise_conv_ref, depthwise_conv_step
from spanmix.backbone.registry import register_mixer
from spanmix.kernels import selective_scan, selective_scan_ref


def dt_bias_init(shape, dt_min: float = 1e-3, dt_max: float = 0.1, dt_init_floor: float = 1e-4) -> torch.Tensor:
    """Mamba's initial Δ bias of the given shape: softplus⁻¹(dt) with dt log-uniform in [dt_min, dt_max],
    clamped below at dt_init_floor (Gu & Dao 2023, mamba_simple's dt_proj init). Models with their own Δ
    projections (MaIR's per-direction scans, the point SSM's multi-scan block) call this one."""
    dt = torch.exp(torch.rand(shape) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
    dt = dt.clamp(min=dt_init_floor)
    return dt + torch.log(-torch.expm1(-dt))


@register_mixer("mamba")
class Mamba(Mixer):
    """Mamba block (Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces":
    Sec. 3.2 / Algorithm 2 for the selective SSM "S6", Sec. 3.4 / Fig. 3 for the block, Sec. 3.6 for
    the S4D-Real init of A and the low-rank parameterisation of Δ; the remaining init details follow
    the authors' reference implementation, ``mamba_simple.py``).

    With E·D = ``expand``·dim inner channels and N = ``d_state``::

        x, z   = in_proj(u)                       # D -> 2·E·D
        x      = SiLU(causal depthwise conv1d(x))  # d_conv taps
        Δ, B, C = x_proj(x)                        # E·D -> dt_rank + N + N, per position
        Δ      = softplus(dt_proj.weight · Δ + dt_proj.bias)     # dt_rank -> E·D
        h_t    = exp(Δ_t A) h_{t-1} + Δ_t B_t x_t,  y_t = C_t h_t + D x_t   (per channel, state N)
        out    = out_proj(y · SiLU(z))            # E·D -> D

    Init: A = -exp(A_log), A_log[c] = log(1..N) (S4D-Real); D = 1; dt_proj.weight ~ U(±dt_rank^-1/2 ·
    dt_scale); dt_proj.bias = softplus⁻¹(dt), dt log-uniform in [dt_min, dt_max] clamped below at
    dt_init_floor. ``A_log``, ``D`` carry ``_no_weight_decay = True`` as in the reference code.

    Bidirectional (``bidirectional=True``; S-Mamba, Wang et al. 2024, "Is Mamba Effective for Time
    Series Forecasting?"; BiMamba in Caduceus, Schiff et al. 2024): output =
    ``forward(x) + flip(reverse(flip(x)))``, where ``reverse`` is a second, fully independent
    unidirectional Mamba block (its own in_proj, conv, SSM and out_proj; S-Mamba's choice of two
    separate blocks, rather than Caduceus' weight-tied projections). The result is not causal and has
    no step form.

    Padding: ``mask`` (B, L) bool, True = real token. Padded positions are zeroed on input, after
    in_proj and after the short conv (whose bias would otherwise feed them into the state), so they add
    nothing to the state; outputs there are zeroed. A right- or left-padded sequence therefore gives
    exactly the unpadded outputs at its real positions, in both directions (the reverse pass meets the
    right padding first, while its state is still zero). Across a hole inside a sequence the state
    decays as over any step with zero input.

    Args:
        dim: model width D.
        d_state: SSM state size N per channel (16).
        d_conv: causal depthwise conv width (4).
        expand: inner width factor E (2); E·D must be >= 1.
        dt_rank: rank of the Δ projection; ``"auto"`` = ceil(D / 16).
        dt_min, dt_max: range of the initial step sizes (1e-3, 0.1).
        dt_init_floor, dt_scale: lower clamp of the initial Δ (1e-4); scale of dt_proj's init (1).
        bias: biases on in_proj / out_proj (False). conv_bias: bias on the short conv (True).
        bidirectional: add a reversed pass with its own block (see above).
        causal: None (default) = ``not bidirectional``. ``True`` is accepted for the unidirectional block
            (so that a schedule's ``causal=True`` reaches every mixer); ``False`` needs ``bidirectional=True``
            (the unidirectional block is causal), and ``True`` with ``bidirectional=True`` is a ValueError.

    Shapes: ``x`` (B, L, D) -> (B, L, D); scan tensors u, Δ (B, E·D, L), B, C (B, N, L), A (E·D, N).
    Cost: O(L·E·D·(D + N + d_conv)) time (doubled when bidirectional), O(L·E·D) activations plus
    whatever the scan kernel keeps; a step is O(E·D·(D + N + d_conv)) with a constant-size state
    (conv buffer (B, E·D, d_conv-1), SSM state (B, E·D, N)).
    """

    def __init__(self, dim: int, *, d_state: int = 16, d_conv: int = 4, expand: float = 2,
                 dt_rank: int | str = "auto", dt_min: float = 1e-3, dt_max: float = 0.1,
                 dt_init_floor: float = 1e-4, dt_scale: float = 1.0, bias: bool = False,
                 conv_bias: bool = True, bidirectional: bool = False, causal: bool | None = None):
        super().__init__()
        who = self.mixer_name
        if causal is not None and not causal and not bidirectional:
            raise ValueError(f"{who} is causal: it accepts causal=True only, got causal={causal!r}; for a "
                             "non-causal Mamba use bidirectional=True (S-Mamba / BiMamba)")
        if causal and bidirectional:
            raise ValueError(f"{who}: causal=True contradicts bidirectional=True (the reversed pass sees the future)")
        check_positive(who, dim=dim, d_state=d_state, d_conv=d_conv)
        if isinstance(expand, bool) or not isinstance(expand, (int, float)) or int(expand * dim) < 1:
            raise ValueError(f"{who}: expand must be a number with int(expand*dim) >= 1, got {expand!r}")
        if dt_rank == "auto":
            dt_rank = math.ceil(dim / 16)
        elif isinstance(dt_rank, bool) or not isinstance(dt_rank, int) or dt_rank < 1:
            raise ValueError(f"{who}: dt_rank must be 'auto' or an integer >= 1, got {dt_rank!r}")
        if not 0 < dt_min <= dt_max:
            raise ValueError(f"{who}: need 0 < dt_min <= dt_max, got dt_min={dt_min}, dt_max={dt_max}")
        if dt_init_floor < 0:
            raise ValueError(f"{who}: dt_init_floor must be >= 0, got {dt_init_floor}")
        self.dim, self.d_state, self.d_conv, self.expand = dim, d_state, d_conv, expand
        self.d_inner = d_inner = int(expand * dim)
        self.dt_rank = dt_rank
        self.bidirectional = bool(bidirectional)
        self.causal = not self.bidirectional

        self.in_proj = nn.Linear(dim, 2 * d_inner, bias=bias)
        self.conv1d = nn.Conv1d(d_inner, d_inner, d_conv, groups=d_inner, padding=d_conv - 1, bias=conv_bias)
        self.x_proj = nn.Linear(d_inner, dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(dt_rank, d_inner, bias=True)
        nn.init.uniform_(self.dt_proj.weight, -dt_rank ** -0.5 * dt_scale, dt_rank ** -0.5 * dt_scale)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt_bias_init((d_inner,), dt_min, dt_max, dt_init_floor))
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(d_inner, 1)  # S4D-Real: A_n = -(n+1)
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(d_inner))
        self.A_log._no_weight_decay = True
        self.D._no_weight_decay = True
        self.out_proj = nn.Linear(d_inner, dim, bias=bias)

        self.reverse = None
        if self.bidirectional:
            self.reverse = Mamba(dim, d_state=d_state, d_conv=d_conv, expand=expand, dt_rank=dt_rank,
                                 dt_min=dt_min, dt_max=dt_max, dt_init_floor=dt_init_floor, dt_scale=dt_scale,
                                 bias=bias, conv_bias=conv_bias)

    @property
    def supports_step(self) -> bool:
        return self.causal

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, mask)
        return self._run(x, mask, reference=False)

    def reference(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Same block with ``selective_scan_ref`` and the short conv as an explicit sum over taps."""
        self.check_input(x, mask)
        return self._run(x, mask, reference=True)

    def _run(self, x: torch.Tensor, mask: torch.Tensor | None, reference: bool) -> torch.Tensor:
        y = self._one_direction(x, mask, reference)
        if self.reverse is not None:
            flipped_mask = None if mask is None else mask.flip(1)
            y = y + self.reverse._one_direction(x.flip(1), flipped_mask, reference).flip(1)
        return zero_padded(y, mask)

    def _one_direction(self, x: torch.Tensor, mask: torch.Tensor | None, reference: bool) -> torch.Tensor:
        length = x.shape[1]
        cd = compute_dtype(x.dtype)
        xz = zero_padded(self.in_proj(zero_padded(x, mask)), mask).transpose(1, 2)  # (B, 2·E·D, L)
        u, z = xz.chunk(2, dim=1)  # (B, E·D, L) each
        if reference:
            u = depthwise_conv_ref(u, self.conv1d.weight, self.conv1d.bias, left=self.d_conv - 1)
        else:
            u = self.conv1d(u)[..., :length]
        u = F.silu(u)
        dt, B, C = self.x_proj(u.transpose(1, 2)).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.linear(dt, self.dt_proj.weight).transpose(1, 2)  # (B, E·D, L), bias added in the scan
        B, C = B.transpose(1, 2), C.transpose(1, 2)  # (B, N, L)
        if mask is not None:
            u = u * mask.unsqueeze(1).to(u.dtype)  # the conv bias would otherwise feed padding into the state
        scan = selective_scan_ref if reference else selective_scan
        y = scan(u, delta, -torch.exp(self.A_log.to(cd)), B, C, D=self.D.to(cd), z=z,
                 delta_bias=self.dt_proj.bias.to(cd), delta_softplus=True)  # (B, E·D, L), y·SiLU(z)
        return self.out_proj(y.to(x.dtype).transpose(1, 2))

    def init_state(self, batch: int, device: torch.device | None = None, dtype: torch.dtype | None = None):
        """``(conv_buffer (B, E·D, d_conv-1), ssm_state (B, E·D, N))``, zeros; the SSM state is kept in
        float32 (float64 for a float64 model) whatever ``dtype`` is."""
        if not self.causal:
            raise NotImplementedError(f"mixer {self.mixer_name!r} has no step form when bidirectional")
        device = device or self.A_log.device
        dtype = dtype or self.in_proj.weight.dtype
        conv = torch.zeros(batch, self.d_inner, self.d_conv - 1, device=device, dtype=dtype)
        ssm = torch.zeros(batch, self.d_inner, self.d_state, device=device, dtype=compute_dtype(dtype))
        return conv, ssm

    def step(self, x_t: torch.Tensor, state) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """One token: ``x_t`` (B, D) -> ``y_t`` (B, D) and the next state (the recurrence of Alg. 2)."""
        if not self.causal:
            raise NotImplementedError(f"mixer {self.mixer_name!r} has no step form when bidirectional")
        check_step_input(x_t, self.dim, self.mixer_name)
        conv, h = state
        cd = h.dtype
        u, z = self.in_proj(x_t).chunk(2, dim=-1)  # (B, E·D)
        u, conv = depthwise_conv_step(conv, u, self.conv1d.weight, self.conv1d.bias)
        u = F.silu(u)
        dt, B, C = self.x_proj(u).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(F.linear(dt, self.dt_proj.weight).to(cd) + self.dt_proj.bias.to(cd))  # (B, E·D)
        A = -torch.exp(self.A_log.to(cd))
        uf = u.to(cd)
        h = torch.exp(delta.unsqueeze(-1) * A) * h + (delta * uf).unsqueeze(-1) * B.to(cd).unsqueeze(1)
        y = (h * C.to(cd).unsqueeze(1)).sum(-1) + self.D.to(cd) * uf
        y = y * F.silu(z.to(cd))
        return self.out_proj(y.to(x_t.dtype)), (conv, h)
