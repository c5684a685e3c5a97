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


@pytest.mark.parametrize("mixer", MIXERS)
def test_step_equals_full_forward(mixer):
    lm = tiny(mixer=mixer, heads=2)
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
    # tying: the head adds no parameters
    untied = HyenaDNA.from_config("tiny-1k", tie_embeddings=False)
    assert count_parameters(untied) - count_parameters(lm) == TOK.vocab_size * 128


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
