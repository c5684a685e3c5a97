"""Sampling DNA from a HyenaDNA LM with the recurrent (step) form of its mixers.

    for base, probs in stream(lm, "ACGTACGT", max_new_tokens=100, temperature=0.8, top_k=3, seed=0):
        print(base, end="", flush=True)          # probs: {"A": p, "C": p, "G": p, "T": p} of that step

The prompt is fed token by token through ``lm.step`` (the Hyena mixer's cached convolution, see
``spanmix.backbone.mixers.hyena``), then each new base costs one step: O(layers · D · min(t, l_max))
for the long convolutions plus the per-token projections, instead of a full O(L log L) forward over
the whole context (what the official code does for every new token). Sampling is restricted to A, C, G,
T (special tokens and N are never emitted); ``temperature`` scales the logits, ``top_k`` keeps the k
most likely bases. ``stream_full_forward`` samples the same way with a full forward per token (the
reference the tests compare with).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from spanmix.apps.genomics.models.hyenadna import HyenaDNA
from spanmix.apps.genomics.tokenizer import CharTokenizer, check_dna

__all__ = ["generate", "stream", "stream_full_forward"]

TOKENIZER = CharTokenizer()
ACGT = "ACGT"
ACGT_IDS = torch.tensor([TOKENIZER.vocab[b] for b in ACGT])


def _check(prompt: str, max_new_tokens: int, temperature: float, top_k: int | None) -> list[int]:
    prompt = check_dna(prompt, "prompt")
    if not prompt:
        raise ValueError("prompt must hold at least one base (A/C/G/T/N)")
    if not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if top_k is not None and not 1 <= top_k <= 4:
        raise ValueError(f"top_k must be in 1..4 (there are 4 bases) or None, got {top_k!r}")
    return TOKENIZER.encode(prompt)


def _sample(logits: torch.Tensor, temperature: float, top_k: int | None, gen: torch.Generator):
    """logits (vocab,) -> (chosen index into ACGT, probabilities over ACGT before top-k)."""
    z = logits[ACGT_IDS.to(logits.device)].float() / temperature
    probs = z.softmax(-1)
    if top_k is not None and top_k < 4:
        z = z.masked_fill(z < z.topk(top_k).values[-1], float("-inf"))
    choice = int(torch.multinomial(z.softmax(-1).cpu(), 1, generator=gen))
    return choice, probs


@torch.no_grad()
def stream(
    lm: HyenaDNA,
    prompt: str,
    max_new_tokens: int = 100,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = None,
) -> Iterator[tuple[str, dict[str, float]]]:
    """Yield ``(base, {base: probability})`` for each generated base, using ``lm.step``."""
    ids = _check(prompt, max_new_tokens, temperature, top_k)
    gen = torch.Generator().manual_seed(seed) if seed is not None else torch.Generator()
    lm.eval()
    device = lm.embedding.weight.device
    state = lm.init_state(1)
    for i in ids:
        logits, state = lm.step(torch.tensor([i], device=device), state)
    for _ in range(max_new_tokens):
        choice, probs = _sample(logits[0], temperature, top_k, gen)
        yield ACGT[choice], dict(zip(ACGT, probs.tolist()))
        logits, state = lm.step(ACGT_IDS[choice : choice + 1].to(device), state)


@torch.no_grad()
def stream_full_forward(
    lm: HyenaDNA,
    prompt: str,
    max_new_tokens: int = 100,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = None,
):
    """Same as ``stream`` but recomputing the whole context with ``lm(ids)`` for every base (reference)."""
    ids = _check(prompt, max_new_tokens, temperature, top_k)
    gen = torch.Generator().manual_seed(seed) if seed is not None else torch.Generator()
    lm.eval()
    device = lm.embedding.weight.device
    for _ in range(max_new_tokens):
        logits = lm(torch.tensor([ids], device=device))[0, -1]
        choice, probs = _sample(logits, temperature, top_k, gen)
        ids.append(int(ACGT_IDS[choice]))
        yield ACGT[choice], dict(zip(ACGT, probs.tolist()))


def generate(
    lm: HyenaDNA, prompt: str, max_new_tokens: int = 100, **kwargs
) -> tuple[str, list[dict[str, float]]]:
    """The generated continuation and the per-base probabilities of each step."""
    bases, probs = [], []
    for base, p in stream(lm, prompt, max_new_tokens, **kwargs):
        bases.append(base)
        probs.append(p)
    return "".join(bases), probs
