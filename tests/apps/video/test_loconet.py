"""LoCoNet: sizes against the official code, layer equivalences, masking, the loss, the swappable LIM mixer."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from spanmix.apps.video.models.loconet import (CrossAttentionLayer, LoCoNet, LongTermLayer, SpeakerInteraction)

TINY = dict(widths=(8, 8, 16, 16), audio_widths=(8, 8, 16, 16), tcn_blocks=1, max_len=64)


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_match_the_official_modules():
    # Counted on SJTUwxz/LoCoNet_ASD (HEAD 68d90c8) by instantiating its modules on CPU:
    # visualFrontend 11,180,992; visualTCN 1,328,645; visualConv1D 689,024; attentionLayer(128, 8) 198,272;
    # ConvLayer (S=3) 4,392,960; attentionLayer(256, 8) 789,760.
    model = LoCoNet()
    # timm's BasicBlock normalises the downsample path (3 x BN = 2 x (128 + 256 + 512) parameters more).
    stem = count(model.visual.stem_conv) + count(model.visual.stem) + count(model.visual.trunk)
    assert stem == 11_180_992 + 2 * (128 + 256 + 512)
    assert count(model.visual.tcn) == 1_328_645 and count(model.visual.proj) == 689_024
    assert count(model.cross_a2v) == count(model.cross_v2a) == 198_272
    assert [count(m) for m in model.sim] == [4_392_960] * 3
    assert [count(m) for m in model.lim] == [789_760] * 3
    assert count(model) == 33_715_019


def test_long_term_layer_with_full_attention_is_a_post_ln_transformer_layer():
    torch.manual_seed(0)
    ours = LongTermLayer(32, "full", heads=4).eval()
    ref = nn.TransformerEncoderLayer(32, 4, dim_feedforward=128, dropout=0.1, batch_first=True).eval()
    ref.self_attn.in_proj_weight.data.copy_(ours.mixer.qkv.weight)
    ref.self_attn.in_proj_bias.data.copy_(ours.mixer.qkv.bias)
    ref.self_attn.out_proj.load_state_dict(ours.mixer.out.state_dict())
    ref.linear1.load_state_dict(ours.ffn[0].state_dict())
    ref.linear2.load_state_dict(ours.ffn[3].state_dict())
    ref.norm1.load_state_dict(ours.norm1.state_dict())
    ref.norm2.load_state_dict(ours.norm2.state_dict())
    x = torch.randn(3, 20, 32)
    mask = torch.ones(3, 20, dtype=torch.bool)
    mask[1, 15:] = False
    torch.testing.assert_close(ours(x, mask)[mask], ref(x, src_key_padding_mask=~mask)[mask], atol=1e-5, rtol=1e-5)


def test_cross_attention_with_itself_is_the_same_layer():
    torch.manual_seed(0)
    layer = CrossAttentionLayer(16, 4).eval()
    ref = nn.TransformerEncoderLayer(16, 4, dim_feedforward=64, batch_first=True).eval()
    ref.self_attn.load_state_dict(layer.attn.state_dict())
    ref.linear1.load_state_dict(layer.ffn[0].state_dict())
    ref.linear2.load_state_dict(layer.ffn[3].state_dict())
    ref.norm1.load_state_dict(layer.norm1.state_dict())
    ref.norm2.load_state_dict(layer.norm2.state_dict())
    x = torch.randn(2, 9, 16)
    torch.testing.assert_close(layer(x, x), ref(x), atol=1e-5, rtol=1e-5)


def test_speaker_interaction_mixes_speakers_only_within_a_sample_and_a_window():
    torch.manual_seed(0)
    sim = SpeakerInteraction(8, speakers=3, kernel=3).eval()
    x = torch.randn(2 * 3, 10, 8)
    base = sim(x, 2)
    moved = x.clone()
    moved[4, 5] += 1.0  # sample 1, speaker 1, frame 5
    diff = (sim(moved, 2) - base).abs().sum(-1)  # (6, 10)
    assert diff[:3].max() == 0  # the other sample is untouched
    assert diff[3:, 4:7].min() > 0  # every speaker of sample 1 sees it within +-1 frame (kernel 3)
    assert diff[3:, :4].max() == 0 and diff[3:, 7:].max() == 0


@pytest.mark.parametrize("mixer", ["full", "local", "mamba", "hyena"])
def test_forward_shapes_and_padding_does_not_leak(mixer):
    torch.manual_seed(0)
    model = LoCoNet(mixer=mixer, layers=1, mixer_kwargs={"window": 4} if mixer == "local" else None, **TINY).eval()
    faces = torch.randint(0, 256, (2, 3, 12, 32, 32), dtype=torch.uint8)
    audio = torch.randn(2, 48, 64)
    mask = torch.ones(2, 3, 12, dtype=torch.bool)
    mask[1, :, 8:] = False
    out = model(faces, audio, mask)
    assert {k: tuple(v.shape) for k, v in out.items()} == {k: (2, 3, 12, 2) for k in ("av", "a", "v")}
    # Changing the padded frames (faces) must not change any real frame's output.
    faces2 = faces.clone()
    faces2[1, :, 8:] = 0
    out2 = model(faces2, audio, mask)
    for key in ("av", "v"):
        torch.testing.assert_close(out[key][mask], out2[key][mask], atol=1e-4, rtol=1e-4)


def test_loss_is_masked_and_weighted():
    model = LoCoNet(layers=1, **TINY)
    out = {k: torch.randn(1, 3, 5, 2) for k in ("av", "a", "v")}
    labels = torch.randint(0, 2, (1, 3, 5))
    mask = torch.zeros(1, 3, 5, dtype=torch.bool)
    mask[0, 0, :2] = True
    losses = model.loss(out, labels, mask)
    ce = {k: nn.functional.cross_entropy(out[k][0, 0, :2], labels[0, 0, :2]) for k in out}
    for k in out:
        torch.testing.assert_close(losses[k], ce[k])
    torch.testing.assert_close(losses["loss"], ce["av"] + 0.4 * (ce["a"] + ce["v"]))
    out2 = {k: v.clone() for k, v in out.items()}
    out2["av"][0, 1:] = 100.0  # masked rows do not count
    torch.testing.assert_close(model.loss(out2, labels, mask)["loss"], losses["loss"])


def test_bad_inputs_raise_one_clear_error():
    model = LoCoNet(layers=1, **TINY)
    faces = torch.zeros(1, 3, 8, 32, 32)
    with pytest.raises(ValueError, match="4 log-mel frames per video frame"):
        model(faces, torch.zeros(1, 30, 64))
    with pytest.raises(ValueError, match=r"faces must be \(B, S=3"):
        model(torch.zeros(1, 2, 8, 32, 32), torch.zeros(1, 32, 64))
    with pytest.raises(ValueError, match="max_len"):
        model(torch.zeros(1, 3, 65, 32, 32), torch.zeros(1, 260, 64))
    with pytest.raises(ValueError, match="mask must be bool"):
        model(faces, torch.zeros(1, 32, 64), torch.ones(1, 3, 8))
    with pytest.raises(ValueError, match="unknown"):
        LoCoNet(mixer="nope", **TINY)


def test_the_stem_equals_a_3d_convolution():
    torch.manual_seed(0)
    visual = LoCoNet(layers=0, **TINY).visual
    x = torch.randn(2, 9, 20, 24, requires_grad=True)
    ours = visual.conv3d_stem(x)
    ref = nn.functional.conv3d(x.unsqueeze(1), visual.stem_conv.weight, stride=(1, 2, 2), padding=(2, 3, 3))
    torch.testing.assert_close(ours, ref.transpose(1, 2).reshape(18, *ref.shape[1:2], *ref.shape[3:]),
                               atol=1e-5, rtol=1e-5)
