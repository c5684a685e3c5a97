import pytest
import torch
from spanmix.apps.genomics.models import (
    CONFIGS,
    DNACNN,
    HyenaDNA,
    HyenaDNAClassifier,
    HyenaDNATokenClassifier,
    count_parameters,
)
from spanmix.apps.genomics.models.hyenadna import PUBLISHED_PARAMS
from spanmix.apps.genomics.tokenizer import CharTokenizer

TOK = CharTokenizer()


def tiny(**kw):
    torch.manual_seed(0)
    return HyenaDNA(d_model=16, n_layer=2, d_inner=32, l_max=64, **kw).eval()


def rand_ids(b, n, seed=0):
    return torch.randint(7, 12, (b, n), generator=torch.Generator().manual_seed(seed))


MIXERS = ["hyena", "full", "mamba", "hyena,full"]  # the paper, its Transformer baseline, any causal schedule


@pytest.mark.parametrize("mixer", MIXERS)
def test_causal(mixer):
    lm = tiny(mixer=mixer, heads=2)
    ids = rand_ids(2, 40)
    changed = ids.clone()
    changed[:, 25:] = rand_ids(2, 15, seed=1)
    with torch.no_grad():
        a, b = lm(ids), lm(changed)
    torch.testing.assert_close(a[:, :25], b[:, :25], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(a[:, 25:], b[:, 25:])


@pytest.mark.parametrize("mixer,layout", [(m, "official") for m in MIXERS] + [("hyena", "paper")])
def test_step_equals_full_forward(mixer, layout):
    lm = tiny(mixer=mixer, heads=2, layout=layout)
    ids = rand_ids(3, 70)  # past l_max: the filter is capped at l_max taps in both forms
    with torch.no_grad():
        full = lm(ids)
        state, steps = lm.init_state(3), []
        for t in range(ids.shape[1]):
            logits, state = lm.step(ids[:, t], state)
            steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, 1), full, rtol=1e-4, atol=1e-4)


def test_a_mixer_that_would_see_the_future_is_refused(monkeypatch):
    import spanmix.apps.genomics.models.hyenadna as hd

    accepted = hd.accepted_options
    monkeypatch.setattr(hd, "accepted_options", lambda name: accepted(name) - {"causal"})  # full stays acausal
    with pytest.raises(ValueError, match=r"causal language model: mixer\(s\) \['full'\]"):
        tiny(mixer="full", heads=2)
    assert tiny(mixer="hyena").backbone.blocks[0].mixer.causal


def test_tied_head_and_paper_options():
    lm = HyenaDNA.from_config("tiny-1k")
    assert lm.lm_head.weight is lm.embedding.weight
    mixer = lm.backbone.blocks[0].mixer
    assert (mixer.order, mixer.filter_order, mixer.emb_dim, mixer.short_filter, mixer.max_len) == (
        2,
        64,
        5,
        3,
        1026,
    )
    assert len(lm.backbone.blocks) == 2 and lm.backbone.blocks[0].ffn.fc1.out_features == 512
    # tying: the head adds no parameters; embedding and head have the padded 16 rows, logits the 12 tokens
    untied = HyenaDNA.from_config("tiny-1k", tie_embeddings=False)
    assert count_parameters(untied) - count_parameters(lm) == 16 * 128
    assert lm.embedding.weight.shape == (16, 128) and lm(rand_ids(1, 5)).shape == (1, 5, TOK.vocab_size)
    assert HyenaDNA.from_config("tiny-1k", pad_vocab_multiple=1).embedding.weight.shape == (12, 128)


def test_official_options_are_the_defaults():
    lm = HyenaDNA.from_config("tiny-1k")
    mixer, block = lm.backbone.blocks[0].mixer, lm.backbone.blocks[0]
    assert mixer.layout == "official" and mixer.n_filters == 1 and mixer.filter.bias.shape == (128,)
    assert torch.equal(mixer.filter.freq.detach(), torch.full((64,), 10.0))  # w: 10 in every config
    assert block.ffn.act.approximate == "tanh"  # the official Mlp: F.gelu(approximate="tanh")
    assert lm.drop.p == 0.1 and block.ffn.drop1.p == 0.0  # embed_dropout 0.1, resid_dropout 0
    ids = rand_ids(1, 30)
    lm.train()
    assert not torch.equal(lm.hidden(ids), lm.hidden(ids))  # the embedding dropout is active in training
    lm.eval()
    torch.testing.assert_close(lm.hidden(ids), lm.hidden(ids))


def test_published_sizes():
    assert {k: (v["n_layer"], v["d_model"], v["d_inner"]) for k, v in CONFIGS.items()} == {
        "tiny-1k": (2, 128, 512),
        "small-32k": (4, 256, 1024),
        "medium-160k": (8, 256, 1024),
        "medium-450k": (8, 256, 1024),
        "large-1m": (8, 256, 1024),
    }
    with pytest.raises(ValueError, match="unknown HyenaDNA config"):
        HyenaDNA.from_config("huge")


@pytest.mark.parametrize("name", list(CONFIGS))
def test_published_parameter_counts(name):
    # The published counts (436,096 / 3,277,568 / 6,550,528), which the official standalone_hyenadna.py
    # gives at these configs (tests/fixtures/genomics/make_official_hyenadna.py prints them).
    expected = {"tiny-1k": 436_096, "small-32k": 3_277_568}.get(name, 6_550_528)
    assert PUBLISHED_PARAMS[name] == expected
    assert count_parameters(HyenaDNA.from_config(name, l_max=1026)) == expected  # l_max sizes no parameter
    # The Hyena paper's layout: one more filter per layer, filter_order·d_model + d_model parameters each.
    cfg = CONFIGS[name]
    paper = HyenaDNA.from_config(name, l_max=1026, layout="paper")
    assert count_parameters(paper) - expected == cfg["n_layer"] * 65 * cfg["d_model"]


def test_bad_ids():
    lm = tiny()
    with pytest.raises(ValueError, match="LongTensor"):
        lm(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="0..11"):
        lm(torch.full((1, 4), 12))


def test_classifier_ignores_left_padding():
    torch.manual_seed(0)
    for pooling in ("mean", "last"):
        clf = HyenaDNAClassifier(3, pooling, d_model=16, n_layer=2, d_inner=32, l_max=64).eval()
        ids = rand_ids(1, 20)
        padded = torch.cat([torch.full((1, 7), TOK.pad_id), ids], 1)
        with torch.no_grad():
            torch.testing.assert_close(clf(padded), clf(ids), rtol=1e-4, atol=1e-5)
        assert clf(ids).shape == (1, 3)


def test_token_classifier_and_cnn_shapes():
    ids = rand_ids(2, 33)
    assert HyenaDNATokenClassifier(4, d_model=16, n_layer=1, d_inner=32, l_max=64)(ids).shape == (2, 33, 4)
    assert DNACNN(2)(ids).shape == (2, 2)


def test_load_backbone_checks_shapes():
    clf = HyenaDNAClassifier(2, d_model=16, n_layer=2, d_inner=32, l_max=64)
    lm = tiny()
    clf.load_backbone(lm.state_dict())
    torch.testing.assert_close(clf.lm.embedding.weight, lm.embedding.weight)
    with pytest.raises((ValueError, RuntimeError)):
        clf.load_backbone(HyenaDNA(d_model=24, n_layer=2, d_inner=32, l_max=64).state_dict())


@pytest.mark.parametrize("name", ["pretrain_ecoli_tiny1k", "pretrain_ecoli_large1m", "finetune_oct4_mafk"])
def test_configs_use_the_official_embedding_dropout_and_pooling(name):
    from pathlib import Path

    import yaml
    from spanmix.apps.genomics import task as tasks

    config = yaml.safe_load((Path(tasks.__file__).parent / "configs" / f"{name}.yaml").read_text())["model"]
    module = getattr(tasks, config["class_path"].rsplit(".", 1)[1])(**config["init_args"])
    lm = module.net.lm if hasattr(module.net, "lm") else module.net
    assert lm.drop.p == 0.1  # hg38_hyena.yaml / genomic_benchmark.yaml: embed_dropout 0.1
    if hasattr(module.net, "pooling"):
        assert module.net.pooling == "mean"  # genomic_benchmark.yaml: decoder mode pool
