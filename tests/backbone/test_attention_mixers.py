"""What is specific to the attention mixers: full, local, ls, probsparse (the generic properties of every
mixer are in test_mixers.py)."""
from __future__ import annotations

import math

import pytest
import torch

from spanmix.backbone import build_mixer
from spanmix.backbone.mixers.probsparse import (
    probsparse_attention,
    probsparse_attention_ref,
    probsparse_counts,
    sample_key_indices,
    sparsity_measure,
)
from spanmix.backbone.positional import RotaryEmbedding

DIM, HEADS, B = 32, 4, 2
D_HEAD = DIM // HEADS
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def make(name: str, seed: int = 0, **options):
    torch.manual_seed(seed)
    return build_mixer(name, DIM, heads=HEADS, **options).eval()


def same_weights(dst, src):
    dst.load_state_dict(src.state_dict())
    return dst


def explicit_mha(mixer, x, causal, mask=None):
    """Multi-head attention written out from the module's weights, in float64, head by head."""
    W, b = mixer.qkv.weight.double(), mixer.qkv.bias.double()
    Wo, bo = mixer.out.weight.double(), mixer.out.bias.double()
    x = x.double()
    Bn, L, _ = x.shape
    q, k, v = (x @ W.T + b).split(DIM, dim=-1)
    heads = []
    for h in range(HEADS):
        sl = slice(h * D_HEAD, (h + 1) * D_HEAD)
        scores = q[..., sl] @ k[..., sl].transpose(1, 2) / math.sqrt(D_HEAD)  # (B, L, L)
        visible = torch.ones(Bn, L, L, dtype=torch.bool)
        if causal:
            visible &= torch.ones(L, L, dtype=torch.bool).tril()
        if mask is not None:
            visible &= mask[:, None, :]
        p = torch.softmax(scores.masked_fill(~visible, -math.inf), dim=-1).nan_to_num(0.0)
        heads.append(p @ v[..., sl])
    return torch.cat(heads, dim=-1) @ Wo.T + bo


def head_outputs(mixer, x, **kwargs):
    """The concatenated head outputs (the input of the output projection), via a forward pre-hook."""
    seen = {}
    handle = mixer.out.register_forward_pre_hook(lambda mod, args: seen.setdefault("o", args[0]))
    try:
        mixer(x, **kwargs)
    finally:
        handle.remove()
    return seen["o"]


# ------------------------------------------------------------------------------------------------- full
@pytest.mark.parametrize("causal", [False, True])
def test_full_is_the_explicit_multihead_math(causal):
    m = make("full", causal=causal)
    x = torch.randn(B, 13, DIM)
    mask = torch.ones(B, 13, dtype=torch.bool)
    mask[1, 9:] = False
    mask[0, 2] = False
    torch.testing.assert_close(m(x).double(), explicit_mha(m, x, causal), atol=1e-5, rtol=1e-5)
    y = m(x, mask=mask).double()
    expected = explicit_mha(m, x, causal, mask)
    torch.testing.assert_close(y, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["full", "local", "ls", "probsparse"])
@pytest.mark.parametrize("causal", [False, True])
def test_query_with_no_visible_key_gives_zeros_and_finite_gradients(name, causal):
    m = make(name, causal=causal, **({"window": 3} if name in ("local", "ls") else {}))
    x = torch.randn(B, 10, DIM, requires_grad=True)
    mask = torch.ones(B, 10, dtype=torch.bool)
    mask[0] = False  # a sequence that is all padding
    mask[1, :4] = False  # left padding: causal queries 0..3 see nothing
    y = m(x, mask=mask)
    assert torch.isfinite(y).all()
    bias_only = m.out.bias.expand(10, DIM)  # zero head outputs -> only the output bias is left
    torch.testing.assert_close(y[0], bias_only)
    if causal:
        torch.testing.assert_close(y[1, :4], bias_only[:4])
    y.square().sum().backward()
    assert torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in m.parameters())


def test_full_accepts_a_length_one_sequence_and_batch_one():
    m = make("full", causal=True)
    x = torch.randn(1, 1, DIM)
    torch.testing.assert_close(m(x), m.reference(x))


# --------------------------------------------------------------------------------------------- rotary
def test_rope_scores_depend_on_relative_positions_only():
    rope = RotaryEmbedding(D_HEAD)
    q, k = torch.randn(B, HEADS, 9, D_HEAD), torch.randn(B, HEADS, 9, D_HEAD)
    q0, k0 = rope(q, k, offset=0)
    q7, k7 = rope(q, k, offset=37)
    torch.testing.assert_close(q0 @ k0.transpose(-1, -2), q7 @ k7.transpose(-1, -2), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(q0, q7)


@pytest.mark.parametrize("name", ["full", "local", "ls"])
def test_rope_outputs_do_not_change_when_every_position_shifts(name):
    # Stepping with the cache's position counter started at 100 shifts every position by 100; RoPE only
    # sees differences, so the outputs are those of forward (positions 0..L-1).
    m = make(name, causal=True, rope=True, **({"window": 4} if name != "full" else {}))
    x = torch.randn(B, 11, DIM)
    state = m.init_state(B)
    for cache in state.values() if name == "ls" else [state]:
        cache["offset"] = 100
    ys = []
    for t in range(11):
        y_t, state = m.step(x[:, t], state)
        ys.append(y_t)
    torch.testing.assert_close(torch.stack(ys, 1), m(x), atol=1e-5, rtol=1e-5)
    # ... and RoPE does change the layer (it is not silently off)
    plain = same_weights(make(name, causal=True, **({"window": 4} if name != "full" else {})), m)
    assert not torch.allclose(plain(x), m(x), atol=1e-4)


def test_rope_needs_an_even_head_width():
    with pytest.raises(ValueError, match="even"):
        build_mixer("full", 12, heads=4, rope=True)


# -------------------------------------------------------------------------------------------- local
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("window", [17, 40])
def test_local_with_window_at_least_length_is_full(causal, window):
    full = make("full", causal=causal)
    local = same_weights(make("local", causal=causal, window=window), full)
    x = torch.randn(B, 17, DIM)
    torch.testing.assert_close(local(x), full(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("causal", [False, True])
def test_local_sees_exactly_its_window(causal):
    w, L, i = 4, 20, 10
    m = make("local", causal=causal, window=w)
    x = torch.randn(1, L, DIM, requires_grad=True)
    (g,) = torch.autograd.grad(m(x)[0, i].sum(), x)
    seen = g[0].abs().sum(-1) > 0
    j = torch.arange(L)
    expected = ((i - j >= 0) & (i - j < w)) if causal else ((i - j).abs() < w)
    assert torch.equal(seen, expected)


# ----------------------------------------------------------------------------------------------- ls
@pytest.mark.parametrize("causal", [False, True])
def test_ls_with_no_local_heads_is_full_and_with_all_local_heads_is_local(causal):
    x = torch.randn(B, 21, DIM)
    full = make("full", causal=causal)
    local = same_weights(make("local", causal=causal, window=5), full)
    ls_global = same_weights(make("ls", causal=causal, window=5, local_heads=0), full)
    ls_local = same_weights(make("ls", causal=causal, window=5, local_heads=HEADS), full)
    torch.testing.assert_close(ls_global(x), full(x), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ls_local(x), local(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("local_heads", [1, 3])
def test_ls_concatenates_local_heads_then_global_heads(causal, local_heads):
    x = torch.randn(B, 21, DIM)
    mask = torch.ones(B, 21, dtype=torch.bool)
    mask[1, 15:] = False
    full = make("full", causal=causal)
    local = same_weights(make("local", causal=causal, window=5), full)
    ls = same_weights(make("ls", causal=causal, window=5, local_heads=local_heads), full)
    cut = local_heads * D_HEAD
    expected = torch.cat([head_outputs(local, x, mask=mask)[..., :cut],
                          head_outputs(full, x, mask=mask)[..., cut:]], dim=-1)
    torch.testing.assert_close(head_outputs(ls, x, mask=mask), expected, atol=1e-5, rtol=1e-5)


def test_ls_default_split_and_validation():
    # Mostly local heads, a few global ones (Hajra 2025); the old default was half and half: (2, 2).
    m = build_mixer("ls", DIM, heads=4)
    assert (m.local_heads, m.global_heads) == (3, 1)
    assert [(h - build_mixer("ls", 8 * h, heads=h).global_heads, build_mixer("ls", 8 * h, heads=h).global_heads)
            for h in (1, 2, 8, 12)] == [(0, 1), (1, 1), (6, 2), (9, 3)]
    for bad in (-1, 5, 1.5, True):
        with pytest.raises(ValueError, match="local_heads"):
            build_mixer("ls", DIM, heads=4, local_heads=bad)


# ------------------------------------------------------------------------------------ step forms
@pytest.mark.parametrize("name,options", [
    ("full", {}), ("full", {"rope": True}),
    ("local", {"window": 5}), ("local", {"window": 1}), ("local", {"window": 5, "rope": True}),
    ("ls", {"window": 5}), ("ls", {"window": 3, "local_heads": 1, "rope": True}),
    ("ls", {"window": 3, "local_heads": 0}), ("ls", {"window": 3, "local_heads": 4}),
])
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.bfloat16, 3e-2)])
def test_step_equals_forward_past_the_window(name, options, dtype, tol):
    m = make(name, causal=True, **options).to(dtype)
    L = 19
    x = torch.randn(B, L, DIM, dtype=dtype)
    state = m.init_state(B, dtype=dtype)
    ys = []
    for t in range(L):
        y_t, state = m.step(x[:, t], state)
        ys.append(y_t)
    if name == "local":  # the rolling window never grows past w
        assert state["k"].shape[2] == options["window"]
    elif name == "ls":
        assert state["local"]["k"].shape[2] == options["window"] and state["global"]["k"].shape[2] == L
    stepped = torch.stack(ys, 1)
    assert stepped.dtype == dtype
    torch.testing.assert_close(stepped.float(), m(x).float(), atol=tol, rtol=tol)


@pytest.mark.parametrize("name", ["full", "local", "ls"])
def test_step_needs_causal(name):
    m = make(name)
    assert not m.supports_step and make(name, causal=True).supports_step
    with pytest.raises(ValueError, match="causal"):
        m.init_state(B)
    with pytest.raises(ValueError, match=r"\(batch, 32\)"):
        make(name, causal=True).step(torch.randn(B, 1, DIM), make(name, causal=True).init_state(B))


# ------------------------------------------------------------------------------- key padding masks
@pytest.mark.parametrize("name,options", [
    ("full", {}), ("local", {"window": 4}), ("ls", {"window": 4, "local_heads": 2}),
    ("probsparse", {}),  # L = 40 > u = 20: the sampled, ranked path
])
@pytest.mark.parametrize("causal", [False, True])
def test_padded_contents_do_not_reach_real_positions(name, options, causal):
    L = 40
    m = make(name, causal=causal, **options)
    mask = torch.ones(B, L, dtype=torch.bool)
    mask[0, 29:] = False
    mask[1, [0, 5, 6, 20]] = False
    x = torch.randn(B, L, DIM)
    x_other = torch.where(mask[..., None], x, torch.randn_like(x) * 10)
    y, y_other = m(x, mask=mask), m(x_other, mask=mask)
    torch.testing.assert_close(y[mask], y_other[mask], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(y, m.reference(x, mask=mask), atol=1e-5, rtol=1e-5)


# ------------------------------------------------------------------------------------- probsparse
def test_probsparse_counts_follow_informer():
    assert probsparse_counts(64, 64, 5) == (25, 25)  # 5·ceil(ln 64) = 5·5
    assert probsparse_counts(16, 96, 5) == (15, 25)
    assert probsparse_counts(12, 12, 5) == (12, 12)  # 15 >= 12: every query active
    assert probsparse_counts(1, 1, 5) == (1, 1)  # Informer's code would give 0


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("L", [1, 9, 14])
def test_probsparse_is_exactly_full_attention_when_every_query_is_active(causal, L):
    assert probsparse_counts(L, L, 5)[0] >= L
    full = make("full", causal=causal)
    ps = same_weights(make("probsparse", causal=causal), full).train()
    x = torch.randn(B, L, DIM)
    mask = torch.ones(B, L, dtype=torch.bool)
    mask[0, L // 2 + 1:] = False
    assert torch.equal(ps(x), full(x))
    assert torch.equal(ps(x, mask=mask), full(x, mask=mask))
    torch.testing.assert_close(ps.reference(x, mask=mask), full.reference(x, mask=mask))


def test_probsparse_is_reproducible_with_a_generator_and_changes_with_the_seed():
    m = make("probsparse").train()  # training mode: no fixed seed, the generator decides
    x = torch.randn(B, 64, DIM)
    y1 = m(x, generator=torch.Generator().manual_seed(1))
    y1_again = m(x, generator=torch.Generator().manual_seed(1))
    y2 = m(x, generator=torch.Generator().manual_seed(2))
    assert torch.equal(y1, y1_again)
    assert not torch.allclose(y1, y2)
    # the functional core: same seed, same samples, same active queries
    q, k, v = m.project(x)
    _, top1 = probsparse_attention(q, k, v, generator=torch.Generator().manual_seed(3), return_index=True)
    _, top1b = probsparse_attention(q, k, v, generator=torch.Generator().manual_seed(3), return_index=True)
    assert torch.equal(top1.sort(-1).values, top1b.sort(-1).values)


def test_probsparse_sampling_rule_eval_seeded_train_global_rng():
    m = make("probsparse")
    x = torch.randn(B, 64, DIM)
    assert torch.equal(m(x), m(x))  # eval: a fresh generator seeded with `seed` per call
    torch.testing.assert_close(m(x), m.reference(x), atol=1e-5, rtol=1e-5)
    m.train()
    torch.manual_seed(5)
    a = m(x)
    torch.manual_seed(5)
    assert torch.equal(a, m(x))  # training: the global RNG, reproducible by torch.manual_seed
    assert not torch.allclose(m(x), m(x))  # ... and a new sample every call


def test_probsparse_ranks_queries_by_the_sampled_sparsity_measure():
    torch.manual_seed(0)
    Bn, H, L, d = 2, 3, 50, 8
    q, k = torch.randn(Bn, H, L, d), torch.randn(Bn, H, L, d)
    u, n = probsparse_counts(L, L, 5)
    index = sample_key_indices(L, L, n, torch.Generator().manual_seed(7))
    assert index.shape == (L, n)
    for measure in ("mean", "informer"):
        M = sparsity_measure(q, k, index, measure=measure)
        s = torch.einsum("bhid,bhijd->bhij", q, k[:, :, index]) / math.sqrt(d)  # (B, H, L, n)
        expected = s.amax(-1) - (s.mean(-1) if measure == "mean" else s.sum(-1) / L)
        torch.testing.assert_close(M, expected)
        _, top = probsparse_attention(q, k, k, generator=torch.Generator().manual_seed(7), measure=measure,
                                      return_index=True)
        assert torch.equal(top.sort(-1).values, expected.topk(u, -1).indices.sort(-1).values)


def test_probsparse_default_measure_is_informers_key_length_divisor():
    """Informer's _prob_QK (Informer2020 and TSLib): M = max(sample) - sum(sample) / L_K. The old default
    divided by the sample size (the "mean" measure), which ranks queries differently when n < L_K."""
    torch.manual_seed(0)
    Bn, H, L, d = 2, 3, 50, 8
    q, k = torch.randn(Bn, H, L, d), torch.randn(Bn, H, L, d)
    u, n = probsparse_counts(L, L, 5)
    assert n < L
    index = sample_key_indices(L, L, n, torch.Generator().manual_seed(7))
    s = torch.einsum("bhid,bhijd->bhij", q, k[:, :, index]) / math.sqrt(d)
    torch.testing.assert_close(sparsity_measure(q, k, index), s.amax(-1) - s.sum(-1) / L)
    _, top = probsparse_attention(q, k, k, generator=torch.Generator().manual_seed(7), return_index=True)
    expected = (s.amax(-1) - s.sum(-1) / L).topk(u, -1).indices
    assert torch.equal(top.sort(-1).values, expected.sort(-1).values)
    assert build_mixer("probsparse", DIM).measure == "informer"


@pytest.mark.parametrize("causal", [False, True])
def test_probsparse_crafted_active_and_lazy_queries(causal):
    # Keys k_j = c_j·e0 with distinct c_j; "hot" queries a_i·e0 (a_i > 0) have M > 0 whatever keys are
    # sampled, the others are 0 and have M = 0. So the top-u queries are exactly the hot ones; they get
    # exact attention, the lazy ones mean(V), or the running sum of V (causal, Informer's quirk).
    Bn, H, L, d = 1, 2, 64, 4
    u, _ = probsparse_counts(L, L, 5)
    g = torch.Generator().manual_seed(0)
    hot = torch.randperm(L, generator=g)[:u].sort().values
    c = torch.randperm(L, generator=g).float() / L + 0.5
    k = torch.zeros(Bn, H, L, d)
    k[..., 0] = c
    q = torch.zeros(Bn, H, L, d)
    q[:, :, hot, 0] = 1.0 + torch.rand(u, generator=g)
    v = torch.randn(Bn, H, L, d, generator=g)
    out, top = probsparse_attention(q, k, v, causal=causal, generator=g, return_index=True)
    assert torch.equal(top.sort(-1).values, hot.expand(Bn, H, u))
    exact = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(out[:, :, hot], exact[:, :, hot])
    lazy = torch.ones(L, dtype=torch.bool)
    lazy[hot] = False
    expected_lazy = v.cumsum(2) if causal else v.mean(2, keepdim=True).expand_as(v)
    torch.testing.assert_close(out[:, :, lazy], expected_lazy[:, :, lazy])
    if causal:  # the flag for the natural running mean
        out_mean = probsparse_attention(q, k, v, causal=True, lazy_causal="cummean", generator=g)
        running_mean = v.cumsum(2) / torch.arange(1, L + 1)[:, None]
        torch.testing.assert_close(out_mean[:, :, lazy], running_mean[:, :, lazy])
        torch.testing.assert_close(out_mean[:, :, hot], exact[:, :, hot])


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("measure,lazy_causal", [("mean", "cumsum"), ("informer", "cummean")])
def test_probsparse_forward_equals_its_loop_reference(causal, measure, lazy_causal):
    m = make("probsparse", causal=causal, measure=measure, lazy_causal=lazy_causal).train()
    L = 30
    x = torch.randn(B, L, DIM, requires_grad=True)
    mask = torch.ones(B, L, dtype=torch.bool)
    mask[1, 22:] = False
    for kwargs in ({}, {"mask": mask}):
        y = m(x, generator=torch.Generator().manual_seed(4), **kwargs)
        y_ref = m.reference(x, generator=torch.Generator().manual_seed(4), **kwargs)
        torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=1e-5)
        (g,) = torch.autograd.grad(y.square().sum(), x)
        (g_ref,) = torch.autograd.grad(y_ref.square().sum(), x)
        torch.testing.assert_close(g, g_ref, atol=1e-4, rtol=1e-4)


def test_probsparse_cross_attention_shapes():
    torch.manual_seed(0)
    q, k, v = torch.randn(B, HEADS, 24, 8), torch.randn(B, HEADS, 70, 8), torch.randn(B, HEADS, 70, 6)
    kpm = torch.ones(B, 70, dtype=torch.bool)
    kpm[0, 50:] = False
    out = probsparse_attention(q, k, v, generator=torch.Generator().manual_seed(1), key_padding_mask=kpm)
    ref = probsparse_attention_ref(q, k, v, generator=torch.Generator().manual_seed(1), key_padding_mask=kpm)
    assert out.shape == (B, HEADS, 24, 6)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="L_Q == L_K"):
        probsparse_attention(q, k, v, causal=True)


def test_probsparse_has_no_step_form_and_is_not_strictly_causal():
    m = make("probsparse", causal=True)
    assert m.causal and not m.supports_step and m.strictly_causal is False
    with pytest.raises(NotImplementedError):
        m.init_state(B)


# ------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize("name,options,match", [
    ("full", {"heads": 3}, "divisible"),
    ("local", {"heads": 0}, "divisible"),
    ("local", {"window": 0}, "window"),
    ("ls", {"window": 2.5}, "window"),
    ("ls", {"local_heads": 7}, "local_heads"),
    ("probsparse", {"factor": 0}, "factor"),
    ("probsparse", {"measure": "median"}, "measure"),
    ("probsparse", {"lazy_causal": "sum"}, "lazy_causal"),
    ("full", {"dropout": 1.5}, "dropout"),
])
def test_bad_options_are_clear_errors(name, options, match):
    with pytest.raises(ValueError, match=match):
        build_mixer(name, DIM, **options)


@pytest.mark.parametrize("name", ["full", "local", "ls", "probsparse"])
def test_wrong_rank_is_a_clear_error(name):
    with pytest.raises(ValueError, match=r"\(batch, length, 32\)"):
        make(name)(torch.randn(5, DIM))


def test_probsparse_functional_checks_its_inputs():
    q = torch.randn(1, 2, 8, 4)
    with pytest.raises(ValueError, match="factor"):
        probsparse_attention(q, q, q, factor=0)
    with pytest.raises(ValueError, match=r"\(B, H, L, d\)"):
        probsparse_attention(q[0], q, q)
    with pytest.raises(ValueError, match="key_padding_mask"):
        probsparse_attention(q, q, q, key_padding_mask=torch.ones(1, 7, dtype=torch.bool))


# ------------------------------------------------------------------------------------------- devices
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name,options", [("full", {"rope": True}), ("local", {"window": 7}),
                                          ("ls", {"window": 7}), ("probsparse", {})])
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-4), (torch.bfloat16, 5e-2)])
def test_cuda_forward_reference_and_step(name, options, dtype, tol):
    m = make(name, causal=True, **options).cuda().to(dtype)
    L = 70
    x = torch.randn(B, L, DIM, device="cuda", dtype=dtype)
    mask = torch.ones(B, L, dtype=torch.bool, device="cuda")
    mask[1, 50:] = False
    y = m(x, mask=mask)
    assert y.dtype == dtype and torch.isfinite(y).all()
    if dtype == torch.float32:  # bf16 can flip probsparse's ranking between the two paths
        torch.testing.assert_close(y, m.reference(x, mask=mask), atol=tol, rtol=tol)
    if m.supports_step:
        state = m.init_state(B, device="cuda", dtype=dtype)
        ys = []
        for t in range(L):
            y_t, state = m.step(x[:, t], state)
            ys.append(y_t)
        torch.testing.assert_close(torch.stack(ys, 1).float(), m(x).float(), atol=tol, rtol=tol)
