"""The backbone melody LM: step form == forward, causality in the melody, chord conditioning, adapters."""
import pytest
import torch
from spanmix.apps.music.models import MelodyLM



def lm_args(b):
    return (b["events"], b["bar_pos"], b["segment"], b["chords"], b["chord_pos"], b["chord_len"])


SCHEDULES = [("local*3,full", None), ("mamba", 2), ("hyena", 2), ("full", None)]


def _lm(schedule, depth, **kw):
    torch.manual_seed(0)
    return MelodyLM(32, schedule, depth=depth, window=8, max_len=64, dropout=0.0, **kw).eval()


@pytest.mark.parametrize("schedule,depth", SCHEDULES)
def test_step_equals_forward(batch, schedule, depth):
    lm = _lm(schedule, depth)
    full = lm(*lm_args(batch))
    state = lm.init_state(2, lm.encode_chords(batch["chords"], batch["chord_pos"], batch["chord_len"]))
    prev = torch.zeros(2, 4, dtype=torch.long)
    for t in range(batch["events"].shape[1]):
        out, state = lm.step(prev, batch["bar_pos"][:, t], batch["segment"][:, t], state)
        for h in out:
            torch.testing.assert_close(out[h], full[h][:, t], atol=2e-5, rtol=1e-4)
        prev = batch["events"][:, t]


@pytest.mark.parametrize("schedule,depth", SCHEDULES)
def test_melody_step_never_sees_future_melody(batch, schedule, depth):
    lm = _lm(schedule, depth)
    a = lm(*lm_args(batch))
    changed = dict(batch)
    changed["events"] = batch["events"].clone()
    changed["events"][:, 20:, [0, 2, 3]] = 0  # future melody (not the chords) changes
    b = lm(*lm_args(changed))
    for h in a:
        torch.testing.assert_close(a[h][:, :21], b[h][:, :21])  # event 20's prediction uses events < 20
        assert not torch.allclose(a[h][:, 21:], b[h][:, 21:])


def test_chords_change_output_and_future_chords_are_visible(batch):
    lm = _lm("local*3,full", None)
    a = lm(*lm_args(batch))
    changed = dict(batch)
    changed["chords"] = batch["chords"].clone()
    changed["chords"][:, -1] = (batch["chords"][:, -1] + 5) % 49  # only the LAST chord segment changes
    b = lm(*lm_args(changed))
    assert not torch.allclose(a["pitch"][:, 0], b["pitch"][:, 0])  # ... and the first step already sees it


def test_unconditioned_baseline_ignores_chords(batch):
    lm = _lm("full", None, conditioning=False)
    changed = dict(batch, chords=(batch["chords"] + 3) % 49)
    torch.testing.assert_close(lm(*lm_args(batch))["pitch"], lm(*lm_args(changed))["pitch"])


@pytest.mark.parametrize("kind", ["linear", "conv", "transformer"])
def test_adapters_frozen_base_trainable_counts_and_causality(batch, kind):
    lm = _lm("local*3,full", None)
    base = {k: v.clone() for k, v in lm.state_dict().items()}
    before = lm(*lm_args(batch))["pitch"]
    lm.add_adapters(kind, 8, after=[1, 3])
    torch.testing.assert_close(lm(*lm_args(batch))["pitch"], before)  # zero-initialised up-projection
    trainable = [n for n, p in lm.named_parameters() if p.requires_grad]
    assert trainable and all(n.startswith("adapters.") for n in trainable)
    expected = sum(p.numel() for a in lm.adapters.values() for p in a.parameters())
    assert sum(p.numel() for p in lm.parameters() if p.requires_grad) == expected
    if kind == "linear":
        assert expected == 2 * (32 * 8 + 8 + 8 * 32 + 32)
    lm.train()
    opt = torch.optim.SGD([p for p in lm.parameters() if p.requires_grad], lr=0.5)
    for _ in range(2):
        opt.zero_grad()
        lm(*lm_args(batch))["pitch"].logsumexp(-1).mean().backward()
        opt.step()
    lm.eval()
    for k, v in base.items():
        torch.testing.assert_close(lm.state_dict()[k], v)  # the base never moved
    # causality and the step form hold with adapters too
    state = lm.init_state(2, lm.encode_chords(batch["chords"], batch["chord_pos"], batch["chord_len"]))
    full = lm(*lm_args(batch))
    prev = torch.zeros(2, 4, dtype=torch.long)
    for t in range(6):
        out, state = lm.step(prev, batch["bar_pos"][:, t], batch["segment"][:, t], state)
        torch.testing.assert_close(out["pitch"], full["pitch"][:, t], atol=2e-5, rtol=1e-4)
        prev = batch["events"][:, t]


def test_bad_input():
    lm = _lm("full", None)
    with pytest.raises(ValueError, match=r"\(B, T, 4\)"):
        lm(torch.zeros(1, 5, dtype=torch.long), None, None)
    with pytest.raises(ValueError, match="outside"):
        lm.add_adapters("conv", 4, after=[7])
    with pytest.raises(ValueError, match="unknown adapter"):
        lm.add_adapters("lora", 4)
