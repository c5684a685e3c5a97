"""MixerStack: schedules, option routing, streaming."""
from __future__ import annotations

import pytest
import torch

from spanmix.backbone import Block, MixerStack, build_mixer, parse_schedule

DIM = 32


def test_schedule_expands_repeats_and_depth():
    assert parse_schedule("local*3,full") == ["local", "local", "local", "full"]
    assert parse_schedule("hyena*2") == ["hyena", "hyena"]
    assert parse_schedule("mamba,full", depth=4) == ["mamba", "full", "mamba", "full"]
    assert parse_schedule(["mamba", "conv"]) == ["mamba", "conv"]


@pytest.mark.parametrize("schedule,depth,match", [
    ("local*0,full", None, "repeat count"),
    ("local*x", None, "repeat count"),
    ("local,,full", None, "empty mixer name"),
    ("lokal,full", None, "unknown mixer 'lokal'"),
    ("mamba,full", 3, "multiple"),
])
def test_bad_schedules_are_clear_errors(schedule, depth, match):
    with pytest.raises(ValueError, match=match):
        parse_schedule(schedule, depth)


def test_options_reach_only_the_mixers_that_take_them():
    stack = MixerStack(DIM, "local*3,full", heads=8, window=5)
    local, full = stack.blocks[0].mixer, stack.blocks[3].mixer
    assert local.window == 5 and local.heads == 8 and full.heads == 8
    hybrid = MixerStack(DIM, "mamba,full", heads=4, d_state=8)
    assert hybrid.blocks[0].mixer.d_state == 8 and hybrid.blocks[1].mixer.heads == 4


def test_per_mixer_options_override_shared_ones():
    stack = MixerStack(DIM, "local,ls", window=4, mixer_options={"ls": {"window": 9}})
    assert stack.blocks[0].mixer.window == 4 and stack.blocks[1].mixer.window == 9


def test_option_no_mixer_takes_is_rejected():
    with pytest.raises(ValueError, match=r"\['window'\] are accepted by no mixer"):
        MixerStack(DIM, "mamba*2", window=4)
    with pytest.raises(ValueError, match="not in the schedule"):
        MixerStack(DIM, "mamba*2", mixer_options={"full": {"heads": 2}})


def test_stack_forward_backward_shapes():
    stack = MixerStack(DIM, "local*3,full", heads=4, window=4, ffn="swiglu", norm="rms", drop_path=0.1)
    x = torch.randn(2, 19, DIM, requires_grad=True)
    y = stack(x)
    assert y.shape == x.shape
    y.sum().backward()
    assert all(p.grad is not None for p in stack.parameters())


def test_drop_path_rises_linearly_to_its_maximum():
    stack = MixerStack(DIM, "conv*3", drop_path=0.2)
    rates = [getattr(b.drop_path, "drop_prob", 0.0) for b in stack.blocks]
    assert rates == pytest.approx([0.0, 0.1, 0.2])


def test_block_is_pre_norm_residual():
    torch.manual_seed(0)
    mixer = build_mixer("full", DIM, heads=4)
    block = Block(DIM, mixer, ffn="none").eval()
    x = torch.randn(2, 7, DIM)
    torch.testing.assert_close(block(x), x + mixer(block.norm1(x)))


@pytest.mark.parametrize("schedule,options", [
    ("local*2,full", dict(heads=4, window=4, causal=True)),
    ("mamba,full", dict(heads=4, causal=True)),
    ("hyena,s4d", {}),
    ("conv,ls", dict(window=4, causal=True)),
])
def test_causal_stack_streams_like_its_forward(schedule, options):
    torch.manual_seed(0)
    stack = MixerStack(DIM, schedule, **options).eval()
    x = torch.randn(2, 13, DIM)
    state = stack.init_state(2)
    outs = []
    for t in range(x.shape[1]):
        y_t, state = stack.step(x[:, t], state)
        outs.append(y_t)
    torch.testing.assert_close(torch.stack(outs, 1), stack(x), atol=1e-4, rtol=1e-4)


def test_streaming_a_non_causal_stack_is_a_clear_error():
    with pytest.raises(ValueError, match="no step form"):
        MixerStack(DIM, "full,probsparse").init_state(1)


def test_stack_rejects_wrong_width():
    with pytest.raises(ValueError, match=r"\(batch, length, 32\)"):
        MixerStack(DIM, "conv")(torch.randn(1, 5, 16))


def test_mlp_activation_gelu_tanh_is_the_tanh_approximation():
    from spanmix.backbone import make_ffn

    torch.manual_seed(0)
    exact, approx = make_ffn("mlp", 8, 4.0, 0.0), make_ffn("mlp", 8, 4.0, 0.0, act="gelu_tanh")
    approx.load_state_dict(exact.state_dict())  # same parameter names (fc1, fc2): official weights load
    x = 3 * torch.randn(5, 8)
    h = exact.fc1(x)
    torch.testing.assert_close(approx(x), exact.fc2(0.5 * h * (1 + torch.tanh(0.7978845608 * (h + 0.044715 * h**3)))))
    assert not torch.allclose(approx(x), exact(x), atol=1e-6)
    stack = MixerStack(8, "hyena", act="gelu_tanh", max_len=16)
    assert stack.blocks[0].ffn.act.approximate == "tanh"
    with pytest.raises(ValueError, match="unknown activation 'relu'"):
        make_ffn("mlp", 8, 4.0, 0.0, act="relu")
