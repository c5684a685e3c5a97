"""Scoring DNA with a HyenaDNA language model: log-likelihoods, variant effects and embeddings.

    ll = log_likelihood(lm, ["ACGTTGCA", "ACG"])          # [(7,), (2,)]: log p(x_t | x_<t), t = 1..L-1 (nats)
    v = variant_effect(lm, "ACGTTGCA", pos=3, alt="A")    # SNV T>A at 0-based position 3
    v.llr, v.allele_llr, v.per_position                   # sum, at the variant, per position (alt - ref)
    emb = embed(lm, ["ACGT...", ...], pooling="mean")     # (N, d_model) final-norm hidden states, pooled

The LM is causal and reads the bases as given (no ``[CLS]``/``[BOS]`` in front, as in its pretraining
windows), so the first base has no prediction: a sequence of L bases has L-1 scored positions, and a
variant at position 0 changes only the positions after it. The variant score is the log-likelihood ratio
of the whole alternative vs reference sequence, ``Σ_t log p_alt(x_t) - log p_ref(x_t)``, its terms per
position (zero before the variant; at the variant the allele's own ``log p(alt | prefix) - log p(ref |
prefix)``; after it the change of the context's predictions), the zero-shot variant-effect score of
DNA language models (Benegas et al. 2023, GPN; Nguyen et al. 2023 score with the same LM head).
Single-nucleotide variants only.

Sequences are batched with left ``[PAD]`` padding and a mask (the padded positions contribute nothing,
so each sequence scores as if alone). Sequences longer than the model's ``l_max`` are scored with the
``l_max``-tap filters (see ``HyenaDNA``).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from spanmix.apps.genomics.models.hyenadna import HyenaDNA
from spanmix.apps.genomics.tokenizer import CharTokenizer, check_dna
from spanmix.apps.harness.errors import SpanmixError

__all__ = ["VariantEffect", "embed", "log_likelihood", "variant_effect"]

TOKENIZER = CharTokenizer()


def _batches(lm: HyenaDNA, seqs: Sequence[str], batch_size: int, min_len: int):
    if isinstance(seqs, str):
        raise SpanmixError("sequences must be a list of strings, got one string (wrap it in a list)")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise SpanmixError(f"batch_size must be an int >= 1, got {batch_size!r}")
    seqs = [check_dna(s, f"sequence {i}") for i, s in enumerate(seqs)]
    for i, s in enumerate(seqs):
        if len(s) < min_len:
            raise SpanmixError(f"sequence {i} has {len(s)} bases; at least {min_len} needed")
    device = lm.embedding.weight.device
    for start in range(0, len(seqs), batch_size):
        chunk = seqs[start : start + batch_size]
        ids = TOKENIZER.batch_encode(chunk).to(device)  # left-padded
        mask = ids != TOKENIZER.pad_id
        yield chunk, ids, (None if bool(mask.all()) else mask)


@torch.no_grad()
def log_likelihood(lm: HyenaDNA, seqs: Sequence[str], batch_size: int = 16) -> list[torch.Tensor]:
    """Per sequence, ``log p(x_t | x_<t)`` for t = 1..L-1 (nats, float32 tensors of length L-1)."""
    lm.eval()
    out = []
    for chunk, ids, mask in _batches(lm, seqs, batch_size, min_len=2):
        logp = lm(ids, mask).float().log_softmax(-1)[:, :-1]  # (B, L-1, vocab): predictions of x_1..x_{L-1}
        scores = logp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        for row, seq in zip(scores, chunk):
            out.append(row[row.shape[0] - (len(seq) - 1) :].cpu())  # drop the left padding
    return out


@dataclass
class VariantEffect:
    """A single-nucleotide variant's log-likelihood ratios (alternative minus reference, nats).

    ``pos`` is 0-based; ``per_position[t-1]`` belongs to base t (t = 1..L-1).
    """

    pos: int
    ref: str
    alt: str
    llr: float
    allele_llr: float | None  # None at pos 0 (the first base is not predicted)
    per_position: torch.Tensor


def variant_effect(lm: HyenaDNA, sequence: str, pos: int, alt: str) -> VariantEffect:
    """Score the SNV ``sequence[pos] -> alt`` (module docstring)."""
    sequence = check_dna(sequence, "sequence")
    if not isinstance(pos, int) or not 0 <= pos < len(sequence):
        raise SpanmixError(f"variant position {pos!r} is outside the sequence (0..{len(sequence) - 1}, 0-based)")
    alt = check_dna(alt, "alt").upper() if isinstance(alt, str) else alt
    if not isinstance(alt, str) or len(alt) != 1:
        raise SpanmixError(f"alt must be one base (A/C/G/T/N), got {alt!r}; only SNVs are scored")
    ref = sequence[pos]
    if alt == ref:
        raise SpanmixError(f"alt {alt!r} equals the reference base at position {pos}")
    variant = sequence[:pos] + alt + sequence[pos + 1 :]
    ref_ll, alt_ll = log_likelihood(lm, [sequence, variant])
    diff = alt_ll - ref_ll
    return VariantEffect(pos, ref, alt, float(diff.sum()), None if pos == 0 else float(diff[pos - 1]), diff)


@torch.no_grad()
def embed(lm: HyenaDNA, seqs: Sequence[str], pooling: Literal["mean", "last"] = "mean",
          batch_size: int = 16) -> torch.Tensor:
    """(N, d_model) final-norm hidden states, averaged over each sequence's bases (``"mean"``, the pooling of
    the official GenomicBenchmarks heads) or taken at its last base (``"last"``: a causal LM's summary)."""
    if pooling not in ("mean", "last"):
        raise SpanmixError(f"pooling must be 'mean' or 'last', got {pooling!r}")
    lm.eval()
    out = []
    for _, ids, mask in _batches(lm, seqs, batch_size, min_len=1):
        h = lm.hidden(ids, mask).float()  # (B, L, D)
        if pooling == "last":
            out.append(h[:, -1])  # left padding: the last column is every sequence's last base
        else:
            w = (ids != TOKENIZER.pad_id).unsqueeze(-1).to(h.dtype)
            out.append((h * w).sum(1) / w.sum(1))
    return torch.cat(out).cpu()
