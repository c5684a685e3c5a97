"""Positional encodings: formulas, streaming offsets, RoPE's relative property, Time2Vec's terms."""
from __future__ import annotations

import math

import pytest
import torch

from spanmix.backbone.positional import (
    LearnedPositionalEmbedding,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    Time2Vec,
    apply_rotary,
    sinusoidal_encoding,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------------------- sinusoidal
def test_sinusoidal_matches_the_paper_formula():
    dim, length = 6, 9
    pe = SinusoidalPositionalEncoding(dim)(torch.zeros(1, length, dim))[0]
    for pos in range(length):
        for i in range(dim // 2):
            angle = pos / 10000 ** (2 * i / dim)
            assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_sinusoidal_any_length_streaming_and_odd_dim():
    enc = SinusoidalPositionalEncoding(7)
    x = torch.randn(2, 300, 7, generator=gen())
    full = enc(x)
    assert full.shape == x.shape
    chunks = torch.cat([enc(x[:, :5]), enc(x[:, 5:123], offset=5), enc(x[:, 123:], offset=123)], dim=1)
    assert torch.equal(chunks, full)
    longer = enc(torch.zeros(1, 5000, 7))  # the table grows on demand
    exact = sinusoidal_encoding(torch.tensor(4999.0, dtype=torch.float64), 7)  # float64 reference
    assert torch.allclose(longer[0, 4999].double(), exact, atol=1e-6)
    assert torch.equal(enc(x)[:, :300], full)  # growing the table does not change earlier rows


def test_sinusoidal_explicit_positions_and_dtype():
    enc = SinusoidalPositionalEncoding(8)
    x = torch.zeros(2, 4, 8)
    shifted = enc(x, positions=torch.arange(3, 7))
    assert torch.allclose(shifted, enc(x, offset=3), atol=1e-6)
    times = torch.tensor([[0.0, 0.5, 2.25, 10.0], [1.0, 1.5, 3.0, 3.1]])  # irregular, per sample
    out = enc(x, positions=times)
    assert torch.allclose(out, sinusoidal_encoding(times, 8), atol=1e-6)
    assert enc(x.half()).dtype == torch.float16


def test_sinusoidal_errors():
    with pytest.raises(ValueError, match="exceed max_len=10"):
        SinusoidalPositionalEncoding(4, max_len=10)(torch.zeros(1, 8, 4), offset=3)
    enc = SinusoidalPositionalEncoding(4)
    with pytest.raises(ValueError, match="batch, length, 4"):
        enc(torch.zeros(1, 8, 5))
    with pytest.raises(ValueError, match="offset"):
        enc(torch.zeros(1, 8, 4), offset=-1)
    with pytest.raises(ValueError, match="positions must have shape"):
        enc(torch.zeros(1, 8, 4), positions=torch.arange(7))
    with pytest.raises(ValueError, match="not both"):
        enc(torch.zeros(1, 8, 4), offset=2, positions=torch.arange(8))


# ---------------------------------------------------------------------------------------------- learned
def test_learned_offsets_positions_and_errors():
    torch.manual_seed(0)
    emb = LearnedPositionalEmbedding(4, max_len=16)
    assert emb.weight.shape == (16, 4)
    x = torch.randn(2, 5, 4, generator=gen())
    assert torch.equal(emb(x), x + emb.weight[:5])
    assert torch.equal(emb(x, offset=11), x + emb.weight[11:16])
    pos = torch.tensor([[0, 3, 3, 15, 1], [2, 2, 2, 2, 2]])
    assert torch.equal(emb(x, positions=pos), x + emb.weight[pos])
    emb(x, offset=3).sum().backward()
    assert emb.weight.grad[3:8].abs().sum() > 0 and emb.weight.grad[8:].abs().sum() == 0
    with pytest.raises(ValueError, match="offset \\+ length = 12 \\+ 5 = 17 exceeds max_len=16"):
        emb(x, offset=12)
    with pytest.raises(ValueError, match="exceeds max_len"):
        emb(torch.zeros(1, 17, 4))
    with pytest.raises(ValueError, match="positions must lie in"):
        emb(x, positions=torch.tensor([0, 1, 2, 3, 16]))
    with pytest.raises(ValueError, match="integers"):
        emb(x, positions=torch.arange(5.0))


# ----------------------------------------------------------------------------------------------- rotary
def dots(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return q @ k.transpose(-1, -2)  # (B, H, Lq, Lk)


def test_rope_dot_products_depend_only_on_relative_position():
    rope = RotaryEmbedding(16)
    q = torch.randn(2, 3, 10, 16, generator=gen(0))
    k = torch.randn(2, 3, 10, 16, generator=gen(1))
    base = dots(*rope(q, k))
    for offset in (1, 7, 500, 20000):  # shift every position of q and k by the same offset
        shifted = dots(*rope(q, k, offset=offset))
        assert torch.allclose(shifted, base, atol=1e-4), offset
    # And the scores really do depend on m - n (the rotation is not the identity).
    assert not torch.allclose(base, dots(q, k), atol=1e-3)
    # Same query vector at m, same key vector at n: the score is a function of m - n alone.
    q1 = q[:, :, :1].expand(-1, -1, 10, -1)
    k1 = k[:, :, :1].expand(-1, -1, 10, -1)
    s = dots(*rope(q1, k1))
    for d in range(-9, 10):
        diag = torch.diagonal(s, offset=-d, dim1=-2, dim2=-1)
        assert torch.allclose(diag, diag[..., :1].expand_as(diag), atol=1e-4)


def test_rope_preserves_norms_and_matches_apply_rotary():
    rope = RotaryEmbedding(8, base=100.0)
    q = torch.randn(1, 2, 6, 8, generator=gen(2))
    k = torch.randn(1, 2, 9, 8, generator=gen(3))
    rq, rk = rope(q, k, offset=4, k_offset=0)
    assert rq.shape == q.shape and rk.shape == k.shape
    assert torch.allclose(rq.norm(dim=-1), q.norm(dim=-1), atol=1e-5)
    assert torch.allclose(rk.norm(dim=-1), k.norm(dim=-1), atol=1e-5)
    # Position 0 is the identity; a key cache starting at 0 lines up with queries at offset 4.
    assert torch.allclose(rk[:, :, 0], k[:, :, 0])
    assert torch.allclose(rq[:, :, :1], rope.rotate(q[:, :, :1], offset=4))
    cos, sin = rope.cos_sin(6, offset=4)
    assert cos.shape == (6, 4)
    assert torch.equal(apply_rotary(q, cos, sin), rq)
    # The pair layout: channel pair (0, 1) at position 1 turns by exactly 1 radian (theta_0 = 1).
    x = torch.tensor([1.0, 0.0] + [0.0] * 6).reshape(1, 1, 1, 8)
    y = rope.rotate(x, offset=1)
    assert torch.allclose(y[0, 0, 0, :2], torch.tensor([math.cos(1.0), math.sin(1.0)]), atol=1e-6)


def test_rope_streaming_and_half_precision():
    rope = RotaryEmbedding(4)
    q = torch.randn(1, 1, 12, 4, generator=gen(4))
    whole = rope.rotate(q)
    parts = torch.cat([rope.rotate(q[:, :, :5]), rope.rotate(q[:, :, 5:], offset=5)], dim=2)
    assert torch.equal(parts, whole)
    rq, rk = rope(q.bfloat16(), q.bfloat16())
    assert rq.dtype == torch.bfloat16 and torch.allclose(rq.float(), whole, atol=3e-2)


def test_rope_errors():
    with pytest.raises(ValueError, match="even"):
        RotaryEmbedding(7)
    rope = RotaryEmbedding(8)
    with pytest.raises(ValueError, match="batch, heads, length, 8"):
        rope(torch.zeros(2, 5, 8), torch.zeros(2, 5, 8))
    with pytest.raises(ValueError, match="batch, heads, length, 8"):
        rope(torch.zeros(1, 2, 5, 8), torch.zeros(1, 2, 5, 6))
    with pytest.raises(ValueError, match="even"):
        apply_rotary(torch.zeros(3, 5), torch.zeros(3, 2), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="d / 2"):
        apply_rotary(torch.zeros(3, 4), torch.zeros(3, 4), torch.zeros(3, 4))


# --------------------------------------------------------------------------------------------- time2vec
def test_time2vec_terms():
    torch.manual_seed(0)
    t2v = Time2Vec(1, k=4)
    tau = torch.linspace(-20, 20, 101).reshape(1, 101)
    out = t2v(tau)
    assert out.shape == (1, 101, 5)
    w0, phi0 = t2v.w0[0], t2v.phi0[0]
    # Linear term: exactly w0 * tau + phi0 (hence affine: equal increments for equal steps in tau).
    assert torch.allclose(out[..., 0], w0 * tau + phi0)
    steps = out[0, 1:, 0] - out[0, :-1, 0]
    assert torch.allclose(steps, steps[:1].expand_as(steps), atol=1e-5)
    # Periodic terms: sin(w_i tau + phi_i), in [-1, 1], with period 2 pi / w_i.
    assert torch.allclose(out[..., 1:], torch.sin(tau[..., None] * t2v.w[0] + t2v.phi[0]))
    assert bool((out[..., 1:].abs() <= 1).all())
    big = t2v(torch.tensor([[1e4, -3e5]]))
    assert bool((big[..., 1:].abs() <= 1).all())
    for i in range(4):
        period = 2 * math.pi / t2v.w[0, i].item()
        shifted = t2v(tau + period)
        assert torch.allclose(shifted[..., 1 + i], out[..., 1 + i], atol=1e-4), i


def test_time2vec_multi_feature_layout():
    torch.manual_seed(0)
    t2v = Time2Vec(3, k=2)
    tau = torch.randn(2, 7, 3, generator=gen(5))
    out = t2v(tau)
    assert out.shape == (2, 7, 9) and t2v.out_features == 9
    for f in range(3):
        block = out[..., f * 3 : (f + 1) * 3]
        assert torch.allclose(block[..., 0], t2v.w0[f] * tau[..., f] + t2v.phi0[f])
        assert torch.allclose(block[..., 1:], torch.sin(tau[..., f, None] * t2v.w[f] + t2v.phi[f]))
    # Features do not mix: changing feature 1 only changes its own block.
    tau2 = tau.clone()
    tau2[..., 1] += 1.0
    diff = (t2v(tau2) - out).abs().amax(dim=(0, 1))
    assert bool((diff[[0, 1, 2, 6, 7, 8]] == 0).all()) and bool((diff[3:6] > 0).all())


def test_time2vec_gradients_reach_frequencies_and_phases():
    torch.manual_seed(0)
    t2v = Time2Vec(2, k=3)
    t2v(torch.randn(4, 5, 2, generator=gen(6))).square().sum().backward()
    for name in ("w0", "phi0", "w", "phi"):
        grad = getattr(t2v, name).grad
        assert grad is not None and bool((grad != 0).all()), name


def test_time2vec_errors_and_linear_only():
    assert Time2Vec(1, k=0)(torch.zeros(2, 3)).shape == (2, 3, 1)
    with pytest.raises(ValueError, match="batch, length, 2"):
        Time2Vec(2, k=3)(torch.zeros(4, 5))
    with pytest.raises(ValueError, match="batch, length, 1\\) or \\(batch, length\\)"):
        Time2Vec(1, k=3)(torch.zeros(4))
    with pytest.raises(ValueError, match="k must be"):
        Time2Vec(1, k=-1)
    with pytest.raises(ValueError, match="in_features"):
        Time2Vec(0, k=2)
