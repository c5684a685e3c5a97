"""Official HyenaDNA checkpoints load into ours and give the official outputs.

The fixture is a small HyenaDNA (d_model 32, 2 layers, l_max 66) built with random weights by the official
``standalone_hyenadna.py`` and saved in the Hugging Face ``HyenaDNAForCausalLM`` naming with its outputs on
fixed ids (``tests/fixtures/genomics/make_official_hyenadna.py`` wrote it).
"""
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from spanmix.apps.genomics.models import HyenaDNAClassifier
from spanmix.apps.genomics.official import load_official
from spanmix.apps.genomics.task import load_pretrained_lm
from spanmix.apps.harness.errors import SpanmixError

FIXTURE = Path(__file__).parents[2] / "fixtures" / "genomics" / "official_hyenadna_tiny.safetensors"


@pytest.fixture(scope="module")
def official():
    tensors = load_file(FIXTURE)
    ids, hidden, logits = (tensors.pop(k) for k in ("input_ids", "expected_hidden", "expected_logits"))
    return tensors, ids, hidden, logits


def test_official_weights_give_the_official_outputs(official):
    state, ids, hidden, logits = official
    # The standalone/HF port adds 0.05 to the decay window (shift=0.05); filter_shift reproduces it.
    lm = load_official(state, filter_shift=0.05)
    assert lm.config["layout"] == "official" and lm.embedding.weight.shape == (16, 32)
    assert (lm.config["d_model"], lm.config["n_layer"], lm.config["d_inner"], lm.config["l_max"]) == (32, 2, 128, 66)
    with torch.no_grad():
        assert (lm.hidden(ids) - hidden).abs().max() < 5e-6  # measured 7.2e-7
        assert (lm(ids) - logits[..., :12]).abs().max() < 5e-6  # measured 1.2e-7; the padded 4 logits dropped
        # The training code's window (shift 0, our default) is another function of the same weights.
        assert (load_official(state).hidden(ids) - hidden).abs().max() > 1e-2
        # The recurrent form reproduces the official forward too (generation from official weights).
        st, steps = lm.init_state(2), []
        for t in range(ids.shape[1]):
            out, st = lm.step(ids[:, t], st)
            steps.append(out)
    torch.testing.assert_close(torch.stack(steps, 1), logits[..., :12], atol=1e-4, rtol=1e-4)


def test_every_official_naming_and_file_form_loads(official, tmp_path):
    state, ids, hidden, _ = official
    base = {k.removeprefix("hyena."): v for k, v in state.items() if k != "lm_head.weight"}  # HyenaDNAModel
    ckpt = {"state_dict": {f"model.{k}": v for k, v in base.items()}}  # the training code's Lightning file
    for k in list(ckpt["state_dict"]):  # it keeps all three names of the shared Sin frequency
        if k.endswith("implicit_filter.1.freq"):
            for j in (3, 5):
                ckpt["state_dict"][k.replace(".1.freq", f".{j}.freq")] = ckpt["state_dict"][k]
    torch.save(ckpt, tmp_path / "weights.ckpt")
    torch.save(base, tmp_path / "pytorch_model.bin")
    for source in (base, tmp_path / "weights.ckpt", tmp_path / "pytorch_model.bin", tmp_path):
        lm = load_official(source, filter_shift=0.05)
        with torch.no_grad():
            assert (lm.hidden(ids) - hidden).abs().max() < 5e-6
    no_freq = {k: v for k, v in base.items() if not k.endswith(".freq")}  # HF fills these with activation_freq
    lm = load_official(no_freq)
    assert torch.equal(lm.backbone.blocks[0].mixer.filter.freq.detach(), torch.full((64,), 10.0))
    # load_pretrained_lm (generate/score/embed --weights, ClassifyTask(pretrained=...)) recognises them
    lm = load_pretrained_lm(tmp_path / "pytorch_model.bin")
    assert lm.config["l_max"] == 66 and lm.config["filter_shift"] == 0.0
    clf = HyenaDNAClassifier(2, **{k: lm.config[k] for k in ("d_model", "n_layer", "d_inner", "l_max")})
    clf.load_backbone(lm.state_dict())
    torch.testing.assert_close(clf.lm.backbone.blocks[1].mixer.filter.freq, lm.backbone.blocks[1].mixer.filter.freq)


def test_bad_official_checkpoints_are_clear_errors(official, tmp_path):
    state = official[0]
    trained = dict(state)
    key = "hyena.backbone.layers.0.mixer.filter_fn.pos_emb.z"
    trained[key] = state[key] + 0.1
    with pytest.raises(SpanmixError, match="pos_emb.z differs"):
        load_official(trained)
    with pytest.raises(SpanmixError, match="does not know"):
        load_official({**state, "hyena.backbone.layers.0.mixer.extra.weight": torch.zeros(1)})
    with pytest.raises(SpanmixError, match="not an official HyenaDNA"):
        load_official({"net.embedding.weight": torch.zeros(16, 8)})
    with pytest.raises(SpanmixError, match="come from the checkpoint"):
        load_official(state, d_model=64)
    (tmp_path / "junk.bin").write_bytes(b"not a checkpoint")
    with pytest.raises(SpanmixError, match="not readable as a checkpoint"):
        load_official(tmp_path / "junk.bin")


class Pickled:  # stands for a config object a Lightning checkpoint may pickle (OmegaConf DictConfig, ...)
    pass


def test_pickled_objects_are_refused_with_the_way_out(official, tmp_path):
    torch.save({"state_dict": dict(official[0]), "hyper_parameters": Pickled()}, tmp_path / "weights.ckpt")
    with pytest.raises(SpanmixError, match=r"save its ckpt\['state_dict'\] alone"):
        load_official(tmp_path / "weights.ckpt")


def test_only_order_two_is_accepted(official):
    state = dict(official[0])
    for key in [k for k in state if k.endswith("mixer.in_proj.weight")]:
        state[key] = torch.cat([state[key], state[key][:32]])  # order 3 in_proj: (4·d_model, d_model)
    with pytest.raises(SpanmixError, match="order 3; only order 2"):
        load_official(state)
