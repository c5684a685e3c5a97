"""LV-MAE probes: the encoder stays frozen, the attentive probe is the official block -> LN -> linear on
[CLS], and the probes learn a task the frozen features carry."""
from __future__ import annotations

import pytest
import torch

from spanmix.apps.video.lvmae.task import LVMAETask, ProbeTask, load_lvmae_weights, warmup_cosine

OPTS = dict(input_dim=12, dim=16, depth=1, heads=2, decoder_dim=8, decoder_depth=1, decoder_heads=2, max_segments=32)


def _data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (n,), generator=g)
    centres = torch.eye(12)[:3] * 2
    x = centres[labels][:, None] + torch.randn(n, 10, 12, generator=g)
    return torch.nn.functional.normalize(x, dim=-1), labels


def test_encoder_is_frozen_and_loaded(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    pre = LVMAETask(OPTS)
    save_file({f"model.{k}": v.contiguous() for k, v in pre.model.state_dict().items()}, tmp_path / "m.safetensors")
    probe = ProbeTask(OPTS, pretrained=str(tmp_path / "m.safetensors"), probe="attentive", num_classes=3)
    for k, v in pre.model.state_dict().items():
        assert torch.equal(probe.encoder.state_dict()[k], v)
    before = {k: v.clone() for k, v in probe.encoder.state_dict().items()}
    opt = torch.optim.Adam([p for p in probe.parameters() if p.requires_grad], lr=1e-2)
    x, y = _data()
    probe.train()
    assert not probe.encoder.training
    for _ in range(5):
        loss = torch.nn.functional.cross_entropy(probe(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert all(torch.equal(before[k], v) for k, v in probe.encoder.state_dict().items())
    assert all(p.grad is None for p in probe.encoder.parameters())
    assert [type(m).__name__ for m in probe.block.blocks] == ["Block"] and probe.block.schedule == ["full"]
    with pytest.raises(ValueError, match="does not fit this LV-MAE"):
        ProbeTask({**OPTS, "dim": 24}, pretrained=str(tmp_path / "m.safetensors"), num_classes=3)


@pytest.mark.parametrize("kind", ["attentive", "linear", "mean"])
def test_probes_learn_a_task_the_features_carry(kind):
    torch.manual_seed(0)
    probe = ProbeTask(OPTS, pretrained=None, probe=kind, num_classes=3, lr=1e-2)
    opt = torch.optim.Adam([p for p in probe.parameters() if p.requires_grad], lr=1e-2 if kind != "linear" else 3e-2)
    x, y = _data()
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(probe(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    xt, yt = _data(seed=1)
    acc = (probe(xt).argmax(-1) == yt).float().mean()
    assert acc > 0.6  # chance is 1/3


def test_pretraining_task_predicts_the_cls_representation():
    torch.manual_seed(0)
    task = LVMAETask(OPTS).eval()
    x, _ = _data(4)
    valid = torch.ones(4, 10, dtype=torch.bool)
    z = task.predict_step({"x": x, "valid": valid}, 0)
    assert z.shape == (4, 16)
    torch.testing.assert_close(z, task.model.encode(x, valid)[:, 0])


def test_schedule_and_bad_options():
    assert warmup_cosine(0.0, 2, 10, 1.0) == 0.0 and warmup_cosine(1.0, 2, 10, 1.0) == 0.5
    assert warmup_cosine(2.0, 2, 10, 1.0) == 1.0 and abs(warmup_cosine(10.0, 2, 10, 1.0)) < 1e-12
    with pytest.raises(ValueError, match="probe must be"):
        ProbeTask(OPTS, probe="knn")
    with pytest.raises(ValueError, match="num_classes must be >= 2"):
        ProbeTask(OPTS, num_classes=0)
    with pytest.raises(FileNotFoundError, match="no LV-MAE weights"):
        load_lvmae_weights(LVMAETask(OPTS).model, "/nonexistent.ckpt")
