"""Informer's ProbSparse self-attention: full attention for the top-u "active" queries only."""
from __future__ import annotations

import math

import torch

from spanmix.backbone.mixers.multihead import (
    AttentionMixer,
    check_int_option,
    explicit_attention,
    sdpa_attention,
    visibility_mask,
)
from spanmix.backbone.registry import register_mixer

__all__ = [
    "LAZY_CAUSAL",
    "MEASURES",
    "ProbSparseAttention",
    "probsparse_attention",
    "probsparse_attention_ref",
    "probsparse_counts",
    "sample_key_indices",
    "sparsity_measure",
]

MEASURES = ("mean", "informer")
LAZY_CAUSAL = ("cumsum", "cummean")


# ------------------------------------------------------------------------------------------- the pieces
def probsparse_counts(L_Q: int, L_K: int, factor: int) -> tuple[int, int]:
    """``(u, U_part)``: active queries ``min(c·ceil(ln L_Q), L_Q)`` and keys sampled per query
    ``min(c·ceil(ln L_K), L_K)``, each at least 1 (Informer's code gives 0 for a length of 1)."""
    u = min(max(1, factor * math.ceil(math.log(L_Q))), L_Q)
    n = min(max(1, factor * math.ceil(math.log(L_K))), L_K)
    return u, n


def sample_key_indices(L_Q: int, L_K: int, n: int, generator: torch.Generator | None = None,
                       device: torch.device | None = None) -> torch.Tensor:
    """``(L_Q, n)`` key indices drawn uniformly with replacement, the same for every batch element and
    head (as ``torch.randint(L_K, (L_Q, n))`` in Informer's ``_prob_QK``).

    Drawn on the generator's device (the CPU default RNG when ``generator`` is None, so
    ``torch.manual_seed`` makes it reproducible whatever the tensors' device), then moved to ``device``.
    The one place both ``probsparse_attention`` and its reference draw from: the same generator state
    gives the same samples.
    """
    gen_device = generator.device if generator is not None else torch.device("cpu")
    index = torch.randint(L_K, (L_Q, n), generator=generator, device=gen_device)
    return index if device is None else index.to(device)


def sparsity_measure(q: torch.Tensor, k: torch.Tensor, index: torch.Tensor, *, scale: float | None = None,
                     key_padding_mask: torch.Tensor | None = None, measure: str = "informer") -> torch.Tensor:
    """Sampled query sparsity ``M(q_i, K)`` (Informer, sec. 3.1, eq. 4): ``(B, H, L_Q)`` float32.

    ``s_ij = q_i·k_j·scale`` for the sampled keys ``j = index[i, :]``;
    ``measure="informer"`` (default): ``M_i = max_j s_ij - (sum_j s_ij) / L_K`` -- eq. 4's divisor, the key
    length, with the sum taken over the sample, as Informer's ``_prob_QK`` (both official repositories);
    ``measure="mean"``: ``M_i = max_j s_ij - mean_j s_ij`` (the sample mean, an unbiased estimate of eq. 4's
    mean over all keys).
    Padded keys (``key_padding_mask`` False) are left out of the sample; a query with no real sampled
    key gets ``M = 0`` (the floor of the "mean" measure).
    """
    d = q.shape[-1]
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    L_K = k.shape[-2]
    B, H, L_Q = q.shape[:3]
    n = index.shape[-1]
    if L_K <= n * d:  # every score in one matmul (L_Q·L_K values) is cheaper than gathering L_Q·n keys of d
        s_all = torch.matmul(q.float(), k.float().transpose(-1, -2))  # (B, H, L_Q, L_K)
        s = s_all.gather(-1, index[None, None].expand(B, H, L_Q, n)) * scale
    else:
        k_s = k[:, :, index]  # (B, H, L_Q, n, d)
        s = torch.einsum("bhqd,bhqnd->bhqn", q.float(), k_s.float()) * scale
    if key_padding_mask is None:
        mx, total = s.amax(-1), s.sum(-1)
        count = torch.full_like(total, index.shape[-1])
    else:
        valid = key_padding_mask[:, index][:, None]  # (B, 1, L_Q, n)
        mx = s.masked_fill(~valid, float("-inf")).amax(-1)
        total = (s * valid).sum(-1)
        count = valid.sum(-1).to(s.dtype).expand_as(total)
    if measure == "mean":
        M = mx - total / count.clamp(min=1)
    else:
        M = mx - total / L_K
    return torch.where(count > 0, M, torch.zeros((), dtype=M.dtype, device=M.device))


def _lazy_context(v: torch.Tensor, L_Q: int, causal: bool, key_padding_mask: torch.Tensor | None,
                  lazy_causal: str) -> torch.Tensor:
    """Output of the lazy queries ``(B, H, L_Q, d)`` in fp32 (for half inputs): mean of the real values
    (non-causal), or their running sum / running mean (causal)."""
    work = torch.float32 if v.dtype in (torch.float16, torch.bfloat16) else v.dtype
    vw = v.to(work)
    if key_padding_mask is not None:
        keep = key_padding_mask[:, None, :, None].to(work)  # (B, 1, L, 1)
        vw = vw * keep
        count = keep
    else:
        count = torch.ones(1, 1, v.shape[-2], 1, dtype=work, device=v.device)
    if not causal:
        n = count.sum(-2, keepdim=True)
        mean = vw.sum(-2, keepdim=True) / n.clamp(min=1)
        return mean.expand(-1, -1, L_Q, -1)
    ctx = vw.cumsum(-2)
    if lazy_causal == "cummean":
        ctx = ctx / count.cumsum(-2).clamp(min=1)
    return ctx


def _check_attention_inputs(q, k, v, factor, causal, key_padding_mask, query_padding_mask, measure,
                            lazy_causal) -> None:
    who = "probsparse_attention"
    check_int_option(who, "factor", factor, 1)
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor) or t.dim() != 4:
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"{who}: {name} must have shape (B, H, L, d), got {shape}")
    B, H, L_Q, d = q.shape
    if k.shape[:2] != (B, H) or k.shape[-1] != d or v.shape[:3] != k.shape[:3]:
        raise ValueError(f"{who}: expected q (B, H, L_Q, d), k (B, H, L_K, d), v (B, H, L_K, d_v), got "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    L_K = k.shape[2]
    if L_Q < 1 or L_K < 1:
        raise ValueError(f"{who}: sequence lengths must be >= 1, got L_Q={L_Q}, L_K={L_K}")
    if causal and L_Q != L_K:
        raise ValueError(f"{who}: causal (masked) ProbSparse attention is self-attention, needs L_Q == L_K, "
                         f"got {L_Q} and {L_K}")
    for name, m, L in (("key_padding_mask", key_padding_mask, L_K),
                       ("query_padding_mask", query_padding_mask, L_Q)):
        bad = not isinstance(m, torch.Tensor) or m.dtype != torch.bool or tuple(m.shape) != (B, L)
        if m is not None and bad:
            raise ValueError(f"{who}: {name} must be a bool tensor of shape ({B}, {L})")
    if measure not in MEASURES:
        raise ValueError(f"{who}: measure must be one of {MEASURES}, got {measure!r}")
    if lazy_causal not in LAZY_CAUSAL:
        raise ValueError(f"{who}: lazy_causal must be one of {LAZY_CAUSAL}, got {lazy_causal!r}")


# ----------------------------------------------------------------------------------- the functional core
def probsparse_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    factor: int = 5,
    causal: bool = False,
    generator: torch.Generator | None = None,
    key_padding_mask: torch.Tensor | None = None,
    *,
    query_padding_mask: torch.Tensor | None = None,
    scale: float | None = None,
    measure: str = "informer",
    lazy_causal: str = "cumsum",
    return_index: bool = False,
):
    """ProbSparse attention (Zhou et al., "Informer", AAAI 2021, sec. 3.1) on ``(B, H, L, d)`` tensors.

    1. ``u, U_part = probsparse_counts(L_Q, L_K, factor)``. If ``u >= L_Q`` every query is active:
       exact (masked) attention, computed as ``full`` computes it, and nothing is sampled.
    2. Draw ``U_part`` key indices per query (``sample_key_indices``; shared by batch and heads) and
       score each query by ``sparsity_measure`` (``measure``: see there).
    3. The top-``u`` queries per (batch, head) attend to all keys (causal: keys ``j <= i``).
    4. The lazy queries get ``mean(V)`` (non-causal) or, causal, ``cumsum(V)`` — the running *sum*, as
       Informer's ``_get_initial_context`` has it — or with ``lazy_causal="cummean"`` the running mean.

    Args:
        q: ``(B, H, L_Q, d)``; k: ``(B, H, L_K, d)``; v: ``(B, H, L_K, d_v)``. ``L_Q != L_K`` (cross
            attention) is allowed when not causal.
        factor: c >= 1.
        causal: masked self-attention (``L_Q == L_K``).
        generator: the RNG of the key sampling (default: the CPU global RNG).
        key_padding_mask: ``(B, L_K)`` bool, True = real key; padded keys are neither sampled into ``M``
            nor attended to nor averaged into the lazy output.
        query_padding_mask: ``(B, L_Q)`` bool; padded queries are never ranked above real ones, so the
            selection of real queries does not depend on padded content.
        scale: score scale, default ``1 / sqrt(d)``.
        measure, lazy_causal: see above and ``sparsity_measure``.
        return_index: also return the ``(B, H, u)`` active query indices (None when all are active).

    Returns: ``(B, H, L_Q, d_v)`` in q's dtype (and the index, with ``return_index``). A query that sees
    no real key gives zeros.
    Cost: O((L_Q·U_part + u·L_K)·d) = O(L log L · d) time and memory.
    Causality: values never flow from the future, but the *choice* of active queries ranks all queries
    on keys sampled from the whole sequence, so a future token can change which past queries are
    active; causal here is Informer's masking, not strict causality (no gradient crosses the choice).
    """
    _check_attention_inputs(q, k, v, factor, causal, key_padding_mask, query_padding_mask, measure,
                            lazy_causal)
    L_Q, d, L_K = q.shape[2], q.shape[3], k.shape[2]
    u, n = probsparse_counts(L_Q, L_K, factor)
    if u >= L_Q:
        out = sdpa_attention(q, k, v, causal=causal, key_padding_mask=key_padding_mask, scale=scale)
        return (out, None) if return_index else out

    index = sample_key_indices(L_Q, L_K, n, generator, q.device)
    with torch.no_grad():  # M only picks the active queries (top-k indices): no gradient flows through it
        M = sparsity_measure(q, k, index, scale=scale, key_padding_mask=key_padding_mask, measure=measure)
    if query_padding_mask is not None:
        M = M.masked_fill(~query_padding_mask[:, None, :], float("-inf"))
    top = M.topk(u, dim=-1, sorted=False).indices  # (B, H, u)

    q_top = q.gather(2, top[..., None].expand(-1, -1, -1, d))
    visible = None
    if causal:
        visible = torch.arange(L_K, device=q.device) <= top[..., None]  # (B, H, u, L_K)
    if key_padding_mask is not None:
        keys = key_padding_mask[:, None, None, :]
        visible = keys if visible is None else visible & keys
    out_top = sdpa_attention(q_top, k, v, mask=visible, scale=scale)  # (B, H, u, d_v)

    context = _lazy_context(v, L_Q, causal, key_padding_mask, lazy_causal).to(q.dtype)
    out = context.scatter(2, top[..., None].expand(-1, -1, -1, v.shape[-1]), out_top)
    return (out, top) if return_index else out


def probsparse_attention_ref(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    factor: int = 5,
    causal: bool = False,
    generator: torch.Generator | None = None,
    key_padding_mask: torch.Tensor | None = None,
    *,
    query_padding_mask: torch.Tensor | None = None,
    scale: float | None = None,
    measure: str = "informer",
    lazy_causal: str = "cumsum",
) -> torch.Tensor:
    """Slow twin of ``probsparse_attention``: loops over batch, head and query, in fp32.

    Draws its samples through the same ``sample_key_indices`` call, so with the same generator state it
    uses the same samples and must give the same result.
    """
    _check_attention_inputs(q, k, v, factor, causal, key_padding_mask, query_padding_mask, measure,
                            lazy_causal)
    B, H, L_Q, d = q.shape
    L_K = k.shape[2]
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    u, n = probsparse_counts(L_Q, L_K, factor)
    if u >= L_Q:
        visible = visibility_mask(L_Q, L_K, causal=causal, key_padding_mask=key_padding_mask,
                                  device=q.device)
        return explicit_attention(q, k, v, visible, scale)

    index = sample_key_indices(L_Q, L_K, n, generator).tolist()
    qf, kf, vf = q.float(), k.float(), v.float()
    real_key = [[True] * L_K for _ in range(B)] if key_padding_mask is None else key_padding_mask.tolist()
    real_query = ([[True] * L_Q for _ in range(B)] if query_padding_mask is None
                  else query_padding_mask.tolist())
    zero = torch.zeros(v.shape[-1], device=v.device)
    rows_b = []
    for b in range(B):
        rows_h = []
        for h in range(H):
            M = []
            for i in range(L_Q):
                if not real_query[b][i]:
                    M.append(torch.tensor(float("-inf"), device=q.device))
                    continue
                sample = [j for j in index[i] if real_key[b][j]]
                if not sample:
                    M.append(torch.tensor(0.0, device=q.device))
                    continue
                s = (kf[b, h, sample] @ qf[b, h, i]) * scale  # one score per sampled key
                M.append(s.max() - (s.mean() if measure == "mean" else s.sum() / L_K))
            active = set(torch.stack(M).topk(u).indices.tolist())
            rows = []
            for i in range(L_Q):
                keys = [j for j in range(L_K) if real_key[b][j] and (not causal or j <= i)]
                if not keys:
                    rows.append(zero)
                elif i in active:
                    scores = (kf[b, h, keys] @ qf[b, h, i]) * scale
                    rows.append(torch.softmax(scores, 0) @ vf[b, h, keys])
                elif not causal:
                    rows.append(vf[b, h, keys].mean(0))
                else:
                    total = vf[b, h, keys].sum(0)
                    rows.append(total / len(keys) if lazy_causal == "cummean" else total)
            rows_h.append(torch.stack(rows))
        rows_b.append(torch.stack(rows_h))
    return torch.stack(rows_b).to(q.dtype)


# --------------------------------------------------------------------------------------------- the mixer
@register_mixer("probsparse")
class ProbSparseAttention(AttentionMixer):
    """ProbSparse self-attention of Informer (Zhou et al., "Informer: Beyond Efficient Transformer for
    Long Sequence Time-Series Forecasting", AAAI 2021, sec. 3.1), as a token mixer.

    Multi-head attention (projections as ``full``) whose core is ``probsparse_attention``: only the
    ``u = c·ceil(ln L)`` queries with the largest sampled sparsity measure ``M`` attend; the others get
    ``mean(V)`` or, causal, Informer's ``cumsum(V)``. For ``u >= L`` (short sequences) it is exactly
    ``full`` attention.

    Args:
        dim, heads, causal, dropout, bias, rope, rope_base: as for ``full``. ``causal`` is Informer's
            masked decoder self-attention: see "Causality" below.
        factor: c >= 1 (Informer's default 5).
        measure: ``"informer"`` (default; Informer's ``max - sum / L_K`` over the sampled keys) or
            ``"mean"`` (``max - mean`` over the sampled keys).
        lazy_causal: lazy queries of the causal form, ``"cumsum"`` (default; the official code:
            running sum of V, growing with the position) or ``"cummean"`` (running mean; the
            mathematically natural causal analogue of ``mean(V)``).
        seed: sampling seed used in eval mode (see "Sampling"); None = always the global RNG.

    Sampling: keys are drawn with replacement, one draw shared by batch and heads (as in the official
    code). The RNG is, in order: the ``generator`` argument of ``forward`` / ``reference``; in eval mode
    a fresh ``torch.Generator().manual_seed(seed)`` per call, so inference is deterministic (a
    departure: the official code samples at random in eval too; ``seed=None`` restores that); else the
    CPU global RNG (training: a new sample every step, reproducible with ``torch.manual_seed``).
    ``reference`` follows the same rule, so it equals ``forward`` in eval mode or with equal generators.

    Shapes: ``x`` (B, L, D), ``mask`` (B, L) bool key-padding mask (True = real; padded tokens are
    never sampled, attended, averaged, nor ranked above real queries) -> (B, L, D).
    Cost: O(L log L · D) time and memory (``u·L`` scores plus ``L·U_part`` sampled scores).
    Causality: values never come from the future, but which queries are active depends on the whole
    sequence (``strictly_causal = False``; no gradient crosses that choice). No step form: a token's
    output depends on a ranking over all L queries and on keys sampled over all L positions, which a
    left-to-right stream cannot know.
    """

    strictly_causal = False

    def __init__(self, dim: int, *, heads: int = 4, factor: int = 5, causal: bool = False,
                 dropout: float = 0.0, bias: bool = True, rope: bool = False, rope_base: float = 10000.0,
                 measure: str = "informer", lazy_causal: str = "cumsum", seed: int | None = 0):
        check_int_option(self.mixer_name, "factor", factor, 1)
        if measure not in MEASURES:
            raise ValueError(f"{self.mixer_name}: measure must be one of {MEASURES}, got {measure!r}")
        if lazy_causal not in LAZY_CAUSAL:
            raise ValueError(f"{self.mixer_name}: lazy_causal must be one of {LAZY_CAUSAL}, "
                             f"got {lazy_causal!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"{self.mixer_name}: seed must be an integer or None, got {seed!r}")
        super().__init__(dim, heads=heads, causal=causal, dropout=dropout, bias=bias, rope=rope,
                         rope_base=rope_base)
        self.factor, self.measure, self.lazy_causal, self.seed = factor, measure, lazy_causal, seed

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, factor={self.factor}, measure={self.measure!r}, "
                f"lazy_causal={self.lazy_causal!r}, seed={self.seed}")

    def sampling_generator(self, generator: torch.Generator | None = None) -> torch.Generator | None:
        """The RNG of one call (see "Sampling" in the class docstring)."""
        if generator is not None:
            return generator
        if not self.training and self.seed is not None:
            return torch.Generator().manual_seed(self.seed)
        return None

    def _options(self, mask, generator):
        return dict(factor=self.factor, causal=self.causal, generator=self.sampling_generator(generator),
                    key_padding_mask=mask, query_padding_mask=mask, measure=self.measure,
                    lazy_causal=self.lazy_causal)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, *,
                generator: torch.Generator | None = None) -> torch.Tensor:
        self.check_input(x, mask)
        q, k, v = self.project(x)
        return self.merge(probsparse_attention(q, k, v, **self._options(mask, generator)))

    def reference(self, x: torch.Tensor, mask: torch.Tensor | None = None, *,
                  generator: torch.Generator | None = None) -> torch.Tensor:
        """Loop over batch, head and query (``probsparse_attention_ref``), same samples, no dropout."""
        self.check_input(x, mask)
        q, k, v = self.project(x)
        out = probsparse_attention_ref(q, k, v, **self._options(mask, generator))
        return self.merge(out, dropout=False)
