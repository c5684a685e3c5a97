"""CM-HRNN: shapes and targets as the official code, causality, parameter count, official loss weights."""
import pytest
import torch
from spanmix.apps.music.models.cm_hrnn import LOSS_WEIGHTS, CMHRNN, cm_hrnn_inputs


def _official_param_count(tiers: int) -> int:
    """Parameters of the official TF1 graph (model_w_mode_switch.py, run_3t_fc.sh / run_2t_fc.sh sizes: dim 256,
    n_rnn 2, frame 8, big frame 16, 246 input dims; BasicLSTMCell has ONE bias per gate, conv1d no bias),
    counted from the variable shapes it creates; its chord BiRNN is never called, so it has no variables."""
    lstm = lambda i, h: 4 * (i + h) * h + 4 * h  # noqa: E731
    lin = lambda i, o: i * o + o  # noqa: E731
    heads = lin(256, 16) + lin(16, 16) + lin(16, 2) + lin(256, 130) + lin(130, 130)
    conv = 8 * 246 * 256
    if tiers == 2:
        return lstm(8 * 246, 256) + lstm(256, 256) + lin(256, 256 * 8) + conv + heads
    return (lstm(16 * 246, 256) + lstm(256, 256) + lin(256, 512) + lin(8 * 246, 256) + 2 * lstm(256, 256)
            + lin(256, 256 * 8) + conv + heads)


@pytest.mark.parametrize("tiers", [2, 3])
def test_parameter_count_matches_official_graph(tiers):
    m = CMHRNN(tiers=tiers, chord_rnn=False)
    n_lstm_layers = 2 if tiers == 2 else 4
    torch_extra_bias = n_lstm_layers * 4 * 256  # PyTorch LSTMs keep b_ih and b_hh
    assert sum(p.numel() for p in m.parameters()) - torch_extra_bias == _official_param_count(tiers)
    assert (_official_param_count(2), _official_param_count(3)) == (3_888_714, 7_590_218)


def test_targets_start_after_the_first_frames_and_are_causal():
    torch.manual_seed(0)
    ev = torch.stack([torch.randint(0, n, (2, 80)) for n in (2, 49, 16, 130)], -1)
    x = cm_hrnn_inputs(ev)
    assert x.shape == (2, 80, 246) and torch.equal(x[:, :-1, 2:51].argmax(-1), ev[:, 1:, 1])  # next event's chord
    for tiers, T in ((2, 72), (3, 80)):
        m = CMHRNN(tiers=tiers, chord_rnn=False).eval()
        out = m(x[:, :T])
        assert out["pitch"].shape == (2, T - m.offset, 130) and out["bar"].shape == (2, T - m.offset, 2)
        x2 = x[:, :T].clone()
        x2[:, 40, 51:] = 0  # the melody of event 40 (not its chords)
        changed = (m(x2)["pitch"] - out["pitch"]).abs().amax((0, 2)) > 0
        assert int(changed.nonzero()[0]) + m.offset == 41  # first prediction that may use event 40


def test_chord_birnn_conditions_on_future_chords():
    torch.manual_seed(0)
    ev = torch.stack([torch.randint(0, n, (1, 48)) for n in (2, 49, 16, 130)], -1)
    m = CMHRNN(tiers=3, chord_rnn=True).eval()
    a = m(cm_hrnn_inputs(ev))["pitch"]
    ev2 = ev.clone()
    ev2[:, -1, 1] = (ev[:, -1, 1] + 7) % 49
    assert not torch.allclose(a[:, 0], m(cm_hrnn_inputs(ev2))["pitch"][:, 0])


def test_loss_weights_and_bad_input():
    assert LOSS_WEIGHTS == {"pitch": 0.4, "duration": 0.3, "bar": 0.3}  # run_adrm3t_fc.sh alpha1/alpha2
    m = CMHRNN(tiers=3)
    with pytest.raises(ValueError, match="multiple of 16"):
        m(torch.zeros(1, 40, 246))
    with pytest.raises(ValueError, match="246"):
        m(torch.zeros(1, 32, 197))
    with pytest.raises(ValueError, match="tiers"):
        CMHRNN(tiers=4)
