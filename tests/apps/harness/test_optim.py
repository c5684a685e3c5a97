"""The one weight-decay rule (``spanmix.apps.harness.optim``): per mixer, and applied by every app's task."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from spanmix.apps.harness.optim import decay_split, param_groups
from spanmix.backbone import MixerStack, build_mixer, list_mixers
from torch import nn

DIM = 32
ATTENTION = {"qkv.weight", "out.weight"}
#: mixer -> the parameters that must be decayed at width 32 with default options; all others must not be.
#: A new mixer adds its line here, stating which of its parameters are weights to decay.
DECAYED = {
    "conv": {"pointwise_in.weight", "depthwise.weight", "pointwise_out.weight"},
    "full": ATTENTION,
    "local": ATTENTION,
    "ls": ATTENTION,
    "probsparse": ATTENTION,
    # not the implicit filter network (filter.linears.*, freq, bias): HyenaDNA trains it with wd 0
    "hyena": {"in_proj.weight", "short_conv.weight", "out_proj.weight"},
    # not A_log, D (flagged, as in mamba_ssm) nor dt_proj.bias
    "mamba": {"in_proj.weight", "conv1d.weight", "x_proj.weight", "dt_proj.weight", "out_proj.weight"},
    # not log_dt, log_A_real, A_imag (flagged, as the S4 code's register(..., wd=0.0)); C is decayed
    "s4d": {"C", "output_linear.weight"},
}


def names(module: nn.Module) -> set[str]:
    return {n for n, p in module.named_parameters() if p.requires_grad}


def test_every_registered_mixer_states_its_decay():
    missing = sorted(set(list_mixers()) - set(DECAYED))
    assert not missing, f"add the decayed parameters of {missing} to DECAYED"


@pytest.mark.parametrize("name", sorted(DECAYED))
def test_each_mixer_decays_exactly_its_weights(name):
    mixer = build_mixer(name, DIM)
    decayed, kept = decay_split(mixer)
    assert set(decayed) == DECAYED[name]
    assert set(kept) == names(mixer) - DECAYED[name]


def test_bidirectional_mamba_keeps_the_rule_in_both_directions():
    decayed, kept = decay_split(build_mixer("mamba", DIM, bidirectional=True))
    assert set(decayed) == DECAYED["mamba"] | {f"reverse.{n}" for n in DECAYED["mamba"]}
    assert {"A_log", "D", "reverse.A_log", "reverse.D"} <= set(kept)


def test_stack_norms_biases_and_tied_parameters():
    stack = MixerStack(DIM, "hyena,full", norm="rms")
    decayed, kept = decay_split(stack)
    assert not [n for n in decayed if "norm" in n or n.endswith("bias") or ".filter." in n]
    assert "blocks.1.mixer.qkv.weight" in decayed and "blocks.0.ffn.fc1.weight" in decayed

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(5, 4)
            self.head = nn.Linear(4, 5, bias=False)
            self.head.weight = self.embed.weight
            self.frozen = nn.Linear(4, 4)
            self.frozen.requires_grad_(False)

    decayed, kept = decay_split(Tied())
    assert decayed == ["embed.weight"] and kept == []


def test_two_dimensional_norm_scales_and_biases_are_not_decayed():
    class ChannelNorm(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(3, 4))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = ChannelNorm()
            self.rel_bias = nn.Parameter(torch.zeros(4, 4))
            self.proj = nn.Linear(4, 4)

    decayed, kept = decay_split(Net())
    assert decayed == ["proj.weight"] and set(kept) == {"norm.weight", "rel_bias", "proj.bias"}


def test_param_groups_carry_the_decay_and_refuse_bad_values():
    mixer = build_mixer("s4d", DIM)
    groups = param_groups(mixer, 0.05)
    assert [g["weight_decay"] for g in groups] == [0.05, 0.0]
    assert sum(len(g["params"]) for g in groups) == len(list(mixer.parameters()))
    assert len(param_groups(nn.LayerNorm(4), 0.1)) == 1
    for bad in (-0.1, "0.1", True):
        with pytest.raises(ValueError, match="weight_decay must be a number >= 0"):
            param_groups(mixer, bad)


# ---- every app's task optimises with this rule ------------------------------------------------------------------

def decayed_by_task(task) -> set[str]:
    """Names of ``task.net``'s parameters that the task's optimiser decays (weight_decay > 0)."""
    by_id = {id(p): n for n, p in task.net.named_parameters()}
    out = task.configure_optimizers()
    optimizer = out["optimizer"] if isinstance(out, dict) else out
    return {by_id[id(p)] for g in optimizer.param_groups if g["weight_decay"] > 0 for p in g["params"]}


def check_task(task, never: tuple[str, ...]) -> None:
    decayed = decayed_by_task(task)
    assert decayed == set(decay_split(task.net)[0])
    wrongly = sorted(n for n in decayed if any(part in n for part in never))
    assert not wrongly, f"decayed against the rule: {wrongly}"
    assert any(n.endswith("weight") for n in decayed)


SSM = ("A_log", ".D", "log_dt", "log_A_real", "A_imag", ".filter.", "norm", "bias")


def test_forecast_and_finance_tasks_use_the_rule():
    from spanmix.apps.forecast.finance_task import FinanceTask
    from spanmix.apps.forecast.task import ForecastTask

    shape = {"n_features": 3, "n_targets": 1, "seq_len": 16, "label_len": 0, "pred_len": 4, "n_time_features": 2}
    check_task(ForecastTask("smamba", {"d_model": 16, "d_ff": 16, "d_state": 4, "e_layers": 1}, **shape,
                            weight_decay=0.1), SSM)
    check_task(FinanceTask("t2v_transformer", {"d_model": 16, "depth": 1, "mixer": "s4d"}, n_features=3, seq_len=16,
                           weight_decay=0.1), SSM)


def test_eeg_task_uses_the_rule():
    from spanmix.apps.eeg.task import EEGTask

    tiny = {"emb": 8, "heads": 2, "patch_size": 8, "kernel_size": 5, "dropout": 0.0}
    check_task(EEGTask("dbconformer", tiny, n_chans=4, n_outputs=2, n_times=32, sfreq=64.0, weight_decay=0.1),
               SSM + ("bn",))


@pytest.mark.parametrize("mixer", ["hyena", "mamba", "s4d"])
def test_genomics_tasks_use_the_rule(mixer):
    # The task's old rule decayed every matrix: Mamba's A_log, S4D's log_A_real/A_imag, the Hyena filter FFN.
    from spanmix.apps.genomics.task import ClassifyTask, PretrainTask

    body = {"d_model": 16, "n_layer": 1, "d_inner": 32, "l_max": 64, "mixer": mixer}
    for task in (PretrainTask(None, body, weight_decay=0.1),
                 ClassifyTask("hyenadna", body, n_classes=2, weight_decay=0.1)):
        task._trainer = SimpleNamespace(max_steps=10, estimated_stepping_batches=10)
        check_task(task, SSM)


def test_layer_decay_scales_each_layers_lr_and_keeps_the_decay_rule():
    stack = nn.Sequential(nn.Embedding(10, 8), nn.Linear(8, 8), nn.LayerNorm(8), nn.Linear(8, 2))
    depth = {"0": 0, "1": 1, "2": 1, "3": 2}
    groups = param_groups(stack, 0.1, lr=1.0, layer_decay=0.5, layer_id=lambda n: depth[n.split(".")[0]],
                          num_layers=2)
    lrs = {id(p): g["lr"] for g in groups for p in g["params"]}
    assert lrs[id(stack[0].weight)] == 0.25 and lrs[id(stack[1].weight)] == 0.5 and lrs[id(stack[3].weight)] == 1.0
    assert {(g["layer"], g["weight_decay"]) for g in groups} == {(0, 0.1), (1, 0.1), (1, 0.0), (2, 0.1), (2, 0.0)}
    assert sum(len(g["params"]) for g in groups) == len(list(stack.parameters()))
    with pytest.raises(ValueError, match="layer_decay must be a number in"):
        param_groups(stack, 0.1, layer_decay=1.5)
    with pytest.raises(ValueError, match="needs lr, layer_id and num_layers"):
        param_groups(stack, 0.1, layer_decay=0.5)


def test_genomics_fine_tuning_freezes_the_backbone_and_decays_lr_by_layer():
    from spanmix.apps.genomics.task import ClassifyTask

    body = {"d_model": 16, "n_layer": 2, "d_inner": 32, "l_max": 64}
    frozen = ClassifyTask("hyenadna", body, n_classes=2, freeze_backbone=True)
    frozen._trainer = SimpleNamespace(max_steps=10, estimated_stepping_batches=10)
    optimised = [p for g in frozen.configure_optimizers()["optimizer"].param_groups for p in g["params"]]
    assert {id(p) for p in optimised} == {id(p) for p in frozen.net.head.parameters()}

    task = ClassifyTask("hyenadna", body, n_classes=2, lr=1e-3, layer_decay=0.5)
    task._trainer = SimpleNamespace(max_steps=10, estimated_stepping_batches=10)
    opt = task.configure_optimizers()["optimizer"]
    lr_of = {id(p): g["initial_lr"] for g in opt.param_groups for p in g["params"]}  # before the warm-up
    net = task.net
    assert lr_of[id(net.lm.embedding.weight)] == pytest.approx(1e-3 * 0.5**3)
    assert lr_of[id(net.lm.backbone.blocks[0].mixer.in_proj.weight)] == pytest.approx(1e-3 * 0.5**2)
    assert lr_of[id(net.lm.backbone.blocks[1].ffn.fc1.weight)] == pytest.approx(1e-3 * 0.5)
    assert lr_of[id(net.head.weight)] == lr_of[id(net.lm.backbone.norm.weight)] == 1e-3
    assert decayed_by_task(task) == set(decay_split(task.net)[0])  # the decay rule is unchanged
    with pytest.raises(ValueError, match="layer_decay must be in"):
        ClassifyTask("hyenadna", body, layer_decay=0.0)
