"""Causal-only mixers (mamba, s4d, hyena) take ``causal=True`` and refuse ``causal=False`` with one clear error."""
from __future__ import annotations

import pytest
import torch
from spanmix.backbone import MixerStack, build_mixer

CAUSAL_ONLY = ("mamba", "s4d", "hyena")


@pytest.mark.parametrize("name", CAUSAL_ONLY)
def test_causal_true_is_accepted_and_changes_nothing(name):
    torch.manual_seed(0)
    plain = build_mixer(name, 16).eval()
    torch.manual_seed(0)
    flagged = build_mixer(name, 16, causal=True).eval()
    assert flagged.causal and flagged.supports_step
    x = torch.randn(2, 9, 16)
    torch.testing.assert_close(flagged(x), plain(x), rtol=0, atol=0)


@pytest.mark.parametrize("name", CAUSAL_ONLY)
def test_causal_false_is_refused_saying_the_mixer_is_causal(name):
    with pytest.raises(ValueError, match=rf"{name} is causal.*causal=True only, got causal=False") as err:
        build_mixer(name, 16, causal=False)
    assert ("bidirectional=True" in str(err.value)) == (name == "mamba")


def test_mamba_causal_flag_and_bidirectional():
    assert not build_mixer("mamba", 16, bidirectional=True, causal=False).causal
    with pytest.raises(ValueError, match="causal=True contradicts bidirectional=True"):
        build_mixer("mamba", 16, bidirectional=True, causal=True)


def test_one_causal_line_serves_a_mixed_schedule():
    stack = MixerStack(16, "mamba,s4d,hyena,full,local", causal=True, heads=2, window=4)
    assert all(block.mixer.causal for block in stack.blocks)
    with pytest.raises(ValueError, match="s4d is causal"):
        MixerStack(16, "full,s4d", causal=False, heads=2)
