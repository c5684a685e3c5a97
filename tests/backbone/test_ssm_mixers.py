"""What is specific to the state-space, long-convolution and convolution mixers: mamba, s4d, hyena, conv.

The properties every mixer shares (shapes, gradients, bf16, causality, reference, streaming, padding,
bad input) are in test_mixers.py.
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from spanmix.backbone import build_mixer

DIM, B = 32, 2


def build(name: str, dim: int = DIM, **options):
    torch.manual_seed(0)
    return build_mixer(name, dim, **options).eval()


def stream(mixer, x, state=None):
    state = mixer.init_state(x.shape[0], dtype=x.dtype) if state is None else state
    outs = []
    for t in range(x.shape[1]):
        y_t, state = mixer.step(x[:, t], state)
        outs.append(y_t)
    return torch.stack(outs, dim=1), state


# ----------------------------------------------------------------------------------------------- mamba

@pytest.mark.parametrize("dim,d_state", [(32, 16), (64, 8)])
def test_mamba_init_follows_the_paper(dim, d_state):
    m = build("mamba", dim, d_state=d_state)
    e_d = 2 * dim
    assert m.d_inner == e_d and m.dt_rank == math.ceil(dim / 16)
    assert m.in_proj.weight.shape == (2 * e_d, dim) and m.out_proj.weight.shape == (dim, e_d)
    assert m.x_proj.weight.shape == (m.dt_rank + 2 * d_state, e_d)
    # S4D-Real: A_n = -(n+1) in every channel; D = 1.
    expected = torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).expand(e_d, d_state)
    torch.testing.assert_close(m.A_log.detach(), expected)
    torch.testing.assert_close(m.D.detach(), torch.ones(e_d))
    dt = F.softplus(m.dt_proj.bias.detach())
    assert dt.min() >= 1e-3 * (1 - 1e-5) and dt.max() <= 0.1 * (1 + 1e-5)
    assert dt.max() / dt.min() > 10  # log-uniform over two decades, not a constant
    assert m.dt_proj.weight.abs().max() <= m.dt_rank ** -0.5
    assert m.A_log._no_weight_decay and m.D._no_weight_decay


@pytest.mark.parametrize("d_conv", [1, 4])
def test_mamba_step_equals_forward_and_keeps_the_conv_buffer(d_conv):
    m = build("mamba", d_conv=d_conv, d_state=8)
    x = torch.randn(B, 9, DIM)
    stepped, (conv, ssm) = stream(m, x)
    torch.testing.assert_close(stepped, m(x), atol=1e-5, rtol=1e-4)
    # The conv buffer holds the last d_conv-1 inputs of the short conv (the x half of in_proj).
    last_inputs = m.in_proj(x[:, x.shape[1] - (d_conv - 1):]).chunk(2, dim=-1)[0].transpose(1, 2)
    assert conv.shape == (B, m.d_inner, d_conv - 1)
    torch.testing.assert_close(conv, last_inputs)
    assert ssm.shape == (B, m.d_inner, 8) and ssm.dtype == torch.float32
    # A stream cut in two resumes from its state.
    first, state = stream(m, x[:, :4])
    second, _ = stream(m, x[:, 4:], state)
    torch.testing.assert_close(torch.cat([first, second], 1), stepped)


def test_bidirectional_mamba_is_forward_plus_flipped_reverse_block():
    bi = build("mamba", bidirectional=True, d_state=8)
    assert not bi.causal and not bi.supports_step
    with pytest.raises(NotImplementedError, match="no step form"):
        bi.init_state(B)
    uni = build("mamba", d_state=8)
    # Two independent blocks (S-Mamba): the reverse one is a full unidirectional Mamba of its own.
    n_uni = sum(p.numel() for p in uni.parameters())
    assert sum(p.numel() for p in bi.parameters()) == 2 * n_uni
    assert sum(p.numel() for p in bi.reverse.parameters()) == n_uni
    uni.load_state_dict({k: v for k, v in bi.state_dict().items() if not k.startswith("reverse.")})

    x = torch.randn(B, 17, DIM)
    y = bi(x)
    torch.testing.assert_close(y, uni(x) + bi.reverse(x.flip(1)).flip(1))
    torch.testing.assert_close(y, bi.reference(x), atol=1e-5, rtol=1e-4)
    # Position t sees the future.
    x_future = x.clone()
    x_future[:, 10:] += torch.randn(B, 7, DIM)
    assert not torch.allclose(bi(x_future)[:, :10], y[:, :10], atol=1e-4)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_mamba_right_and_left_padding_give_the_unpadded_outputs(bidirectional):
    # Padding adds nothing to the state (the short conv's bias is masked too), so right- and left-padded
    # sequences give the outputs of the unpadded one, also in the reversed direction.
    m = build("mamba", bidirectional=bidirectional, d_state=8)
    x = torch.randn(B, 11, DIM)
    expected = m(x)
    pad = torch.randn(B, 6, DIM) * 3
    real = torch.ones(B, 11, dtype=torch.bool)
    no = torch.zeros(B, 6, dtype=torch.bool)
    right = m(torch.cat([x, pad], 1), mask=torch.cat([real, no], 1))
    left = m(torch.cat([pad, x], 1), mask=torch.cat([no, real], 1))
    torch.testing.assert_close(right[:, :11], expected, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(left[:, 6:], expected, atol=1e-5, rtol=1e-4)
    assert right[:, 11:].abs().max() == 0 and left[:, :6].abs().max() == 0


def test_mamba_bad_options_are_clear_errors():
    for options, match in [({"d_state": 0}, "d_state"), ({"d_conv": 0}, "d_conv"), ({"expand": 0}, "expand"),
                           ({"dt_rank": 0}, "dt_rank"), ({"dt_min": 0.5, "dt_max": 0.1}, "dt_min")]:
        with pytest.raises(ValueError, match=match):
            build_mixer("mamba", DIM, **options)


# ------------------------------------------------------------------------------------------------- s4d

@pytest.mark.parametrize("init", ["lin", "inv"])
def test_s4d_vandermonde_kernel_is_the_impulse_response(init):
    m = build("s4d", init=init, d_state=16)
    length = 64
    k = m.kernel(length, torch.float64)
    # The recurrence driven by a unit impulse: h_0 = dB, h_l = dA h_{l-1}; K_l = 2 Re(C h_l).
    _, dA, dB, C = m.discretize(torch.float64)
    h, taps = dB, []
    for _ in range(length):
        taps.append(2 * (C * h).sum(-1).real)
        h = dA * h
    torch.testing.assert_close(k, torch.stack(taps, -1), atol=1e-10, rtol=1e-8)
    # The float32 kernel the forward uses agrees with it, and so does the layer on a long input.
    torch.testing.assert_close(m.kernel(length).double(), k, atol=1e-5, rtol=1e-4)
    x = torch.randn(1, 100, DIM)
    torch.testing.assert_close(m(x), m.reference(x), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("d_state", [2, 64])
def test_s4d_inits_follow_the_formulas(d_state):
    n = torch.arange(d_state // 2, dtype=torch.float32)
    lin = build("s4d", d_state=d_state, init="lin")
    inv = build("s4d", d_state=d_state, init="inv")
    torch.testing.assert_close(lin.A_imag.detach(), (math.pi * n).expand(DIM, -1))
    inv_imag = d_state / math.pi * (d_state / (2 * n + 1) - 1)
    torch.testing.assert_close(inv.A_imag.detach(), inv_imag.expand(DIM, -1))
    for m in (lin, inv):
        torch.testing.assert_close(-torch.exp(m.log_A_real.detach()), torch.full((DIM, d_state // 2), -0.5))
        dt = torch.exp(m.log_dt.detach())
        assert dt.shape == (DIM,) and dt.min() >= 1e-3 * (1 - 1e-5) and dt.max() <= 0.1 * (1 + 1e-5)
        assert m.C.shape == (DIM, d_state // 2, 2)


def test_s4d_bad_options_are_clear_errors():
    for options, match in [({"d_state": 0}, "d_state"), ({"d_state": 7}, "even"), ({"init": "legs"}, "init"),
                           ({"dt_min": 0.0}, "dt_min")]:
        with pytest.raises(ValueError, match=match):
            build_mixer("s4d", DIM, **options)


# ----------------------------------------------------------------------------------------------- hyena

def test_hyena_filters_decay():
    m = build("hyena", max_len=1024)
    h = m.filters(1024).detach()  # (order, D, 1024)
    assert h.shape == (2, DIM, 1024)
    start, end = h[..., :16].abs().mean(), h[..., -16:].abs().mean()
    assert end < 0.02 * start
    # Every channel's window decays; the slowest to ~exp(-log(100)/1.5) at the last tap.
    window = m.filter.window(1024, torch.float32)
    assert (window[-1] <= math.exp(math.log(1e-2) / 1.5) * 1.001).all() and (window[0] == 1).all()


@pytest.mark.parametrize("order", [1, 2, 3])
def test_hyena_order_sets_projections_filters_and_gates(order):
    m = build("hyena", order=order, max_len=64)
    assert m.in_proj.weight.shape == ((order + 1) * DIM, DIM)
    assert m.short_conv.weight.shape == ((order + 1) * DIM, 1, 3)
    assert m.filters(40).shape == (order, DIM, 40)
    x = torch.randn(B, 19, DIM)
    y = m(x)
    assert y.shape == x.shape
    torch.testing.assert_close(y, m.reference(x), atol=1e-5, rtol=1e-4)


def test_hyena_works_at_lengths_other_than_max_len():
    m = build("hyena", max_len=16)
    # Filter taps are a function of the absolute position, normalised by max_len, not by L.
    torch.testing.assert_close(m.filters(10), m.filters(16)[..., :10])
    assert m.filters(40).shape[-1] == 16  # capped: a longer sequence uses the max_len-tap filter
    x = torch.randn(B, 40, DIM)
    long = m(x)
    torch.testing.assert_close(m(x[:, :10]), long[:, :10], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(long, m.reference(x), atol=1e-5, rtol=1e-4)
    stepped, state = stream(m, x)  # past max_len: the cache keeps the last max_len inputs per order
    torch.testing.assert_close(stepped, long, atol=1e-5, rtol=1e-4)
    assert state["history"].shape == (2, B, DIM, 16)


def test_hyena_bounded_stream():
    m = build("hyena", max_len=64)
    x = torch.randn(B, 6, DIM)
    state = m.init_state(B, max_len=5)
    assert state["filters"].shape == (2, DIM, 5)
    stepped, state = stream(m, x[:, :5], state)
    torch.testing.assert_close(stepped, m(x[:, :5]), atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="max_len=5"):
        m.step(x[:, 5], state)


def test_hyena_left_padding_gives_the_unpadded_outputs():
    m = build("hyena", max_len=64)
    x = torch.randn(B, 12, DIM)
    padded = torch.cat([torch.randn(B, 5, DIM), x], 1)
    mask = torch.cat([torch.zeros(B, 5, dtype=torch.bool), torch.ones(B, 12, dtype=torch.bool)], 1)
    torch.testing.assert_close(m(padded, mask=mask)[:, 5:], m(x), atol=1e-5, rtol=1e-4)


def test_hyena_bad_options_are_clear_errors():
    for options, match in [({"order": 0}, "order"), ({"emb_dim": 4}, "emb_dim"), ({"emb_dim": 1}, "emb_dim"),
                           ({"filter_order": 0}, "filter_order"), ({"max_len": 0}, "max_len")]:
        with pytest.raises(ValueError, match=match):
            build_mixer("hyena", DIM, **options)


# The official layout (hyena-dna/safari ``HyenaOperator``), written out from its recurrence with direct sums.
def official_hyena_by_hand(m, u):
    length = u.shape[1]
    w = m.in_proj(u).transpose(1, 2)
    w = F.conv1d(w, m.short_conv.weight, m.short_conv.bias, padding=2, groups=w.shape[1])[..., :length]
    *x, v = w.split(m.dim, dim=1)
    k = m.filter(length).view(m.order - 1, m.dim, length)
    bias = m.filter.bias.view(m.order - 1, m.dim)
    for o, x_i in enumerate(reversed(x[1:])):
        v = v * x_i
        y = torch.zeros_like(v)
        for t in range(length):
            y[..., t] = (v[..., : t + 1] * k[o, :, : t + 1].flip(-1)).sum(-1)
        v = y + bias[o].unsqueeze(-1) * v
    return m.out_proj((v * x[0]).transpose(1, 2))


@pytest.mark.parametrize("order", [2, 3])
def test_hyena_official_layout_is_the_authors_recurrence(order):
    m = build("hyena", order=order, max_len=32, layout="official")
    paper = build("hyena", order=order, max_len=32)
    assert m.filters(20).shape == (order - 1, DIM, 20) and m.filter.bias.shape == ((order - 1) * DIM,)
    # One filter output matrix and one skip vector fewer per dropped filter: filter_order·D + D.
    assert sum(p.numel() for p in paper.parameters()) - sum(p.numel() for p in m.parameters()) == 65 * DIM
    x = torch.randn(B, 20, DIM)
    with torch.no_grad():
        expected = official_hyena_by_hand(m, x)
        torch.testing.assert_close(m(x), expected, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(m.reference(x), expected, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(stream(m, x)[0], expected, atol=1e-5, rtol=1e-4)
        assert not torch.allclose(paper(x), m(x), atol=1e-3)


def test_hyena_official_layout_pads_like_the_paper_layout():
    m = build("hyena", max_len=64, layout="official")
    x = torch.randn(B, 12, DIM)
    padded = torch.cat([torch.randn(B, 5, DIM), x], 1)
    mask = torch.cat([torch.zeros(B, 5, dtype=torch.bool), torch.ones(B, 12, dtype=torch.bool)], 1)
    torch.testing.assert_close(m(padded, mask=mask)[:, 5:], m(x), atol=1e-5, rtol=1e-4)


def test_hyena_filter_frequency_and_window_shift():
    m = build("hyena", max_len=64, filter_freq=10.0, filter_shift=0.05)
    assert torch.equal(m.filter.freq.detach(), torch.full((64,), 10.0))
    assert torch.equal(build("hyena").filter.freq.detach(), torch.ones(64))  # the Hyena paper's default
    window = m.filter.window(64, torch.float32)
    torch.testing.assert_close(window, build("hyena", max_len=64).filter.window(64, torch.float32) + 0.05)
    # The frequency is what the Sin sees: sin(10·a) for the first layer's pre-activation a.
    z = m.filter.features(8, torch.float32)
    first = m.filter.linears[0](z)
    h = torch.sin(10.0 * first)
    for linear in m.filter.linears[1:-1]:
        h = torch.sin(10.0 * linear(h))
    expected = (m.filter.linears[-1](h) * window[:8]).T
    torch.testing.assert_close(m.filter(8), expected)


def test_hyena_layout_errors():
    with pytest.raises(ValueError, match="layout must be one of"):
        build_mixer("hyena", DIM, layout="safari")
    with pytest.raises(ValueError, match="order must be >= 2"):
        build_mixer("hyena", DIM, order=1, layout="official")


# ------------------------------------------------------------------------------------------------ conv

def receptive_field(mixer, length=21, t=10):
    """Positions s whose input changes y_t (one batch: row 0 unchanged, row s+1 perturbed at s)."""
    x = torch.randn(1, length, DIM).repeat(length + 1, 1, 1)
    x[torch.arange(1, length + 1), torch.arange(length)] += 1.0
    y = mixer(x)[:, t]
    return [s for s in range(length) if not torch.allclose(y[s + 1], y[0], atol=1e-6)]


def test_conv_module_receptive_field_causal_and_centred():
    assert receptive_field(build("conv", kernel_size=5)) == list(range(8, 13))
    assert receptive_field(build("conv", kernel_size=5, causal=True)) == list(range(6, 11))
    assert receptive_field(build("conv", kernel_size=4, causal=True)) == list(range(7, 11))


def test_conv_module_layout_and_norms():
    m = build("conv")
    assert m.kernel_size == 31 and m.channels == DIM and not m.causal and not m.supports_step
    assert isinstance(m.norm, torch.nn.BatchNorm1d)
    assert m.pointwise_in.weight.shape == (2 * DIM, DIM) and m.depthwise.weight.shape == (DIM, 1, 31)
    assert isinstance(build("conv", causal=True).norm, torch.nn.LayerNorm)  # BatchNorm leaks time statistics
    assert isinstance(build("conv", norm="layer").norm, torch.nn.LayerNorm)
    assert build("conv", expansion=4).channels == 2 * DIM
    with pytest.raises(NotImplementedError, match="causal=True"):
        m.init_state(B)


@pytest.mark.parametrize("causal", [False, True])
def test_conv_module_padding_acts_like_the_conv_zero_padding(causal):
    # Padded positions are zeroed after the GLU, so the depthwise conv sees what its own zero padding
    # would give: a right-padded sequence has the unpadded outputs (BatchNorm in eval: per position).
    m = build("conv", kernel_size=7, causal=causal)
    x = torch.randn(B, 12, DIM)
    mask = torch.cat([torch.ones(B, 12, dtype=torch.bool), torch.zeros(B, 5, dtype=torch.bool)], 1)
    y = m(torch.cat([x, torch.randn(B, 5, DIM) * 3], 1), mask=mask)
    torch.testing.assert_close(y[:, :12], m(x), atol=1e-5, rtol=1e-4)
    assert y[:, 12:].abs().max() == 0
    torch.testing.assert_close(y, m.reference(torch.cat([x, torch.zeros(B, 5, DIM)], 1), mask=mask),
                               atol=1e-5, rtol=1e-4)


def test_conv_module_causal_batchnorm_streams_in_eval():
    m = build("conv", kernel_size=5, causal=True, norm="batch")
    m.train()
    m(torch.randn(4, 30, DIM))  # update the running statistics
    m.eval()
    x = torch.randn(B, 9, DIM)
    torch.testing.assert_close(stream(m, x)[0], m(x), atol=1e-5, rtol=1e-4)


def test_conv_bad_options_are_clear_errors():
    for options, match in [({"kernel_size": 4}, "odd"), ({"kernel_size": 0}, "kernel_size"),
                           ({"norm": "group"}, "norm"), ({"expansion": 0}, "expansion")]:
        with pytest.raises(ValueError, match=match):
            build_mixer("conv", DIM, **options)
    with pytest.raises(ValueError, match="even"):
        build_mixer("conv", 33, expansion=1)
