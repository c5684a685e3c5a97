"""EEG models: shapes and errors over every registered model, the parameter counts the papers claim."""
from __future__ import annotations

import pytest
import torch
from spanmix.apps.eeg.models import EEG_MODELS, build_eeg_model, count_parameters, list_eeg_models
from spanmix.apps.eeg.models.dbconformer import DBConformer
from spanmix.backbone.mixers.full import FullAttention

# Small shapes: each forward/backward takes milliseconds on a CPU.
SMALL = {
    "dbconformer": {"emb": 8, "heads": 2, "patch_size": 16, "kernel_size": 7},
    "eeg_conformer": {"emb": 8, "heads": 2, "depth": 1, "kernel_size": 5, "pool_size": 8, "pool_stride": 4},
    "eegnet": {"F1": 4, "D": 2, "kernel_length": 8},
}
C, T, K = 5, 64, 3


def make(name: str, **options):
    torch.manual_seed(0)
    return build_eeg_model(name, n_chans=C, n_outputs=K, n_times=T, sfreq=128.0, **{**SMALL[name], **options})


def test_registry_lists_the_three_models_and_rejects_unknown_names_and_options():
    assert list_eeg_models() == ["dbconformer", "eeg_conformer", "eegnet"]
    with pytest.raises(ValueError, match="unknown eeg model 'eegnetv9'"):
        build_eeg_model("eegnetv9", n_chans=C, n_outputs=K, n_times=T, sfreq=128.0)
    with pytest.raises(ValueError, match="unknown option"):
        build_eeg_model("eegnet", n_chans=C, n_outputs=K, n_times=T, sfreq=128.0, depth=3)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_forward_backward_shapes_and_features(name):
    model = make(name)
    x = torch.randn(4, C, T, requires_grad=True)
    logits, extras = model(x, return_features=True)
    assert logits.shape == (4, K) and extras["features"].shape[0] == 4
    logits.sum().backward()
    assert x.grad is not None and all(p.grad is not None for p in model.parameters() if p.requires_grad)
    model.eval()
    assert torch.allclose(model(x[:1]), model(x)[:1], atol=1e-5)  # epochs are classified independently


@pytest.mark.parametrize("name", sorted(SMALL))
def test_bad_input_is_one_clear_error(name):
    model = make(name)
    with pytest.raises(ValueError, match=rf"n_chans={C}, n_times={T}"):
        model(torch.randn(2, C + 1, T))
    bad = torch.randn(2, C, T)
    bad[0, 1, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model(bad)
    with pytest.raises(ValueError, match="n_chans must be an integer >= 1"):
        EEG_MODELS.build(name, n_chans=0, n_outputs=K, n_times=T, sfreq=128.0, **SMALL[name])


def test_parameter_counts_at_bci_iv_2a_shape_and_the_eightfold_claim():
    shape = dict(n_chans=22, n_outputs=4, n_times=1000, sfreq=250.0)
    db = count_parameters(build_eeg_model("dbconformer", **shape))
    conformer = count_parameters(build_eeg_model("eeg_conformer", **shape))
    assert conformer == 789_572  # braindecode's EEGConformer at this shape
    assert db == 93_813  # our re-derivation, counted term by term in the DBConformer docstring's setting
    assert conformer / db >= 8.0
    assert count_parameters(build_eeg_model("eegnet", **shape)) == 3_444


def test_dbconformer_channel_attention_weights_are_a_distribution_over_channels():
    model = make("dbconformer").eval()
    _, extras = model(torch.randn(3, C, T), return_features=True)
    w = extras["channel_weights"]
    assert w.shape == (3, C) and torch.all(w > 0)
    assert torch.allclose(w.sum(-1), torch.ones(3))
    assert extras["temporal_tokens"].shape == (3, T // 16, 8) and extras["spatial_tokens"].shape == (3, C, 8)
    plain = make("dbconformer", channel_attention=False).eval()
    _, extras = plain(torch.randn(3, C, T), return_features=True)
    assert torch.allclose(extras["channel_weights"], torch.full((3, C), 1 / C))


def test_dbconformer_uses_the_backbone_stack_and_swaps_the_mixer_by_name():
    model = make("dbconformer")
    mixers = [b.mixer for b in model.temporal_transformer.blocks] + [b.mixer for b in model.spatial_transformer.blocks]
    assert len(mixers) == 4 and all(isinstance(m, FullAttention) for m in mixers)
    local = make("dbconformer", mixer="local", depth_temporal=1, depth_spatial=1)
    assert local(torch.randn(2, C, T)).shape == (2, K)
    assert isinstance(local, DBConformer)


def test_dbconformer_spatial_branch_is_equivariant_to_channel_order_before_positions():
    # The spatial stem is shared across electrodes: permuting channels permutes the channel tokens.
    model = make("dbconformer").eval()
    x = torch.randn(2, C, T)
    perm = torch.tensor([4, 2, 0, 1, 3])
    tokens = model.spatial_embedding(x)
    assert torch.allclose(model.spatial_embedding(x[:, perm]), tokens[:, perm], atol=1e-6)


def test_too_short_epochs_are_rejected():
    with pytest.raises(ValueError, match="shorter than one patch"):
        build_eeg_model("dbconformer", n_chans=C, n_outputs=K, n_times=100, sfreq=250.0)
    with pytest.raises(ValueError, match="too short"):
        build_eeg_model("eeg_conformer", n_chans=C, n_outputs=K, n_times=80, sfreq=250.0)


def test_eegnet_follows_the_official_keras_settings():
    from spanmix.apps.eeg.models.eegnet import max_norm_

    torch.manual_seed(0)
    net = build_eeg_model("eegnet", n_chans=22, n_outputs=4, n_times=1000, sfreq=250.0)
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 3 and all(m.momentum == 0.01 and m.eps == 1e-3 for m in bns)  # Keras 0.99 / 1e-3
    # Glorot uniform with Keras' fans: the depthwise spatial conv (16, 1, 22, 1), groups 8, has
    # fan_in 22·8 = 176 and fan_out 22·2 = 44 (torch's xavier would use 22 and 352, its default init 1/sqrt(22))
    spatial, limit = net.features[2].weight, (6 / (176 + 44)) ** 0.5
    w = net.features[0].weight  # temporal conv (8, 1, 1, 64): fans 64 and 512
    assert w.abs().max() <= (6 / (64 + 512)) ** 0.5 and w.abs().max() > 0.9 * (6 / (64 + 512)) ** 0.5
    assert spatial.abs().max() <= limit and spatial.abs().max() > 0.9 * limit
    assert torch.all(net.classifier.bias == 0)
    # max-norm as Keras applies it: on the stored weight after a step, never inside the forward pass
    assert not any("parametrizations" in k for k in net.state_dict())
    with torch.no_grad():
        net.classifier.weight.mul_(10.0)
    net.eval()
    x = torch.randn(2, 22, 1000)
    logits, extra = net(x, return_features=True)
    assert torch.allclose(logits, extra["features"] @ net.classifier.weight.T + net.classifier.bias, atol=1e-5)
    assert net.classifier.weight.norm(dim=1).max() > 0.25  # outside the ball until the next step
    net.apply_constraints()
    assert torch.allclose(net.classifier.weight.norm(dim=1).clamp(min=0.25), torch.full((4,), 0.25), atol=1e-5)
    inside = torch.full((3, 4), 0.1)
    assert torch.equal(max_norm_(inside.clone(), 1.0), inside)  # a weight inside the ball is left as it is


def test_the_task_applies_eegnet_max_norm_after_each_optimiser_step():
    import lightning as L
    from spanmix.apps.eeg.task import EEGTask

    torch.manual_seed(0)
    task = EEGTask("eegnet", SMALL["eegnet"], n_chans=C, n_outputs=K, n_times=T, sfreq=128.0, lr=10.0)
    from spanmix.apps.eeg.data import EpochDataset

    data = torch.utils.data.DataLoader(EpochDataset(torch.randn(24, C, T) * 50, torch.randint(0, K, (24,))),
                                       batch_size=8)
    trainer = L.Trainer(max_steps=3, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(task, train_dataloaders=data)
    assert task.net.classifier.weight.norm(dim=1).max() <= 0.25 + 1e-5  # lr 10 would throw it far outside
    assert task.net.features[2].weight.flatten(1).norm(dim=1).max() <= 1.0 + 1e-5
