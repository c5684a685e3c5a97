"""Positional and time encodings for ``(B, L, D)`` sequences and ``(B, H, L, d)`` attention heads.

- ``SinusoidalPositionalEncoding``: fixed sin/cos table added to the input (Vaswani et al. 2017).
- ``LearnedPositionalEmbedding``: a trained ``(max_len, D)`` table added to the input.
- ``RotaryEmbedding`` / ``apply_rotary``: rotary position embedding of queries and keys (Su et al. 2021).
- ``Time2Vec``: learnable linear + periodic features of a real-valued time (Kazemi et al. 2019).

The additive encodings take ``offset`` (the position of the first token, for streaming: feeding a
sequence chunk by chunk with the running offset gives exactly the encoding of the whole sequence) or
explicit ``positions``.
"""
from __future__ import annotations

import numbers

import torch
from torch import nn

__all__ = [
    "LearnedPositionalEmbedding",
    "RotaryEmbedding",
    "SinusoidalPositionalEncoding",
    "Time2Vec",
    "apply_rotary",
    "sinusoidal_encoding",
]


# ----------------------------------------------------------------------------------------------- helpers
def _check_int(who: str, name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{who}: {name} must be an integer >= {minimum}, got {value!r}")


def _check_offset(who: str, offset) -> int:
    if isinstance(offset, torch.Tensor) and offset.numel() == 1 and not offset.is_floating_point():
        offset = int(offset.item())
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"{who}: offset must be an integer >= 0, got {offset!r}")
    return offset


def _check_sequence(who: str, x: torch.Tensor, dim: int) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[-1] != dim:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{who}: expected input of shape (batch, length, {dim}), got {shape}")


def _check_positions(who: str, positions: torch.Tensor, batch: int, length: int) -> None:
    if not isinstance(positions, torch.Tensor) or positions.shape not in ((length,), (batch, length)):
        shape = tuple(positions.shape) if isinstance(positions, torch.Tensor) else type(positions).__name__
        raise ValueError(
            f"{who}: positions must have shape (length,) = ({length},) or (batch, length) = "
            f"({batch}, {length}), got {shape}"
        )


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Angles and rotations are computed in float32 at least (half precision loses the phase)."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def sinusoidal_encoding(positions: torch.Tensor, dim: int, base: float = 10000.0) -> torch.Tensor:
    """The sinusoidal encoding of Vaswani et al. (2017) at arbitrary (possibly fractional) positions.

    ``positions`` of any shape ``S`` gives ``(*S, dim)`` with, for ``i = 0 .. ceil(dim / 2) - 1``,

        PE[..., 2i]     = sin(pos / base ** (2i / dim))
        PE[..., 2i + 1] = cos(pos / base ** (2i / dim))

    (interleaved as in the paper; an odd ``dim`` drops the last cosine column). The result is float32,
    or float64 for float64 positions.
    """
    _check_int("sinusoidal_encoding", "dim", dim, 1)
    dtype = _compute_dtype(positions.dtype)
    half = (dim + 1) // 2
    inv_freq = base ** (-torch.arange(half, device=positions.device, dtype=dtype) * 2.0 / dim)
    angles = positions.to(dtype).unsqueeze(-1) * inv_freq  # (*S, half)
    pe = torch.stack((angles.sin(), angles.cos()), dim=-1).flatten(-2)  # sin, cos interleaved
    return pe[..., :dim]


# ------------------------------------------------------------------------------------------- sinusoidal
class SinusoidalPositionalEncoding(nn.Module):
    """Fixed sinusoidal positional encoding (Vaswani et al., "Attention Is All You Need", NeurIPS 2017).

    ``forward(x, offset=0, positions=None)``: ``x`` ``(B, L, D)`` -> ``x + PE`` ``(B, L, D)``, where
    ``PE[l] = sinusoidal_encoding(offset + l, D)`` (see ``sinusoidal_encoding`` for the formula). With
    ``positions`` (``(L,)`` or ``(B, L)``, integer or real, e.g. irregular time stamps) the encoding is
    taken at those positions instead and ``offset`` must stay 0.

    There is no parameter. Integer positions are served from a table that is computed on the fly and
    grows (to the next power of two) as longer sequences arrive, so any length works; ``max_len``, when
    given, is an explicit upper bound on ``offset + L`` (a ValueError beyond it), not a requirement.
    Streaming: ``forward(x[:, :a])`` then ``forward(x[:, a:], offset=a)`` equals ``forward(x)``.
    """

    def __init__(self, dim: int, max_len: int | None = None, base: float = 10000.0):
        super().__init__()
        _check_int("SinusoidalPositionalEncoding", "dim", dim, 1)
        if max_len is not None:
            _check_int("SinusoidalPositionalEncoding", "max_len", max_len, 1)
        if not base > 1:
            raise ValueError(f"SinusoidalPositionalEncoding: base must be > 1, got {base!r}")
        self.dim, self.max_len, self.base = dim, max_len, float(base)
        self.register_buffer("_table", torch.zeros(0, dim), persistent=False)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, max_len={self.max_len}, base={self.base:g}"

    def table(self, length: int, offset: int = 0) -> torch.Tensor:
        """The encoding of positions ``offset .. offset + length - 1``: ``(length, dim)`` float32."""
        offset = _check_offset("SinusoidalPositionalEncoding", offset)
        end = offset + length
        if self.max_len is not None and end > self.max_len:
            raise ValueError(
                f"SinusoidalPositionalEncoding: positions up to offset + length = {offset} + {length} = "
                f"{end} exceed max_len={self.max_len}"
            )
        if end > self._table.shape[0]:
            size = 1 << max(end - 1, 1).bit_length()  # next power of two >= end
            if self.max_len is not None:
                size = min(size, self.max_len)
            # float64 on the CPU, then float32: exact phases even for long positions.
            table = sinusoidal_encoding(torch.arange(size, dtype=torch.float64), self.dim, self.base)
            self._table = table.to(device=self._table.device, dtype=torch.float32)
        return self._table[offset:end]

    def forward(
        self, x: torch.Tensor, offset: int = 0, positions: torch.Tensor | None = None
    ) -> torch.Tensor:
        _check_sequence("SinusoidalPositionalEncoding", x, self.dim)
        batch, length, _ = x.shape
        if positions is not None:
            _check_positions("SinusoidalPositionalEncoding", positions, batch, length)
            if _check_offset("SinusoidalPositionalEncoding", offset) != 0:
                raise ValueError("SinusoidalPositionalEncoding: give either offset or positions, not both")
            pe = sinusoidal_encoding(positions.to(x.device), self.dim, self.base)
        else:
            pe = self.table(length, offset)
        return x + pe.to(device=x.device, dtype=x.dtype)


# ---------------------------------------------------------------------------------------------- learned
class LearnedPositionalEmbedding(nn.Module):
    """Learned absolute positional embedding (as in BERT / GPT): a trained table added to the input.

    Parameter ``weight`` ``(max_len, D)``, initialised N(0, 0.02^2).
    ``forward(x, offset=0, positions=None)``: ``x`` ``(B, L, D)`` -> ``x + weight[offset : offset + L]``
    ``(B, L, D)``; or ``x + weight[positions]`` with integer ``positions`` ``(L,)`` or ``(B, L)``.
    A position outside ``[0, max_len)`` raises a ValueError (the table cannot extrapolate).
    """

    def __init__(self, dim: int, max_len: int, init_std: float = 0.02):
        super().__init__()
        _check_int("LearnedPositionalEmbedding", "dim", dim, 1)
        _check_int("LearnedPositionalEmbedding", "max_len", max_len, 1)
        self.dim, self.max_len, self.init_std = dim, max_len, init_std
        self.weight = nn.Parameter(torch.empty(max_len, dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.weight, std=self.init_std)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, max_len={self.max_len}"

    def forward(
        self, x: torch.Tensor, offset: int = 0, positions: torch.Tensor | None = None
    ) -> torch.Tensor:
        _check_sequence("LearnedPositionalEmbedding", x, self.dim)
        batch, length, _ = x.shape
        offset = _check_offset("LearnedPositionalEmbedding", offset)
        if positions is not None:
            _check_positions("LearnedPositionalEmbedding", positions, batch, length)
            if offset != 0:
                raise ValueError("LearnedPositionalEmbedding: give either offset or positions, not both")
            if positions.is_floating_point() or positions.is_complex():
                raise ValueError(
                    f"LearnedPositionalEmbedding: positions must be integers, got {positions.dtype}"
                )
            if positions.numel() and (int(positions.min()) < 0 or int(positions.max()) >= self.max_len):
                raise ValueError(
                    f"LearnedPositionalEmbedding: positions must lie in [0, max_len={self.max_len}), got "
                    f"[{int(positions.min())}, {int(positions.max())}]"
                )
            return x + self.weight[positions.to(self.weight.device).long()].to(x.dtype)
        if offset + length > self.max_len:
            raise ValueError(
                f"LearnedPositionalEmbedding: offset + length = {offset} + {length} = {offset + length} "
                f"exceeds max_len={self.max_len}; build it with a larger max_len or use a sinusoidal or "
                "rotary encoding"
            )
        return x + self.weight[offset : offset + length].to(x.dtype)


# ----------------------------------------------------------------------------------------------- rotary
def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate consecutive channel pairs of ``x`` by the angles whose cosines and sines are given.

    ``x`` ``(..., L, d)`` with ``d`` even; ``cos``, ``sin`` ``(..., L, d / 2)`` broadcastable against
    ``x[..., ::2]`` (typically ``(L, d / 2)`` from ``RotaryEmbedding.cos_sin``). Pair ``i`` =
    ``(x[..., 2i], x[..., 2i + 1])`` becomes

        (x_2i * cos_i - x_2i+1 * sin_i,  x_2i * sin_i + x_2i+1 * cos_i),

    the interleaved layout of RoFormer (Su et al. 2021, eq. 34). Returns ``x``'s shape and dtype; half
    precision inputs are rotated in float32.
    """
    if x.shape[-1] % 2:
        raise ValueError(f"apply_rotary: the last dimension must be even, got {tuple(x.shape)}")
    half = x.shape[-1] // 2
    if cos.shape[-1] != half or sin.shape[-1] != half:
        raise ValueError(
            f"apply_rotary: cos and sin need last dimension d / 2 = {half}, got {tuple(cos.shape)} and "
            f"{tuple(sin.shape)}"
        )
    dtype = _compute_dtype(x.dtype)
    pairs = x.to(dtype).unflatten(-1, (half, 2))
    x1, x2 = pairs[..., 0], pairs[..., 1]
    cos, sin = cos.to(dtype), sin.to(dtype)
    out = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)
    return out.to(x.dtype)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding, RoPE (Su et al., "RoFormer: Enhanced Transformer with Rotary Position
    Embedding", 2021).

    ``forward(q, k, offset=0, k_offset=None) -> (q_rot, k_rot)``: ``q`` ``(B, H, Lq, d)``, ``k``
    ``(B, H, Lk, d)`` (``d = head_dim``, even). Token ``l`` of ``q`` sits at position ``offset + l`` and
    token ``l`` of ``k`` at ``k_offset + l`` (``k_offset`` defaults to ``offset``; with a key cache that
    holds the whole past, pass ``k_offset=0``). Channel pair ``i`` at position ``m`` is rotated by the
    angle ``m * theta_i``, ``theta_i = base ** (-2i / d)`` (see ``apply_rotary`` for the pair layout), so
    ``<rope(q)_m, rope(k)_n>`` depends on ``m - n`` only, and rotation preserves norms. No parameter;
    the cos/sin table is computed on the fly and grows with the longest position seen.
    """

    def __init__(self, head_dim: int, base: float = 10000.0):
        super().__init__()
        _check_int("RotaryEmbedding", "head_dim", head_dim, 2)
        if head_dim % 2:
            raise ValueError(
                f"RotaryEmbedding: head_dim must be even (channels rotate in pairs), got {head_dim}"
            )
        if not base > 1:
            raise ValueError(f"RotaryEmbedding: base must be > 1, got {base!r}")
        self.head_dim, self.base = head_dim, float(base)
        self.register_buffer("_cos", torch.zeros(0, head_dim // 2), persistent=False)
        self.register_buffer("_sin", torch.zeros(0, head_dim // 2), persistent=False)

    def extra_repr(self) -> str:
        return f"head_dim={self.head_dim}, base={self.base:g}"

    def cos_sin(self, length: int, offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin of the angles of positions ``offset .. offset + length - 1``, each (length, d/2)."""
        offset = _check_offset("RotaryEmbedding", offset)
        end = offset + length
        # Module.to(bfloat16) also casts these buffers; rebuild them so angles keep float32 precision.
        if end > self._cos.shape[0] or self._cos.dtype != torch.float32:
            size = 1 << max(end - 1, 1).bit_length()
            # float64 on the CPU, then float32: exact angles even for long positions.
            exponents = torch.arange(self.head_dim // 2, dtype=torch.float64) * 2.0 / self.head_dim
            inv_freq = self.base ** (-exponents)
            angles = torch.arange(size, dtype=torch.float64)[:, None] * inv_freq
            device = self._cos.device
            self._cos = angles.cos().to(device=device, dtype=torch.float32)
            self._sin = angles.sin().to(device=device, dtype=torch.float32)
        return self._cos[offset:end], self._sin[offset:end]

    def _check(self, name: str, t: torch.Tensor) -> None:
        if not isinstance(t, torch.Tensor) or t.dim() != 4 or t.shape[-1] != self.head_dim:
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(
                f"RotaryEmbedding: expected {name} of shape (batch, heads, length, {self.head_dim}), "
                f"got {shape}"
            )

    def rotate(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """Rotate one tensor ``(..., L, head_dim)`` whose token ``l`` sits at position ``offset + l``."""
        cos, sin = self.cos_sin(x.shape[-2], offset)
        return apply_rotary(x, cos.to(x.device), sin.to(x.device))

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, offset: int = 0, k_offset: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self._check("q", q)
        self._check("k", k)
        k_offset = offset if k_offset is None else k_offset
        return self.rotate(q, offset), self.rotate(k, k_offset)


# --------------------------------------------------------------------------------------------- time2vec
class Time2Vec(nn.Module):
    """Time2Vec (Kazemi et al., "Time2Vec: Learning a Vector Representation of Time", 2019).

    For a scalar time ``tau`` the paper's representation has ``k + 1`` entries:

        t2v(tau)[0] = w_0 * tau + phi_0                 (linear, non-periodic)
        t2v(tau)[i] = sin(w_i * tau + phi_i),  i = 1..k (periodic, period 2 pi / w_i)

    with learnable frequencies ``w`` and phases ``phi``.

    Multi-feature form (``in_features = F``): each of the ``F`` input features gets its *own*
    ``w_0, phi_0, w_1..k, phi_1..k`` (no mixing across features), and the ``F`` blocks of ``k + 1`` are
    concatenated feature by feature:

        out[..., f * (k + 1) + 0] = w0[f] * tau[..., f] + phi0[f]
        out[..., f * (k + 1) + i] = sin(w[f, i-1] * tau[..., f] + phi[f, i-1])

    Shapes: ``tau`` ``(B, L, F)`` -> ``(B, L, F * (k + 1))``; with ``in_features == 1``, ``tau`` may also
    be ``(B, L)`` -> ``(B, L, k + 1)``. Parameters: ``w0``, ``phi0`` ``(F,)``; ``w``, ``phi`` ``(F, k)``,
    all initialised N(0, 1). ``k = 0`` keeps only the linear term.
    """

    def __init__(self, in_features: int, k: int):
        super().__init__()
        _check_int("Time2Vec", "in_features", in_features, 1)
        _check_int("Time2Vec", "k", k, 0)
        self.in_features, self.k = in_features, k
        self.w0 = nn.Parameter(torch.empty(in_features))
        self.phi0 = nn.Parameter(torch.empty(in_features))
        self.w = nn.Parameter(torch.empty(in_features, k))
        self.phi = nn.Parameter(torch.empty(in_features, k))
        self.reset_parameters()

    @property
    def out_features(self) -> int:
        return self.in_features * (self.k + 1)

    def reset_parameters(self) -> None:
        for p in (self.w0, self.phi0, self.w, self.phi):
            nn.init.normal_(p)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, k={self.k}, out_features={self.out_features}"

    def forward(self, tau: torch.Tensor) -> torch.Tensor:
        if not isinstance(tau, torch.Tensor):
            raise ValueError(f"Time2Vec: expected a tensor, got {type(tau).__name__}")
        if tau.dim() == 2 and self.in_features == 1:
            tau = tau.unsqueeze(-1)
        if tau.dim() != 3 or tau.shape[-1] != self.in_features:
            expected = f"(batch, length, {self.in_features})"
            if self.in_features == 1:
                expected += " or (batch, length)"
            raise ValueError(f"Time2Vec: expected tau of shape {expected}, got {tuple(tau.shape)}")
        if not tau.is_floating_point():
            tau = tau.to(self.w.dtype)
        linear = tau * self.w0 + self.phi0  # (B, L, F)
        periodic = torch.sin(tau.unsqueeze(-1) * self.w + self.phi)  # (B, L, F, k)
        out = torch.cat((linear.unsqueeze(-1), periodic), dim=-1)  # (B, L, F, k + 1)
        return out.flatten(-2)
