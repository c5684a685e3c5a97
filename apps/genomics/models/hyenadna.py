"""HyenaDNA (Nguyen et al., "HyenaDNA: Long-Range Genomic Sequence Modeling at Single Nucleotide
Resolution", NeurIPS 2023): a decoder-only Hyena language model over single nucleotides (Sec. 3),
its classification heads (Sec. 4.2-4.3) and the published model sizes (App. A.1, Table A.1).

    lm = HyenaDNA.from_config("tiny-1k")                  # or HyenaDNA(d_model=128, n_layer=2, ...)
    logits = lm(ids)                                      # ids (B, L) long -> (B, L, vocab)
    state = lm.init_state(batch=1)
    logits_t, state = lm.step(ids[:, 0], state)           # recurrent form: (B,) -> (B, vocab)

    clf = HyenaDNAClassifier(n_classes=2, pooling="mean", **CONFIGS["tiny-1k"])
    probs = clf(ids).softmax(-1)                          # (B, n_classes)

Architecture (Sec. 3.1, Fig. 1.3): token embedding (dropout 0.1) -> ``n_layer`` × [pre-norm residual Hyena
operator (order 2, implicit filter FFN of width ``filter_order`` on ``emb_dim`` positional features with Sin
activations of frequency 10 and an exponential-decay window, short depthwise filter of 3 taps) + pre-norm
residual MLP of width ``d_inner`` with tanh-approximate GELU] -> LayerNorm -> LM head tied to the embedding.
The body is ``spanmix.backbone.MixerStack``, whose blocks are exactly this layout (norm -> mixer -> +;
norm -> MLP -> +; final norm). By default the Hyena operator has the official layout (``layout="official"``:
order-1 = one long filter per layer), so the published sizes have exactly their published parameter counts
(``PUBLISHED_PARAMS``, pinned in the tests); ``layout="paper"`` gives the Hyena paper's Def. 3.1 (order
filters per layer: +``filter_order·d_model + d_model`` parameters per layer). The embedding has
``pad_vocab_multiple``-padded rows (16 for the 12 tokens, as the official ``pad_vocab_size_multiple: 8``);
the logits are returned for the 12 real tokens only. Official checkpoints load with
``spanmix.apps.genomics.official.load_official`` (Hugging Face or Lightning naming, see there).

Departures from the official code (``HazyResearch/hyena-dna``, ``standalone_hyenadna.py`` and
``src/models/sequence/hyena.py``):

- The filters' positional features are computed, not stored (the official ``pos_emb.z`` is a buffer or a
  parameter with learning rate 0 in every config, so it never changes; the loader checks it), and so is
  the decay window; the window has no ``+0.05`` shift (the training code's ``shift=0``; the standalone/HF
  port's 0.05 is ``filter_shift=0.05``).
- The filter of a sequence longer than ``l_max`` is the ``l_max``-tap one (the official code truncates the
  input to ``l_max``).
- Residual dropout is one option (``dropout``: residual branches and MLP, 0 as in the configs) besides
  ``embed_dropout``; there is no residual in fp32 (``residual_in_fp32``, a mixed-precision detail).
- Of the official GPT-2-style ``_init_weights`` only the embedding's N(0, 0.02) is kept (no rescaled
  residual projections): the other layers keep their PyTorch/backbone initialisation.
- Generation uses the mixers' step form (a cached convolution; see ``spanmix.backbone.mixers.hyena``);
  the official code re-runs the full forward for each new token.

``mixer="full"`` (causal softmax attention with RoPE, ``heads`` heads) gives a same-size Transformer
for the scaling comparison of the paper's Fig. 4.1.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from spanmix.apps.genomics.tokenizer import CharTokenizer
from spanmix.backbone import MixerStack
from spanmix.backbone.registry import mixer_options as accepted_options
from spanmix.backbone.stack import parse_schedule
from torch import nn

__all__ = [
    "CONFIGS",
    "PUBLISHED_PARAMS",
    "HyenaDNA",
    "HyenaDNAClassifier",
    "HyenaDNATokenClassifier",
    "count_parameters",
]

VOCAB_SIZE = CharTokenizer().vocab_size
PAD_ID = CharTokenizer.pad_id

#: The published model sizes (App. A.1 / the released checkpoints' configs): l_max is the sequence
#: length + 2 (the CLS/SEP of the released tokenizer), as in those configs.
CONFIGS: dict[str, dict[str, Any]] = {
    "tiny-1k": {"n_layer": 2, "d_model": 128, "d_inner": 512, "l_max": 1024 + 2},
    "small-32k": {"n_layer": 4, "d_model": 256, "d_inner": 1024, "l_max": 32768 + 2},
    "medium-160k": {"n_layer": 8, "d_model": 256, "d_inner": 1024, "l_max": 160000 + 2},
    "medium-450k": {"n_layer": 8, "d_model": 256, "d_inner": 1024, "l_max": 450000 + 2},
    "large-1m": {"n_layer": 8, "d_model": 256, "d_inner": 1024, "l_max": 1_000_000 + 2},
}
#: Published parameter counts (the released models, counted from the official ``standalone_hyenadna.py``
#: at these configs: vocabulary padded to 16 rows, one long filter per layer, ``pos_emb.z`` not trained).
PUBLISHED_PARAMS: dict[str, int] = {
    "tiny-1k": 436_096,
    "small-32k": 3_277_568,
    "medium-160k": 6_550_528,
    "medium-450k": 6_550_528,
    "large-1m": 6_550_528,
}


def count_parameters(module: nn.Module) -> int:
    """Trainable parameters, each shared tensor counted once (the tied LM head adds nothing)."""
    seen, total = set(), 0
    for p in module.parameters():
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    return total


class HyenaDNA(nn.Module):
    """HyenaDNA language model (Nguyen et al. 2023, Sec. 3.1): next-nucleotide logits.

    Args:
        d_model: width. n_layer: blocks. d_inner: MLP hidden width. l_max: longest filter / context
            (the implicit filters are generated for ``min(L, l_max)`` taps).
        vocab_size: tokenizer size (12). pad_vocab_multiple: the embedding/LM-head rows are padded to a
            multiple of this (8: 16 rows, as published; the padded rows' logits are dropped).
        order, filter_order, emb_dim, short_filter: Hyena options (2, 64, 5, 3 in every published config).
        layout: the Hyena operator's ``"official"`` (order-1 long filters, the default) or ``"paper"`` layout.
        filter_freq: the filter FFN's Sin frequency ``w`` (10 in every HyenaDNA config).
        filter_shift: added to the filters' decay window (0 as in the training code; 0.05 reproduces the
            standalone/Hugging Face port).
        act: the MLP's GELU, ``"gelu_tanh"`` (the official MLP) or ``"gelu"`` (exact).
        embed_dropout: dropout on the token embeddings (0.1 in every official config).
        dropout: residual and MLP dropout (0, the official ``resid_dropout``).
        mixer: the mixer schedule of the ``n_layer`` blocks: ``"hyena"`` (the paper), ``"full"`` (a causal
            Transformer of the same size, the scaling baseline) or any causal ``MixerStack`` schedule
            (``"mamba"``, ``"hyena,full"``, ...); each option below reaches only the mixers that accept it.
        heads: attention heads of attention mixers.
        tie_embeddings: share the LM head's weight with the embedding (True, as published).

    Shapes: ``ids`` (B, L) long, optional ``mask`` (B, L) bool (True = real token) -> (B, L, vocab).
    Cost: the backbone's — O(L log L) per Hyena layer, O(L²) for ``full``.
    """

    def __init__(
        self,
        d_model: int = 128,
        n_layer: int = 2,
        d_inner: int = 512,
        l_max: int = 1026,
        *,
        vocab_size: int = VOCAB_SIZE,
        pad_vocab_multiple: int = 8,
        order: int = 2,
        filter_order: int = 64,
        emb_dim: int = 5,
        short_filter: int = 3,
        layout: str = "official",
        filter_freq: float = 10.0,
        filter_shift: float = 0.0,
        act: str = "gelu_tanh",
        embed_dropout: float = 0.1,
        dropout: float = 0.0,
        mixer: str = "hyena",
        heads: int = 4,
        tie_embeddings: bool = True,
    ):
        super().__init__()
        layers = parse_schedule(mixer, n_layer)  # one mixer name per layer; unknown names fail here
        if not isinstance(pad_vocab_multiple, int) or pad_vocab_multiple < 1:
            raise ValueError(f"HyenaDNA: pad_vocab_multiple must be an int >= 1, got {pad_vocab_multiple!r}")
        self.d_model, self.l_max, self.vocab_size, self.mixer_name = d_model, l_max, vocab_size, mixer
        #: constructor arguments (a fine-tuning head rebuilds the same body from them)
        self.config = {
            "d_model": d_model,
            "n_layer": n_layer,
            "d_inner": d_inner,
            "l_max": l_max,
            "vocab_size": vocab_size,
            "pad_vocab_multiple": pad_vocab_multiple,
            "order": order,
            "filter_order": filter_order,
            "emb_dim": emb_dim,
            "short_filter": short_filter,
            "layout": layout,
            "filter_freq": filter_freq,
            "filter_shift": filter_shift,
            "act": act,
            "mixer": mixer,
            "heads": heads,
        }
        rows = -(-vocab_size // pad_vocab_multiple) * pad_vocab_multiple
        self.embedding = nn.Embedding(rows, d_model)
        nn.init.normal_(self.embedding.weight, std=0.02)  # as the official _init_weights; N(0, 1) with a tied
        # head would start at logits of std ~sqrt(d_model)
        self.drop = nn.Dropout(embed_dropout)
        options = {
            "order": order,
            "filter_order": filter_order,
            "emb_dim": emb_dim,
            "short_filter": short_filter,
            "layout": layout,
            "filter_freq": filter_freq,
            "filter_shift": filter_shift,
            "max_len": l_max,
            "heads": heads,
            "causal": True,
            "rope": True,
        }
        accepted = set().union(*(accepted_options(name) for name in layers))
        options = {k: v for k, v in options.items() if k in accepted}  # each reaches the mixers that take it
        self.backbone = MixerStack(d_model, layers, mlp_ratio=d_inner / d_model, dropout=dropout, act=act,
                                   **options)
        acausal = sorted({name for name, block in zip(layers, self.backbone.blocks)
                          if not getattr(block.mixer, "causal", False)})
        if acausal:
            raise ValueError(f"HyenaDNA is a causal language model: mixer(s) {acausal} of {mixer!r} cannot be "
                             "causal; use causal mixers such as 'hyena', 'full', 'local', 'mamba' or 's4d'")
        self.lm_head = nn.Linear(d_model, rows, bias=False)
        if tie_embeddings:
            self.lm_head.weight = self.embedding.weight

    @classmethod
    def from_config(cls, name: str, **overrides: Any) -> HyenaDNA:
        """One of the published sizes (``CONFIGS``), with optional overrides."""
        if name not in CONFIGS:
            raise ValueError(f"unknown HyenaDNA config {name!r}; expected one of {sorted(CONFIGS)}")
        return cls(**{**CONFIGS[name], **overrides})

    def check_ids(self, ids: torch.Tensor) -> None:
        if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long or ids.dim() != 2:
            got = tuple(ids.shape) if isinstance(ids, torch.Tensor) else type(ids).__name__
            raise ValueError(f"HyenaDNA: ids must be a (batch, length) LongTensor of token ids, got {got}")
        if ids.numel() and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(
                f"HyenaDNA: token ids must be in 0..{self.vocab_size - 1}, got "
                f"{int(ids.min())}..{int(ids.max())}"
            )

    def hidden(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Final-norm hidden states (B, L, d_model)."""
        self.check_ids(ids)
        return self.backbone(self.drop(self.embedding(ids)), mask=mask)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.lm_head(self.hidden(ids, mask))[..., : self.vocab_size]

    # ------------------------------------------------------------------ recurrent (step) form
    def init_state(self, batch: int, device=None, dtype=None) -> list[Any]:
        """Per-layer streaming states for ``step``."""
        device = device or self.embedding.weight.device
        return self.backbone.init_state(batch, device=device, dtype=dtype)

    def step(self, ids_t: torch.Tensor, state: list[Any]) -> tuple[torch.Tensor, list[Any]]:
        """Next-token logits after one more token: ``ids_t`` (B,) long -> (B, vocab)."""
        self.check_ids(ids_t.view(-1, 1))
        h, state = self.backbone.step(self.embedding(ids_t.view(-1)), state)
        return self.lm_head(h)[..., : self.vocab_size], state


class _Headed(nn.Module):
    """A HyenaDNA body (no LM head) with a linear head; shared by the two classifiers."""

    def __init__(self, n_classes: int, d_model: int, n_layer: int, d_inner: int, l_max: int, **options: Any):
        super().__init__()
        if not isinstance(n_classes, int) or n_classes < 2:
            raise ValueError(f"{type(self).__name__}: n_classes must be an int >= 2, got {n_classes!r}")
        self.n_classes = n_classes
        self.lm = HyenaDNA(d_model, n_layer, d_inner, l_max, **options)
        self.head = nn.Linear(d_model, n_classes)

    def layer_id(self, name: str) -> int:
        """Depth of parameter ``name`` for layer-wise lr decay: embedding 0, block i -> i+1, final norm and
        head n_layer+1."""
        if name.startswith("lm.embedding."):
            return 0
        if name.startswith("lm.backbone.blocks."):
            return int(name.split(".")[3]) + 1
        return len(self.lm.backbone.blocks) + 1

    def load_backbone(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load a pretrained ``HyenaDNA`` state dict (keys of the LM, optionally prefixed ``lm.``)."""
        state = {k.removeprefix("lm."): v for k, v in state_dict.items()}
        missing, unexpected = self.lm.load_state_dict(state, strict=False)
        missing = [k for k in missing if k != "lm_head.weight"]
        if missing or unexpected:
            raise ValueError(
                f"pretrained weights do not fit this HyenaDNA: missing {missing[:5]}, "
                f"unexpected {unexpected[:5]} (same d_model/n_layer/d_inner/l_max needed)"
            )


class HyenaDNAClassifier(_Headed):
    """Sequence classification (Nguyen et al. 2023, Sec. 4.2, GenomicBenchmarks / Nucleotide Transformer):
    pool the final hidden states and apply a linear head.

    Args:
        n_classes: classes. pooling: ``"mean"`` over real (non-pad) tokens (the official GenomicBenchmarks
            default, ``mode: pool``), or ``"last"`` (the last real token: with a causal body it has seen the
            whole sequence).
        d_model, n_layer, d_inner, l_max, **options: the ``HyenaDNA`` body.

    Shapes: ``ids`` (B, L) long (``[PAD]`` = 4 marks padding) -> logits (B, n_classes).
    """

    def __init__(
        self,
        n_classes: int = 2,
        pooling: Literal["mean", "last"] = "mean",
        d_model: int = 128,
        n_layer: int = 2,
        d_inner: int = 512,
        l_max: int = 1026,
        **options: Any,
    ):
        if pooling not in ("mean", "last"):
            raise ValueError(f"HyenaDNAClassifier: pooling must be 'mean' or 'last', got {pooling!r}")
        super().__init__(n_classes, d_model, n_layer, d_inner, l_max, **options)
        self.pooling = pooling

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            mask = ids != PAD_ID
        h = self.lm.hidden(ids, mask if not bool(mask.all()) else None)  # (B, L, D)
        if self.pooling == "mean":
            w = mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * w).sum(1) / w.sum(1).clamp_min(1.0)
        else:
            last = torch.where(mask, torch.arange(ids.shape[1], device=ids.device), -1).amax(1).clamp_min(0)
            pooled = h[torch.arange(h.shape[0], device=h.device), last]
        return self.head(pooled)


class HyenaDNATokenClassifier(_Headed):
    """Per-token classification (e.g. a label for every nucleotide; Nguyen et al. 2023, Sec. 4.3 uses
    per-position heads for chromatin profiles): a linear head on every hidden state.

    Shapes: ``ids`` (B, L) long -> logits (B, L, n_classes).
    """

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.lm.hidden(ids, mask))
