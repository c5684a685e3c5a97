"""Forecast models: the uniform interface over every registered model, and each paper model's own claims."""
from __future__ import annotations

import math

import pytest
import torch

from spanmix.apps.forecast.models import (
    FORECAST_MODELS,
    ForecastModel,
    build_forecast_model,
    count_parameters,
    list_forecast_models,
)
from spanmix.apps.forecast.models.baselines import DLinear, MovingAverage, NaiveForecast
from spanmix.apps.forecast.models.embed import (
    CalendarEmbedding,
    DataEmbedding,
    InstanceNorm,
    PositionalEmbedding,
    TokenEmbedding,
)
from spanmix.apps.forecast.models.gateformer import Gateformer, VariateGate
from spanmix.apps.forecast.models.informer import Informer
from spanmix.backbone.mixers.full import FullAttention
from spanmix.backbone.mixers.mamba import Mamba
from spanmix.backbone.mixers.probsparse import ProbSparseAttention

SEQ, LABEL, PRED, MARKS = 48, 24, 12, 4
# Small sizes: every test runs on a CPU in well under a second per model.
SMALL = {
    "informer": {"d_model": 16, "n_heads": 2, "e_layers": 2, "d_layers": 1, "d_ff": 32, "factor": 2},
    "gateformer": {"d_model": 16, "n_heads": 2, "e_layers": 1, "d_ff": 32},
    "smamba": {"d_model": 16, "d_state": 4, "d_ff": 16},
    "linear": {},
    "naive": {"season": 24},
}
MODES = {"M": (3, 3), "S": (1, 1), "MS": (3, 1)}  # features mode -> (n_features, n_targets)


def make(name: str, mode: str = "MS", seq_len: int = SEQ, **options) -> ForecastModel:
    n_features, n_targets = MODES[mode]
    torch.manual_seed(0)
    return build_forecast_model(name, n_features=n_features, n_targets=n_targets, seq_len=seq_len,
                                label_len=LABEL, pred_len=PRED, n_time_features=MARKS,
                                **{**SMALL[name], **options})


def batch(model: ForecastModel, B: int = 2, seed: int = 1) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    L, C = model.seq_len, model.n_features
    x_enc = torch.randn(B, L, C, generator=g)
    x_dec = torch.cat([x_enc[:, L - model.label_len:], torch.zeros(B, model.pred_len, C)], dim=1)
    marks = torch.rand(B, L + model.pred_len, MARKS, generator=g) - 0.5
    return x_enc, marks[:, :L], x_dec, marks[:, L - model.label_len:L + model.pred_len]


def test_registry_lists_every_model_and_rejects_unknown_names_and_options():
    assert set(SMALL) <= set(list_forecast_models())
    with pytest.raises(ValueError, match="unknown forecast model 'informr'"):
        FORECAST_MODELS.get("informr")
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['d_modle'\]"):
        make("informer", d_modle=8)


# --------------------------------------------------------------------------------- uniform interface
@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("name", sorted(SMALL))
def test_output_shape_for_every_features_mode(name, mode):
    model = make(name, mode).eval()
    y = model(*batch(model, B=3))
    assert y.shape == (3, PRED, MODES[mode][1])
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", sorted(set(SMALL) - {"naive"}))
def test_every_parameter_gets_a_finite_gradient(name):
    model = make(name, "M").train()
    torch.manual_seed(0)
    model(*batch(model)).square().mean().backward()
    for pname, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, f"{name}: no gradient for {pname}"
            assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient for {pname}"


@pytest.mark.parametrize("name", sorted(SMALL))
def test_bad_input_is_one_clear_error(name):
    model = make(name, "M")
    x_enc, x_mark_enc, x_dec, x_mark_dec = batch(model)
    with pytest.raises(ValueError, match=rf"x_enc of shape \(batch, {SEQ}, 3\)"):
        model(x_enc[..., :2], x_mark_enc, x_dec, x_mark_dec)
    with pytest.raises(ValueError, match="NaN"):
        model(x_enc.index_fill(1, torch.tensor([3]), float("nan")), x_mark_enc, x_dec, x_mark_dec)


def test_standard_arguments_are_checked():
    with pytest.raises(ValueError, match="n_targets=4 exceeds n_features=3"):
        build_forecast_model("linear", n_features=3, n_targets=4, seq_len=8, label_len=0, pred_len=2,
                             n_time_features=0)
    with pytest.raises(ValueError, match="pred_len must be an integer >= 1"):
        build_forecast_model("linear", n_features=1, n_targets=1, seq_len=8, label_len=0, pred_len=0,
                             n_time_features=0)


# ------------------------------------------------------------------------------------------ Informer
def encoder_input_lengths(model: Informer) -> list[int]:
    lengths = []
    hooks = [layer.register_forward_pre_hook(lambda m, args: lengths.append(args[0].shape[1]))
             for layer in model.encoder_layers]
    model(*batch(model))
    for h in hooks:
        h.remove()
    return lengths


def test_informer_distilling_halves_the_encoder_length_per_layer():
    model = make("informer", seq_len=96, e_layers=3).eval()
    assert encoder_input_lengths(model) == [96, 48, 24] == model.encoder_lengths()
    no_distil = make("informer", seq_len=96, e_layers=3, distil=False).eval()
    assert encoder_input_lengths(no_distil) == [96, 96, 96]
    # TSLib's ConvLayer pads 2 per side: 96 -> 49 -> 26; Informer2020's pads 1 on torch 2 (its
    # `torch.__version__ >= '1.5.0'` string test). The old `official=True` padded 2 for both.
    tslib = make("informer", seq_len=96, e_layers=3, official="tslib").eval()
    assert encoder_input_lengths(tslib) == [96, 49, 26] == tslib.encoder_lengths()
    informer2020 = make("informer", seq_len=96, e_layers=3, official="informer2020").eval()
    assert encoder_input_lengths(informer2020) == [96, 48, 24] == informer2020.encoder_lengths()


def attention_layers(model: Informer) -> dict[str, list]:
    return {"encoder": [layer.mixer for layer in model.encoder_layers],
            "self": [layer.self_attention for layer in model.decoder_layers],
            "cross": [layer.cross_attention for layer in model.decoder_layers]}


def test_informer_official_switch_names_the_repository_and_matches_its_code():
    """Each switch reproduces one repository. Oracle run (scratch copies of zhouhaoyi/Informer2020@29f2a73 and
    thuml/Time-Series-Library@4e938a1, their weights copied into ours, C=3, D=16, 2 heads, d_ff 32, L=96,
    label 48, H=24, eval, the same global-RNG key samples): max |official - ours| = 3.3e-7 (Informer2020 vs
    "informer2020") and 2.4e-7 (TSLib vs "tslib"); crossing the modes gives 0.68-1.45 (outputs ~1)."""
    options = {"d_model": 16, "n_heads": 2, "d_ff": 32, "e_layers": 2, "d_layers": 1, "factor": 5}
    sizes = {"n_features": 3, "n_targets": 3, "seq_len": 96, "label_len": 48, "pred_len": 24, "n_time_features": 4}
    built = {mode: build_forecast_model("informer", **sizes, **options, official=mode)
             for mode in (None, "informer2020", "tslib")}
    # Parameter counts of the official models at these sizes (token-conv / timeF biases differ).
    assert {m: count_parameters(net) for m, net in built.items()} == {None: 9171, "informer2020": 9203, "tslib": 9139}

    ours, i2020, tslib = (attention_layers(built[m]) for m in (None, "informer2020", "tslib"))
    # Informer2020: backbone ProbSparse encoder, scrambled (mix) decoder self-attention, full cross-attention.
    assert all(isinstance(m, ProbSparseAttention) and m.lazy_causal == "cumsum" for m in i2020["encoder"])
    assert [(a.kind, a.mix, a.lazy_causal) for a in i2020["self"]] == [("prob", True, "cumsum")]
    assert [(a.kind, a.mix) for a in i2020["cross"]] == [("full", False)]
    # TSLib: every attention is ProbSparse with its output read as (B, L, H*d) without moving the heads.
    assert all(a.kind == "prob" and a.mix for a in tslib["encoder"] + tslib["self"] + tslib["cross"])
    assert all(a.lazy_causal == "cumsum" for a in tslib["self"])
    # Ours: heads merged properly, full cross-attention, running-mean lazy queries.
    assert [(a.kind, a.mix, a.lazy_causal) for a in ours["self"]] == [("prob", False, "cummean")]
    assert all(m.measure == "informer" for mode in (ours, i2020) for m in mode["encoder"])

    for bad, match in ((True, "official must be None"), ("yes", "official must be None")):
        with pytest.raises(ValueError, match=match):
            make("informer", official=bad)
    with pytest.raises(ValueError, match="needs mixer='probsparse'"):
        make("informer", official="tslib", mixer="full")


@pytest.mark.parametrize("train", [False, True])
def test_informer_never_reads_the_horizon_part_of_x_dec(train):
    model = make("informer", seq_len=96).train(train)
    x_enc, x_mark_enc, x_dec, x_mark_dec = batch(model)
    leaked = x_dec.clone()
    leaked[:, LABEL:] = torch.randn(2, PRED, 3) * 10  # e.g. a data module that put the true future there
    torch.manual_seed(3)
    clean = model(x_enc, x_mark_enc, x_dec, x_mark_dec)
    torch.manual_seed(3)
    assert torch.equal(model(x_enc, x_mark_enc, leaked, x_mark_dec), clean)
    # ...while the known label_len steps and the future time marks do matter.
    torch.manual_seed(3)
    start = x_dec.clone()
    start[:, :LABEL] += 1.0
    assert not torch.allclose(model(x_enc, x_mark_enc, start, x_mark_dec), clean)


def test_informer_uses_probsparse_and_swaps_to_a_vanilla_transformer():
    prob = make("informer")
    assert sum(isinstance(m, ProbSparseAttention) for m in prob.modules()) == 2
    assert all(layer.self_attention.kind == "prob" for layer in prob.decoder_layers)
    vanilla = make("informer", mixer="full")
    assert not any(isinstance(m, ProbSparseAttention) for m in vanilla.modules())
    assert sum(isinstance(m, FullAttention) for m in vanilla.modules()) == 2
    assert all(layer.self_attention.kind == "full" for layer in vanilla.decoder_layers)
    assert count_parameters(prob) == count_parameters(vanilla)  # same weights, different attention core
    local = make("informer", mixer="local", mixer_options={"window": 8})
    assert local(*batch(local)).shape == (2, PRED, 1)


def test_informer_decoder_is_causal_over_its_own_steps():
    """Masked decoder self-attention (full core: exact): decoder step t does not see steps after t."""
    model = make("informer", mixer="full", d_layers=1).eval()
    x_enc, x_mark_enc, x_dec, x_mark_dec = batch(model)
    out = model(x_enc, x_mark_enc, x_dec, x_mark_dec)
    later = x_mark_dec.clone()
    later[:, -1] += 1.0  # change only the last decoder step's time features
    out2 = model(x_enc, x_mark_enc, x_dec, later)
    torch.testing.assert_close(out2[:, :-1], out[:, :-1])
    assert not torch.allclose(out2[:, -1], out[:, -1])


def test_informer_needs_time_features_unless_embed_none():
    with pytest.raises(ValueError, match="embed='timeF' needs time features"):
        build_forecast_model("informer", n_features=1, n_targets=1, seq_len=16, label_len=8, pred_len=4,
                             n_time_features=0, d_model=8, n_heads=2, d_ff=8)
    model = build_forecast_model("informer", n_features=1, n_targets=1, seq_len=16, label_len=8, pred_len=4,
                                 n_time_features=0, d_model=8, n_heads=2, d_ff=8, embed="none")
    assert model(torch.randn(2, 16, 1)).shape == (2, 4, 1)


# -------------------------------------------------------------------------------- S-Mamba / iTransformer
def test_smamba_is_bidirectional_mamba_and_mixer_full_is_itransformer():
    smamba = make("smamba")
    mambas = [m for m in smamba.modules() if isinstance(m, Mamba) and m.bidirectional]
    assert len(mambas) == 2 and all(m.d_conv == 2 and m.expand == 1 for m in mambas)
    itrans = make("smamba", mixer="full", n_heads=2)
    assert not any(isinstance(m, Mamba) for m in itrans.modules())
    assert sum(isinstance(m, FullAttention) for m in itrans.modules()) == 2
    assert [type(layer.mixer) for layer in itrans.layers] == [FullAttention, FullAttention]


def variate_dependence(model: ForecastModel, source: int, target: int) -> float:
    """How much output series ``target`` moves when only input series ``source`` changes."""
    model.eval()
    x_enc, x_mark_enc, x_dec, x_mark_dec = batch(model)
    out = model(x_enc, x_mark_enc, x_dec, x_mark_dec)
    moved = x_enc.clone()
    moved[..., source] = torch.randn_like(moved[..., source]) * 2
    return (model(moved, x_mark_enc, x_dec, x_mark_dec) - out)[..., target].abs().max().item()


def test_smamba_variate_mixing_is_bidirectional():
    assert variate_dependence(make("smamba", "M"), source=2, target=0) > 1e-4  # first variate sees the last
    assert variate_dependence(make("smamba", "M"), source=0, target=2) > 1e-4
    one_way = make("smamba", "M", mixer_options={"bidirectional": False})
    assert variate_dependence(one_way, source=2, target=0) == 0.0  # a causal scan cannot look back
    assert variate_dependence(one_way, source=0, target=2) > 1e-4


@pytest.mark.parametrize("name, options", [("smamba", {}), ("smamba", {"mixer": "full", "n_heads": 2}),
                                           ("gateformer", {})])
def test_instance_normalised_models_are_scale_and_shift_equivariant(name, options):
    model = make(name, "M", **options).eval().double()
    x_enc, x_mark_enc, x_dec, x_mark_dec = (t.double() for t in batch(model))
    a = torch.tensor([3.0, 0.5, 20.0], dtype=torch.float64)
    b = torch.tensor([-5.0, 100.0, 0.25], dtype=torch.float64)
    out = model(x_enc, x_mark_enc, x_dec, x_mark_dec)
    out_affine = model(a * x_enc + b, x_mark_enc, a * x_dec + b, x_mark_dec)
    torch.testing.assert_close(out_affine, a * out + b, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("mixer", ["mamba", "full"])
def test_smamba_and_itransformer_use_norm_false_is_the_normalisation_ablation(mixer):
    """Official --use_norm 0: no instance normalisation (the option did not exist before)."""
    normed = make("smamba", "M", mixer=mixer, n_heads=2).eval()
    plain = make("smamba", "M", mixer=mixer, n_heads=2, use_norm=False).eval()
    plain.load_state_dict(normed.state_dict())
    x_enc, x_mark_enc, _, _ = batch(normed)
    x_std, _ = normed.norm.normalize(x_enc)  # already instance-normalised input: the switch changes nothing
    torch.testing.assert_close(plain(x_std, x_mark_enc), normed(x_std, x_mark_enc), atol=1e-4, rtol=1e-4)
    shifted = x_enc + 5.0
    torch.testing.assert_close(normed(shifted, x_mark_enc), normed(x_enc, x_mark_enc) + 5.0, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(plain(shifted, x_mark_enc), plain(x_enc, x_mark_enc) + 5.0, atol=1e-2)
    tokens = plain.embedding(x_enc, x_mark_enc)
    for layer in plain.layers:
        tokens = layer(tokens)
    expected = plain.projection(plain.final_norm(tokens))[:, :3].transpose(1, 2)
    torch.testing.assert_close(plain(x_enc, x_mark_enc), expected)


def test_smamba_time_marks_become_tokens():
    with_marks = make("smamba")
    x_enc, x_mark_enc, _, _ = batch(with_marks)
    tokens = with_marks.embedding(x_enc, x_mark_enc)
    assert tokens.shape == (2, 3 + MARKS, 16)
    with_marks.eval()
    assert not torch.allclose(with_marks(x_enc, x_mark_enc), with_marks(x_enc, x_mark_enc + 0.3))
    without = make("smamba", use_time_tokens=False).eval()
    torch.testing.assert_close(without(x_enc, x_mark_enc), without(x_enc, x_mark_enc + 0.3))


# ------------------------------------------------------------------------------------------ Gateformer
def test_variate_gate_shapes_and_limits():
    gate = VariateGate(8)
    a, b = torch.randn(2, 5, 8), torch.randn(2, 5, 8)
    out = gate(a, b)
    assert out.shape == (2, 5, 8) and gate.gate(a, b).shape == (2, 5, 8)
    assert count_parameters(gate) == 2 * 8 * 8 + 2 * 8
    g = gate.gate(a, b)
    torch.testing.assert_close(out, g * a + (1 - g) * b)
    with torch.no_grad():
        for proj in (gate.proj_a, gate.proj_b):
            proj.weight.zero_()
        gate.proj_a.bias.fill_(100.0)  # gate = sigmoid(100 + b_b) = 1 exactly in float32
        gate.proj_b.bias.zero_()
    assert torch.equal(gate.gate(a, b), torch.ones_like(a))
    torch.testing.assert_close(gate(a, b), a)
    with torch.no_grad():
        gate.proj_a.bias.fill_(-100.0)
    torch.testing.assert_close(gate(a, b), b)
    with pytest.raises(ValueError, match=r"same shape \(\.\.\., 8\)"):
        gate(a, b[..., :4])


def test_gateformer_structure_and_configurable_encoders():
    model = make("gateformer", "M")
    assert model.patch_embedding.n_patches == (SEQ + 8 - 8) // 8 + 1 == 7
    x_enc = batch(model)[0]
    patches = model.patch_embedding(x_enc.transpose(1, 2))
    assert patches.shape == (2 * 3, 7, 16)
    assert [b.mixer.mixer_name for b in model.temporal_encoder.blocks] == ["full"]
    hybrid = make("gateformer", "M", e_layers=2, temporal_mixer="local,full", variate_mixer="mamba",
                  temporal_options={"window": 3})
    assert [b.mixer.mixer_name for b in hybrid.temporal_encoder.blocks] == ["local", "full"]
    assert [b.mixer.mixer_name for b in hybrid.variate_encoder.blocks] == ["mamba", "mamba"]
    assert hybrid(*batch(hybrid)).shape == (2, PRED, 3)
    assert isinstance(model, Gateformer)


def test_gateformer_gates_fuse_the_documented_inputs():
    """Gate 2 fully open on its first input: the variate encoder is bypassed."""
    model = make("gateformer", "M").eval()
    with torch.no_grad():
        model.gate_variate.proj_a.weight.zero_()
        model.gate_variate.proj_b.weight.zero_()
        model.gate_variate.proj_a.bias.fill_(100.0)
        model.gate_variate.proj_b.bias.zero_()
    x_enc = batch(model)[0]
    x, stats = model.norm.normalize(x_enc)
    expected = model.norm.denormalize(model.projection(model.variate_embeddings(x)).transpose(1, 2), stats)
    torch.testing.assert_close(model(x_enc), expected)


def test_gateformer_ffn_is_the_official_relu_by_default_and_gelu_on_request():
    """nn.TransformerEncoderLayer's FFN: linear2(relu(linear1(x))). Copying nyuolab/Gateformer@f209962's
    weights into ours (its head flattens (D, n_p), ours (n_p, D): a transposed copy) gave a max output
    difference of 9.5e-7 with relu and 0.28 with gelu (the old default) on a (4, 96, 3) input."""
    x = torch.randn(5, 7, 16, generator=torch.Generator().manual_seed(2))
    for activation, fn in (("relu", torch.relu), ("gelu", torch.nn.functional.gelu)):
        model = make("gateformer", "M", activation=activation).eval()
        for stack in (model.temporal_encoder, model.variate_encoder):
            ffn = stack.blocks[0].ffn
            torch.testing.assert_close(ffn(x), ffn.fc2(fn(ffn.fc1(x))))
    with pytest.raises(ValueError, match="activation must be one of"):
        make("gateformer", "M", activation="swish")


def test_gateformer_attention_init_is_nn_multiheadattention_s():
    """Xavier-uniform over the fused (3D, D) in-projection (bound sqrt(6 / 4D)), zero in/out biases."""
    D = 64
    model = make("gateformer", "M", d_model=D, n_heads=4, d_ff=D)
    bound = math.sqrt(6 / (D + 3 * D))
    for stack in (model.temporal_encoder, model.variate_encoder):
        mixer = stack.blocks[0].mixer
        w = mixer.qkv.weight
        assert w.abs().max() <= bound and w.abs().max() > 0.98 * bound  # nn.Linear's default: 1/sqrt(D) = 0.125
        assert w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)
        assert not mixer.qkv.bias.any() and not mixer.out.bias.any()
        assert mixer.out.bias is not None and mixer.out.weight.abs().max() <= 1 / math.sqrt(D)
    plain = make("gateformer", "M", d_model=D, n_heads=4, d_ff=D, official_init=False)
    assert plain.temporal_encoder.blocks[0].mixer.qkv.bias.any()


# -------------------------------------------------------------------------------------------- baselines
def test_dlinear_moving_average_equals_a_direct_computation():
    k = 25
    x = torch.randn(2, 40, 3, dtype=torch.float64)
    trend = MovingAverage(k)(x)
    pad = (k - 1) // 2
    direct = torch.empty_like(x)
    for t in range(40):
        window = [x[:, min(max(s, 0), 39)] for s in range(t - pad, t + pad + 1)]  # edges repeated
        direct[:, t] = torch.stack(window).mean(0)
    torch.testing.assert_close(trend, direct)
    with pytest.raises(ValueError, match="odd"):
        MovingAverage(24)


def test_dlinear_is_channel_independent_and_individual_option():
    model = make("linear", "M", individual=True)
    assert isinstance(model, DLinear) and len(model.seasonal) == 3
    assert variate_dependence(model, source=2, target=0) == 0.0
    assert count_parameters(make("linear", "M")) == 2 * (SEQ * PRED + PRED)


def test_naive_and_seasonal_naive():
    x_enc = torch.arange(SEQ, dtype=torch.float32).view(1, SEQ, 1).expand(2, SEQ, 3).contiguous()
    last = make("naive", "MS", season=1)
    assert isinstance(last, NaiveForecast) and count_parameters(last) == 0
    assert torch.equal(last(x_enc), torch.full((2, PRED, 1), SEQ - 1.0))
    seasonal = build_forecast_model("naive", n_features=3, n_targets=3, seq_len=SEQ, label_len=0, pred_len=30,
                                    n_time_features=0, season=24)
    expected = torch.tensor([SEQ - 24 + t % 24 for t in range(30)], dtype=torch.float32)
    assert torch.equal(seasonal(x_enc)[0, :, 0], expected)
    with pytest.raises(ValueError, match="season=60 must not exceed seq_len=48"):
        make("naive", season=60)


# ------------------------------------------------------------------------------------------- embeddings
def test_positional_embedding_is_the_official_sinusoid_table():
    d, L = 10, 7
    pe = torch.zeros(L, d)
    position = torch.arange(L).float().unsqueeze(1)
    div_term = (torch.arange(0, d, 2).float() * -(math.log(10000.0) / d)).exp()
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    torch.testing.assert_close(PositionalEmbedding(d)(torch.zeros(1, L, 3))[0], pe)
    assert "pe" not in PositionalEmbedding(d).state_dict()


def test_token_embedding_is_a_circular_conv():
    emb = TokenEmbedding(2, 4)
    x = torch.randn(1, 6, 2)
    w, bias = emb.conv.weight, emb.conv.bias  # (4, 2, 3)
    xp = torch.cat([x[:, -1:], x, x[:, :1]], dim=1)  # wrap around
    direct = torch.stack([torch.einsum("ock,kc->o", w, xp[0, t:t + 3]) + bias for t in range(6)])
    torch.testing.assert_close(emb(x)[0], direct)


def test_calendar_embeddings():
    marks = torch.tensor([[[1, 1, 0, 0], [12, 31, 6, 23]]], dtype=torch.float32)  # month, day, weekday, hour
    fixed = CalendarEmbedding(8, "fixed")
    assert count_parameters(fixed) == 0 and fixed(marks).shape == (1, 2, 8)
    learned = CalendarEmbedding(8, "learned")
    assert count_parameters(learned) == (13 + 32 + 7 + 24) * 8
    with pytest.raises(ValueError, match="field 'hour'"):
        fixed(marks + torch.tensor([0, 0, 0, 1.0]))
    with pytest.raises(ValueError, match="integer calendar fields"):
        fixed(marks + 0.5)
    embedding = DataEmbedding(3, 8, n_time_features=4, temporal="learned")
    assert embedding(torch.randn(1, 2, 3), marks).shape == (1, 2, 8)
    informer = make("informer", embed="fixed")
    x_enc, _, x_dec, _ = batch(informer)
    shape = (2, SEQ + PRED)
    integer_marks = torch.stack([torch.randint(1, 13, shape), torch.randint(1, 32, shape),
                                 torch.randint(0, 7, shape), torch.randint(0, 24, shape)], -1)
    out = informer(x_enc, integer_marks[:, :SEQ].float(), x_dec, integer_marks[:, SEQ - LABEL:].float())
    assert out.shape == (2, PRED, 1)


def test_instance_norm_round_trip():
    norm = InstanceNorm()
    x = torch.randn(4, 30, 3, dtype=torch.float64) * 7 + 3
    z, stats = norm.normalize(x)
    torch.testing.assert_close(z.mean(1), torch.zeros(4, 3, dtype=torch.float64), atol=1e-12, rtol=0)
    ones = torch.ones(4, 3, dtype=torch.float64)
    torch.testing.assert_close(z.std(1, unbiased=False), ones, atol=1e-6, rtol=0)
    torch.testing.assert_close(norm.denormalize(z, stats), x)
    torch.testing.assert_close(norm.denormalize(z[..., 2:], stats, channels=slice(2, 3)), x[..., 2:])
