"""Hyena: gated implicit long convolutions."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from spanmix.backbone.mixers.base import Mixer, check_causal_only, check_positive, check_step_input, zero_padded
from spanmix.backbone.mixers.depthwise import (causal_depthwise_conv, compute_dtype, depthwise_conv_ref,
                                               depthwise_conv_step)
from spanmix.backbone.mixers.hyena_core import hyena_core, long_conv_into
from spanmix.backbone.registry import register_mixer
from spanmix.kernels import fft_conv, fft_conv_ref, fft_size, kernel_spectrum


LAYOUTS = ("paper", "official")
# Without autograd the filters and their spectra are cached while the filter parameters are unchanged, up to
# this many bytes of spectra (at L = 64k, D = 128: 64 MiB per filter; at 1M, 1 GiB: not cached).
SPECTRUM_CACHE_BYTES = 256 * 2**20
_FILTER_ROWS = 1 << 15  # filter taps generated per block without autograd


class HyenaFilter(nn.Module):
    """Implicit long filters h_t = Window(t) · FFN(PositionalEncoding(t)) (Poli et al. 2023, Sec. 3.3).

    Positional features of emb_dim = 1 + 2·bands columns: ``t`` and ``cos(f·w), -sin(f·w)`` with
    ``w = 2π·l / max_len``, ``f = linspace(1e-4, bands-1, bands)`` (the authors' ``PositionalEmbedding``,
    i.e. the real and imaginary parts of exp(-i·f·w)). They are computed here, not stored or learned,
    and in *absolute* positions with a fixed normalisation: ``t = l / (max_len - 1)``, l = 0, 1, ...;
    so tap l is the same function of l whatever sequence length asks for it (a forward at any L and a
    step at position l see the same filter). FFN: Linear(emb_dim -> filter_order), Sin, then two
    Linear(filter_order -> filter_order), Sin, then Linear(filter_order -> channels, no bias); the Sin
    activations share one learnable frequency vector, initialised to ``freq`` (the authors' ``w``: 1 by
    default in their ``HyenaFilter``, 10 in every HyenaDNA config), as in the authors' ``HyenaFilter``.
    Window: ``exp(-t·|δ_c|) + shift`` with per-channel decay rates δ spread linearly between log(1e-2)/1.5 and
    log(1e-2)/0.3 (the authors' ``ExponentialModulation``: at t = 1 = tap max_len-1 channels have
    decayed to between 4.6e-2 and 2e-7 of their start). The rates are fixed (not learned), as there.
    ``shift`` is 0 in the authors' training code (``src/models/sequence/hyena.py``) and 0.05 in their
    standalone/Hugging Face ports (``standalone_hyenadna.py``); 0 by default here.

    Every parameter carries ``_no_weight_decay = True``: the authors train the filter with weight decay 0
    (``wd=0`` of their ``HyenaFilter``, ``wd: 0.0`` in HyenaDNA's configs), and the harness's optimiser rule
    honours the flag.

    ``forward(length, dtype)`` -> (channels, length) in ``dtype`` (the FFN runs in that precision).
    """

    def __init__(self, channels: int, *, emb_dim: int, filter_order: int, max_len: int, inner_layers: int = 2,
                 fast_decay_pct: float = 0.3, slow_decay_pct: float = 1.5, target: float = 1e-2,
                 freq: float = 1.0, shift: float = 0.0):
        super().__init__()
        self.channels, self.emb_dim, self.max_len = channels, emb_dim, max_len
        widths = [emb_dim] + [filter_order] * (inner_layers + 1)
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.linears.append(nn.Linear(filter_order, channels, bias=False))
        self.freq = nn.Parameter(torch.full((filter_order,), float(freq)))  # the shared Sin frequency
        self.shift = float(shift)
        self.decay_range = (math.log(target) / slow_decay_pct, math.log(target) / fast_decay_pct)
        self.bias = nn.Parameter(torch.randn(channels))  # the skip term D of each filter's convolution
        for p in self.parameters():
            p._no_weight_decay = True

    def features(self, length: int, dtype: torch.dtype, device=None, start: int = 0) -> torch.Tensor:
        """(length - start, emb_dim): ``[t, cos(f·w), -sin(f·w)]`` at absolute positions start..length-1."""
        pos = torch.arange(start, length, dtype=dtype, device=device).unsqueeze(-1)
        t = pos / max(self.max_len - 1, 1)
        bands = (self.emb_dim - 1) // 2
        f = torch.linspace(1e-4, bands - 1, bands, dtype=dtype, device=device)
        w = 2 * math.pi * pos / self.max_len
        return torch.cat([t, torch.cos(f * w), -torch.sin(f * w)], dim=-1)

    def window(self, length: int, dtype: torch.dtype, device=None, start: int = 0) -> torch.Tensor:
        """(length - start, channels): ``exp(-t·|δ_c|) + shift`` at positions start..length-1."""
        t = torch.arange(start, length, dtype=dtype, device=device).unsqueeze(-1) / max(self.max_len - 1, 1)
        deltas = torch.linspace(*self.decay_range, self.channels, dtype=dtype, device=device)
        return torch.exp(-t * deltas.abs()) + self.shift

    def forward(self, length: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        if not torch.is_grad_enabled() and length > _FILTER_ROWS:
            # The FFN is position-wise: without autograd run it over row blocks written into the result, so
            # generating a 1M-tap filter holds no (length, filter_order) or (length, channels) temporaries.
            out = torch.empty(self.channels, length, dtype=dtype, device=self.freq.device)
            for r0 in range(0, length, _FILTER_ROWS):
                out[:, r0:r0 + _FILTER_ROWS] = self._rows(r0, min(length, r0 + _FILTER_ROWS), dtype)
            return out
        return self._rows(0, length, dtype)

    def _rows(self, start: int, stop: int, dtype: torch.dtype) -> torch.Tensor:
        """Taps start..stop-1 of the filter: (channels, stop - start)."""
        device = self.freq.device
        h = self.features(stop, dtype, device, start)
        for i, linear in enumerate(self.linears):
            bias = None if linear.bias is None else linear.bias.to(dtype)
            h = F.linear(h, linear.weight.to(dtype), bias)
            if i < len(self.linears) - 1:
                h = torch.sin(self.freq.to(dtype) * h)
        return (h * self.window(stop, dtype, device, start)).transpose(0, 1)


@register_mixer("hyena")
class Hyena(Mixer):
    """Hyena operator (Poli et al., "Hyena Hierarchy: Towards Larger Convolutional Language Models",
    ICML 2023): Sec. 3.1 / Def. 3.1 for the order-N recurrence, Sec. 3.3 for the implicit filters,
    Algorithms 1-3; the filter details follow the authors' ``safari`` implementation (``hyena.py``).

    With N = ``order``::

        x_1, ..., x_N, v = split(short causal depthwise conv(in_proj(u)))   # D -> (N+1)·D, 3 taps
        z = v;  for n = 1..N:  z = x_n ⊙ (h_n * z + bias_n ⊙ z)             # causal long conv, fft_conv
        out = out_proj(z)

    This is the paper's Def. 3.1 (N filters and N gates, convolve then gate), ``layout="paper"``. The
    authors' code (``safari``/``hyena-dna`` ``HyenaOperator``) has N-1 filters; ``layout="official"``
    computes exactly that::

        x_0, ..., x_{N-1}, v = split(short conv(in_proj(u)))
        for o = 0..N-2:  v = h_o * (x_{N-1-o} ⊙ v) + bias_o ⊙ (x_{N-1-o} ⊙ v)     # gate, then convolve
        out = out_proj(x_0 ⊙ v)

    (for order 2: one long filter per layer, the layout of every published HyenaDNA checkpoint). The
    filters come from one ``HyenaFilter`` with N·D (paper) or (N-1)·D (official) channels.

    Filter length: filters are generated at run time for ``min(L, max_len)`` taps, so any L works: a
    longer sequence is convolved with the max_len-tap filter (receptive field max_len), a shorter one
    with the first L taps of it. Because positional features use absolute positions normalised by
    ``max_len`` (not by L), tap l is the same at every L, so outputs at a position do not depend on
    how long the sequence is, and stepping reproduces forward.

    Step ("Hyena as a convolution with a cache"): the state keeps the short-conv buffer and, for each
    filter, the history of that order's convolution inputs (the last ``max_len`` of them), and the
    filters, generated once by ``init_state``; y_t is then computed from the filter taps directly,
    O(N·D·min(t, max_len)) per step (no FFT, no recurrence). ``init_state(..., max_len=T)`` generates
    only T taps for a stream of at most T steps (stepping further is a ValueError); by default it
    generates ``self.max_len`` taps and streams without limit. Regenerate the state after changing
    the parameters.

    Without autograd (``torch.no_grad()``, inference, evaluation) the generated filters and their FFT
    spectra are kept between calls, keyed on the sequence length, dtype and the (storage, version) of every
    filter parameter, so any change to the filter (an optimiser step, ``load_state_dict``) regenerates them;
    spectra above ``SPECTRUM_CACHE_BYTES`` are not kept. The cache is not part of the state dict.

    Fast paths (float32/float64 inputs, dropout inactive; otherwise the plain autograd loop): under autograd the
    recurrence after ``in_proj`` is one autograd function (``hyena_core``) that saves only the projection's
    output and each filter's output and recomputes the rest in a hand-written backward; the filter FFN runs
    under ``torch.utils.checkpoint`` (regenerated in backward, not stored). Without autograd every step
    overwrites the projection's output in place and the filter is generated in blocks of taps. Both are held
    to ``reference()`` (outputs and every gradient) in ``tests/backbone/test_hyena_fast_paths.py``.

    Args:
        dim: width D.
        order: N >= 1 (2; >= 2 for ``layout="official"``).
        layout: ``"paper"`` (N filters, Def. 3.1) or ``"official"`` (N-1 filters, the authors' code).
        filter_order: hidden width of the filter FFN (64).
        emb_dim: positional features, odd >= 3 (3; HyenaDNA uses 5).
        short_filter: taps of the short depthwise conv (3).
        filter_freq: initial frequency of the filter FFN's Sin activations (1; HyenaDNA uses 10).
        filter_shift: added to the filters' decay window (0; the authors' standalone code uses 0.05).
        max_len: filter length cap and position normalisation (2048).
        dropout: after each gate.
        causal: must be True (accepted so that a schedule's ``causal=True`` reaches every mixer); the
            operator is causal, ``causal=False`` is a ValueError.

    Shapes: ``x`` (B, L, D), ``mask`` (B, L) bool -> (B, L, D). Padded positions are zeroed before and
    after the short conv and before every long convolution (they contribute nothing, so right- or
    left-padding gives the unpadded outputs), and on output.
    Cost: O(L·D²·(N+2)) projections, O(N·D·L log L) FFT convolutions, O(min(L, max_len)·filter_order·
    (filter_order + N·D)) to generate the filters; memory O(N·D·L) (N-1 in place of N for the official
    layout's filters and convolutions).
    """

    causal = True

    def __init__(self, dim: int, *, order: int = 2, filter_order: int = 64, emb_dim: int = 3,
                 short_filter: int = 3, max_len: int = 2048, dropout: float = 0.0, causal: bool = True,
                 layout: str = "paper", filter_freq: float = 1.0, filter_shift: float = 0.0):
        super().__init__()
        who = self.mixer_name
        check_causal_only(who, causal, "causal short and long convolutions; there is no non-causal Hyena here")
        check_positive(who, dim=dim, order=order, filter_order=filter_order, short_filter=short_filter,
                       max_len=max_len)
        if emb_dim < 3 or emb_dim % 2 == 0:
            raise ValueError(f"{who}: emb_dim must be odd and >= 3 (t plus cos/sin pairs), got {emb_dim}")
        if layout not in LAYOUTS:
            raise ValueError(f"{who}: layout must be one of {LAYOUTS}, got {layout!r}")
        if layout == "official" and order < 2:
            raise ValueError(f"{who}: layout='official' has order-1 long filters, so order must be >= 2, got {order}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{who}: dropout must be in [0, 1), got {dropout}")
        self.dim, self.order, self.filter_order, self.emb_dim = dim, order, filter_order, emb_dim
        self.short_filter, self.max_len, self.layout = short_filter, max_len, layout
        self.n_filters = order if layout == "paper" else order - 1
        width = (order + 1) * dim
        self.in_proj = nn.Linear(dim, width)
        self.short_conv = nn.Conv1d(width, width, short_filter, groups=width, padding=short_filter - 1)
        self.filter = HyenaFilter(self.n_filters * dim, emb_dim=emb_dim, filter_order=filter_order, max_len=max_len,
                                  freq=filter_freq, shift=filter_shift)
        self.dropout = nn.Dropout(dropout)
        self.out_proj = nn.Linear(dim, dim)
        self._cache: tuple | None = None  # (key, filters, spectra) without autograd; see the class doc

    def _filters_and_spectra(self, length: int, cd: torch.dtype) -> tuple[torch.Tensor, list | None]:
        """The filters (and, without autograd, their spectra, cached while the filter is unchanged)."""
        if torch.is_grad_enabled():
            self._cache = None
            return self.filters(length, cd), None
        key = (length, cd, tuple((p.data_ptr(), p._version, p.dtype) for p in self.filter.parameters()))
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1], self._cache[2]
        k = self.filters(length, cd)
        taps = k.shape[-1]
        nbytes = self.n_filters * self.dim * (fft_size(length, taps) // 2 + 1) * 2 * k.element_size()
        if nbytes > SPECTRUM_CACHE_BYTES:  # too large to keep: neither filters nor spectra are held
            self._cache = None
            return k, None
        spectra = [kernel_spectrum(k[n], length) for n in range(self.n_filters)]
        self._cache = (key, k, spectra)
        return k, spectra

    def filters(self, length: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The long filters for a length-``length`` sequence: (n_filters, D, min(length, max_len))."""
        k = self.filter(min(length, self.max_len), dtype)
        return k.reshape(self.n_filters, self.dim, -1)

    def _gate(self, gates: list[torch.Tensor], n: int) -> torch.Tensor:
        """The gate around filter n: after it (paper) or before it (official, x_{N-1-n})."""
        return gates[n] if self.layout == "paper" else gates[self.order - 1 - n]

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, mask)
        return self._run(x, mask, reference=False)

    def reference(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Same operator with ``fft_conv_ref`` (direct convolution) and an explicit short conv."""
        self.check_input(x, mask)
        return self._run(x, mask, reference=True)

    def _steps(self) -> list[tuple[int | None, int | None]]:
        """(gate before, gate after) each long filter, as ``hyena_core`` takes them."""
        if self.layout == "paper":
            return [(None, n) for n in range(self.n_filters)]
        last = self.n_filters - 1
        return [(self.order - 1 - o, 0 if o == last else None) for o in range(self.n_filters)]

    def _run(self, x: torch.Tensor, mask: torch.Tensor | None, reference: bool) -> torch.Tensor:
        # Activations stay (B, L, channels) as the projections give them; only each long convolution's
        # input and output are seen as (B, D, L) (fft_conv's layout).
        length, cd = x.shape[1], compute_dtype(x.dtype)
        u = zero_padded(self.in_proj(zero_padded(x, mask)), mask)  # (B, L, (N+1)·D)
        fused = not reference and x.dtype == cd and (self.dropout.p == 0 or not self.training)
        if fused and torch.is_grad_enabled():
            return zero_padded(self.out_proj(self._fused_with_grad(u, mask, length, cd)), mask)
        if fused:
            return zero_padded(self.out_proj(self._fused_in_place(u, mask, length, cd)), mask)
        if reference:
            u = depthwise_conv_ref(u.transpose(1, 2), self.short_conv.weight, self.short_conv.bias,
                                   left=self.short_filter - 1).transpose(1, 2)
        else:
            u = causal_depthwise_conv(u, self.short_conv.weight, self.short_conv.bias, inplace=True)
        *gates, z = u.split(self.dim, dim=-1)  # (B, L, D) each
        k, spectra = (self.filters(length, cd), None) if reference else self._filters_and_spectra(length, cd)
        skip = self.filter.bias.to(cd).view(self.n_filters, self.dim)
        keep = None if mask is None else mask.unsqueeze(-1).to(x.dtype)
        paper = self.layout == "paper"
        for n in range(self.n_filters):
            if not paper:
                z = self.dropout(self._gate(gates, n) * z)
            if keep is not None:
                z = z * keep
            zt = z.transpose(1, 2).to(cd)  # (B, D, L) view
            if reference:
                zt = fft_conv_ref(zt, k[n], skip[n])
            else:
                zt = fft_conv(zt, k[n], skip[n], k_spec=None if spectra is None else spectra[n])
            z = zt.to(x.dtype).transpose(1, 2)
            if paper:
                z = self.dropout(gates[n] * z)
        if not paper:
            z = gates[0] * z
        return zero_padded(self.out_proj(z), mask)

    def _fused_with_grad(self, u: torch.Tensor, mask, length: int, cd: torch.dtype) -> torch.Tensor:
        """``hyena_core`` (hand-written backward); the filter is regenerated in backward, not stored."""
        self._cache = None
        k = checkpoint(self.filters, length, cd, use_reentrant=False)
        skip = self.filter.bias.to(cd).view(self.n_filters, self.dim)
        keep = None if mask is None else mask.unsqueeze(-1).to(u.dtype)
        return hyena_core(u, self.short_conv.weight, self.short_conv.bias, k, skip, keep, self._steps(), self.dim)

    def _fused_in_place(self, u: torch.Tensor, mask, length: int, cd: torch.dtype) -> torch.Tensor:
        """Without autograd: every step overwrites the projection's output (no new (B, L, D) activation)."""
        u = causal_depthwise_conv(u, self.short_conv.weight, self.short_conv.bias, inplace=True)
        *gates, z = u.split(self.dim, dim=-1)
        k, spectra = self._filters_and_spectra(length, cd)
        skip = self.filter.bias.to(cd).view(self.n_filters, self.dim)
        keep = None if mask is None else mask.unsqueeze(-1).to(u.dtype)
        n = fft_size(length, k.shape[-1])
        for i, (pre, post) in enumerate(self._steps()):
            if pre is not None:
                z.mul_(gates[pre])
            if keep is not None:
                z.mul_(keep)
            long_conv_into(z, z, k[i], skip[i], n, None if spectra is None else spectra[i])
            if post is not None:
                z.mul_(gates[post])
        return z

    def init_state(self, batch: int, device: torch.device | None = None, dtype: torch.dtype | None = None,
                   max_len: int | None = None) -> dict:
        """Zero buffers and the filters for ``min(max_len, self.max_len)`` taps (see the class doc)."""
        if max_len is not None:
            check_positive(f"{self.mixer_name}.init_state", max_len=max_len)
        weight = self.in_proj.weight
        device, dtype = device or weight.device, dtype or weight.dtype
        cd = compute_dtype(dtype)
        taps = self.max_len if max_len is None else min(max_len, self.max_len)
        width = (self.order + 1) * self.dim
        return {
            "t": 0,
            "limit": max_len,
            "conv": torch.zeros(batch, width, self.short_filter - 1, device=device, dtype=dtype),
            "history": torch.zeros(self.n_filters, batch, self.dim, 0, device=device, dtype=cd),
            "filters": self.filters(taps, cd).to(device),
        }

    def step(self, x_t: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        """One token: ``x_t`` (B, D) -> ``y_t`` (B, D); each order's cached inputs meet the filter taps."""
        check_step_input(x_t, self.dim, self.mixer_name)
        t, limit, filters = state["t"], state["limit"], state["filters"]
        if limit is not None and t >= limit:
            raise ValueError(f"{self.mixer_name}.step: this state was made for max_len={limit} steps; "
                             "call init_state with a larger max_len (or None)")
        cd, taps = filters.dtype, filters.shape[-1]
        u, conv = depthwise_conv_step(state["conv"], self.in_proj(x_t), self.short_conv.weight,
                                      self.short_conv.bias)
        *gates, z = u.split(self.dim, dim=-1)
        skip = self.filter.bias.to(cd).view(self.n_filters, self.dim)
        paper = self.layout == "paper"
        history = []
        for n in range(self.n_filters):
            if not paper:
                z = self.dropout(self._gate(gates, n) * z)
            zf = z.to(cd)
            past = torch.cat([state["history"][n], zf.unsqueeze(-1)], dim=-1)[..., -taps:]  # (B, D, T)
            y = (past * filters[n, :, :past.shape[-1]].flip(-1)).sum(-1) + skip[n] * zf
            history.append(past)
            z = self.dropout(gates[n] * y.to(x_t.dtype)) if paper else y.to(x_t.dtype)
        if not paper:
            z = gates[0] * z
        state = {"t": t + 1, "limit": limit, "conv": conv, "history": torch.stack(history),
                 "filters": filters}
        return self.out_proj(z), state
