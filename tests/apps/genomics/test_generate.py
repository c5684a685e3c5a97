import pytest
import torch
from spanmix.apps.genomics.generate import generate, stream, stream_full_forward
from spanmix.apps.genomics.models import HyenaDNA


@pytest.fixture(scope="module")
def lm():
    torch.manual_seed(0)
    return HyenaDNA(d_model=16, n_layer=2, d_inner=32, l_max=64).eval()


def test_step_generation_equals_full_forward(lm):
    kw = {"max_new_tokens": 30, "temperature": 0.7, "top_k": 3, "seed": 5}
    fast = list(stream(lm, "ACGTTGCAacgt", **kw))
    slow = list(stream_full_forward(lm, "ACGTTGCAacgt", **kw))
    assert "".join(b for b, _ in fast) == "".join(b for b, _ in slow)
    for (_, p), (_, q) in zip(fast, slow):
        assert p == pytest.approx(q, abs=1e-4)
        assert sum(p.values()) == pytest.approx(1.0, abs=1e-5)


def test_greedy_top1_picks_argmax(lm):
    bases, probs = generate(lm, "GATTACA", 10, top_k=1, seed=0)
    assert len(bases) == 10 and set(bases) <= set("ACGT")
    assert all(b == max(p, key=p.get) for b, p in zip(bases, probs))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"prompt": "ACGU"}, "position 3"),
        ({"prompt": ""}, "at least one base"),
        ({"prompt": "ACGT", "temperature": 0.0}, "temperature"),
        ({"prompt": "ACGT", "top_k": 5}, "top_k"),
    ],
)
def test_bad_input(lm, kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate(lm, max_new_tokens=3, **kwargs)
