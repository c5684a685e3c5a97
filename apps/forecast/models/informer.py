"""Informer (Zhou et al., "Informer: Beyond Efficient Transformer for Long Sequence Time-Series
Forecasting", AAAI 2021) — and, with ``mixer: full``, the vanilla Transformer baseline of its Table 1.

Architecture (paper Sec. 3, Fig. 2; official code zhouhaoyi/Informer2020, ``models/model.py``)::

    x_enc (B, L, C) --DataEmbedding--> (B, L, D)                      token conv + position + time (App. B)
      e_layers x [ self-attention (ProbSparse, Sec. 3.1) -> +, LN ; FFN (conv1d k=1, d_ff) -> +, LN ]
      with a distilling layer between them (Sec. 3.2, eq. 5): Conv1d(k=3, circular) -> BatchNorm -> ELU
      -> MaxPool(k=3, stride 2, pad 1), halving the length: L -> L/2 -> L/4 ...
      -> LayerNorm                                                   enc_out (B, L / 2^(e_layers-1), D)
    x_dec = [last label_len known steps ; pred_len zeros] (B, label_len + H, C) --DataEmbedding-->
      d_layers x [ masked self-attention (ProbSparse, causal) -> +, LN ; cross-attention (full) to
      enc_out -> +, LN ; FFN -> +, LN ] -> LayerNorm -> Linear(D, C_out) -> last H steps  (B, H, C_out)

Generative decoding (Sec. 3.3): one forward pass predicts all H steps from the start token (the known
``label_len`` steps) and zero placeholders. The model builds the placeholders itself: the horizon part
of ``x_dec`` is never read, so a data module that fills it with the true future cannot leak it.
Layers are post-LN, as in the paper and the official code (unlike the backbone's pre-norm ``Block``).

Official defaults (``main_informer.py``): d_model 512, n_heads 8, e_layers 2, d_layers 1, d_ff 2048,
dropout 0.05, factor 5, activation gelu, distil True, embed timeF; Adam, lr 1e-4, batch 32, 6 epochs,
"type1" learning rate (kept two epochs, then halved every epoch).

Two official codes, two switches (``official``):

=========================================  ======================  ======================  ===============
                                           ``official: None``      ``"informer2020"``      ``"tslib"``
                                           (ours, default)         (zhouhaoyi/             (thuml/Time-Series-
                                                                   Informer2020)           Library)
=========================================  ======================  ======================  ===============
distilling conv padding (L=96 ->)          1 (48, 24)              1 (48, 24) [#pad]_      2 (49, 26)
heads merged before W_O                    properly                decoder self-attention  every ProbSparse
                                                                   scrambled (``mix``)     attention scrambled
                                                                   [#mix]_                 [#mix]_
cross-attention                            full                    full                    ProbSparse
ProbSparse measure ``M``                   ``informer`` (eq. 4's   ``informer``            ``informer``
                                           ``/ L_K``)
lazy causal queries                        running mean            running sum             running sum
token conv / timeF linear biases           yes / no                yes / yes               no / no
=========================================  ======================  ======================  ===============

.. [#pad] ``ConvLayer`` pads ``1 if torch.__version__ >= '1.5.0' else 2``: a string comparison, true on
   torch 2.x (and 1.5-1.9), false on torch 1.10-1.13. TSLib hard-codes 2, so a layer maps L to
   ``floor((L+1)/2) + 1`` rather than the paper's halving.
.. [#mix] The official attention layers view a ``(B, H, L, d)`` tensor as ``(B, L, H·d)`` without moving the
   head axis, scrambling positions and heads before the output projection: Informer2020 in its decoder
   self-attention (``mix=True``), TSLib in every ``ProbAttention`` (it returns ``(B, H, L, d)``; its
   ``AttentionLayer`` views it as ``(B, L, H·d)``): encoder, decoder self- and cross-attention.

With a switch on, and dropout 0, the model computes the function of that repository's code (checked by
copying their weights into ours: see ``tests/apps/forecast/test_models.py``). Departures that remain in
all modes:

- Attention dropout: the official code also drops attention probabilities of full attention; here
  dropout acts on the attention output (the residual branch) only.
- The ProbSparse key sample is seeded in eval mode (deterministic inference; the mixer's ``seed``
  option), random in training as in the official code.
- Lazy causal queries (ours): the running **mean** of V, the causal analogue of the paper's ``mean(V)``,
  where the official codes give the running sum, whose scale grows with the position.

Test protocol: Informer2020's test loader drops the last incomplete batch (``drop_last=True``, batch 32),
so its published numbers skip up to 31 test windows; we, like current TSLib, score every window. Numbers
of ours next to the paper's are therefore not on exactly the same windows.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spanmix.apps.forecast.models import FORECAST_MODELS, ForecastModel
from spanmix.apps.forecast.models.embed import DataEmbedding, check_positive_int
from spanmix.backbone.mixers.base import check_heads
from spanmix.backbone.mixers.multihead import sdpa_attention
from spanmix.backbone.mixers.probsparse import probsparse_attention
from spanmix.backbone.registry import build_mixer, mixer_options

__all__ = [
    "OFFICIAL_CODES",
    "ConvFeedForward",
    "DistillingLayer",
    "Informer",
    "InformerAttention",
    "InformerDecoderLayer",
    "PostNormEncoderLayer",
    "activation_function",
    "mixer_kwargs",
]

ACTIVATIONS = {"gelu": F.gelu, "relu": F.relu}
OFFICIAL_CODES = ("informer2020", "tslib")


def mixer_kwargs(name: str, defaults: dict[str, Any],
                 overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The options for mixer ``name``: those of ``defaults`` the mixer accepts (silently skipping the rest:
    ``heads`` means nothing to Mamba), then ``overrides`` verbatim (unknown ones fail in ``build_mixer``)."""
    accepted = mixer_options(name)
    kwargs = {k: v for k, v in defaults.items() if k in accepted}
    kwargs.update(overrides or {})
    return kwargs


def activation_function(name: str):
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}") from None


# ------------------------------------------------------------------------------------------------- layers
class ConvFeedForward(nn.Module):
    """Position-wise FFN of Informer / iTransformer / S-Mamba: ``Conv1d(D, d_ff, 1) -> act -> dropout ->
    Conv1d(d_ff, D, 1) -> dropout``. A kernel-1 convolution is a per-position linear map, so it is computed
    with ``nn.Linear`` (same parameters and result; 5-10x faster than oneDNN's 1x1 conv on short CPU inputs).

    Shapes: ``x`` (B, L, D) -> (B, L, D). Cost: O(L·D·d_ff).
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "gelu"):
        super().__init__()
        check_positive_int("ConvFeedForward", d_model=d_model, d_ff=d_ff)
        self.conv1 = nn.Linear(d_model, d_ff)
        self.conv2 = nn.Linear(d_ff, d_model)
        self.activation = activation_function(activation)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dropout(self.activation(self.conv1(x)))  # (B, L, d_ff)
        return self.dropout(self.conv2(y))  # (B, L, D)


class PostNormEncoderLayer(nn.Module):
    """Post-LN encoder layer (Vaswani et al. 2017; Informer, iTransformer and S-Mamba use it)::

        x = LN(x + mixer(x));  x = LN(x + FFN(x))

    ``mixer`` is any backbone token mixer ``(B, L, D) -> (B, L, D)``; its own ``dropout`` option (attention
    mixers) is the residual dropout of the attention branch.

    Shapes: ``x`` (B, L, D) -> (B, L, D).
    """

    def __init__(self, d_model: int, mixer: nn.Module, d_ff: int, dropout: float = 0.0,
                 activation: str = "gelu"):
        super().__init__()
        self.mixer = mixer
        self.ffn = ConvFeedForward(d_model, d_ff, dropout, activation)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.mixer(x))
        return self.norm2(x + self.ffn(x))


class DistillingLayer(nn.Module):
    """Self-attention distilling (Informer Sec. 3.2, eq. 5): ``MaxPool(ELU(BN(Conv1d(x))))``.

    ``Conv1d(D, D, k=3)`` with circular padding, ``BatchNorm1d``, ELU, ``MaxPool1d(3, stride=2, padding=1)``:
    L -> ceil(L / 2). ``padding=2`` is TSLib's padding (L -> floor((L+1)/2) + 1).

    Shapes: ``x`` (B, L, D) -> (B, L', D).
    """

    def __init__(self, d_model: int, padding: int = 1):
        super().__init__()
        self.conv = nn.Conv1d(d_model, d_model, kernel_size=3, padding=padding, padding_mode="circular")
        self.norm = nn.BatchNorm1d(d_model)
        self.pool = nn.MaxPool1d(kernel_size=3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pool(F.elu(self.norm(self.conv(x.transpose(1, 2)))))
        return y.transpose(1, 2)

    @staticmethod
    def output_length(length: int, padding: int = 1) -> int:
        conv = length + 2 * padding - 2
        return (conv + 2 - 3) // 2 + 1


class InformerAttention(nn.Module):
    """Multi-head attention with separate query / key-value sources, the official ``AttentionLayer``:
    ``W_O · core(W_Q x, W_K s, W_V s)`` with ``core`` ProbSparse (``kind="prob"``, the backbone's
    ``probsparse_attention``) or exact (``kind="full"``, SDPA). Used for the decoder's masked
    self-attention and its cross-attention (``source`` = encoder output, ``L_Q != L_K``).

    Args:
        d_model, heads: width and heads (``d_model % heads == 0``).
        kind: ``"prob"`` or ``"full"``.
        causal: query i sees keys j <= i (self-attention only).
        factor, measure, lazy_causal: ProbSparse options (see ``spanmix.backbone.mixers.probsparse``).
        mix: the official head-scrambling quirk (see the module docstring).
        seed: ProbSparse sampling seed in eval mode (None: the global RNG always).
        dropout: dropout on the output (used where the layer is an encoder's self-attention mixer, whose
            residual dropout the mixer applies).

    Shapes: ``x`` (B, L_Q, D), ``source`` (B, L_K, D) (default ``x``) -> (B, L_Q, D).
    Cost: O(L_Q·L_K·D) (full) or O((L_Q + L_K)·log L · D) (prob).
    """

    def __init__(self, d_model: int, heads: int, *, kind: str = "full", causal: bool = False, factor: int = 5,
                 measure: str = "informer", lazy_causal: str = "cummean", mix: bool = False,
                 seed: int | None = 0, dropout: float = 0.0):
        super().__init__()
        if kind not in ("prob", "full"):
            raise ValueError(f"InformerAttention: kind must be 'prob' or 'full', got {kind!r}")
        self.head_dim = check_heads(d_model, heads, "InformerAttention")
        self.heads, self.kind, self.causal, self.factor = heads, kind, bool(causal), factor
        self.measure, self.lazy_causal, self.mix, self.seed = measure, lazy_causal, bool(mix), seed
        self.query = nn.Linear(d_model, d_model)
        self.key = nn.Linear(d_model, d_model)
        self.value = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)
        self.drop = nn.Dropout(dropout)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, heads={self.heads}, causal={self.causal}, mix={self.mix}"

    def forward(self, x: torch.Tensor, source: torch.Tensor | None = None) -> torch.Tensor:
        source = x if source is None else source
        B, L_Q, _ = x.shape
        L_K = source.shape[1]
        q = self.query(x).view(B, L_Q, self.heads, self.head_dim).transpose(1, 2)  # (B, H, L_Q, d)
        k = self.key(source).view(B, L_K, self.heads, self.head_dim).transpose(1, 2)  # (B, H, L_K, d)
        v = self.value(source).view(B, L_K, self.heads, self.head_dim).transpose(1, 2)
        if self.kind == "prob":
            seeded = not self.training and self.seed is not None
            generator = torch.Generator().manual_seed(self.seed) if seeded else None
            o = probsparse_attention(q, k, v, self.factor, self.causal, generator, measure=self.measure,
                                     lazy_causal=self.lazy_causal)
        else:
            o = sdpa_attention(q, k, v, causal=self.causal)  # (B, H, L_Q, d)
        if self.mix:  # official quirk: (B, H, L, d) read as (B, L, H·d)
            o = o.contiguous().view(B, L_Q, -1)
        else:
            o = o.transpose(1, 2).reshape(B, L_Q, -1)
        return self.drop(self.out(o))


class InformerDecoderLayer(nn.Module):
    """Post-LN decoder layer: masked self-attention, cross-attention to the encoder, FFN::

        x = LN(x + drop(self_attn(x)));  x = LN(x + drop(cross_attn(x, enc)));  x = LN(x + FFN(x))

    Shapes: ``x`` (B, L_dec, D), ``enc`` (B, L_enc, D) -> (B, L_dec, D).
    """

    def __init__(self, d_model: int, self_attention: nn.Module, cross_attention: nn.Module, d_ff: int,
                 dropout: float = 0.0, activation: str = "gelu"):
        super().__init__()
        self.self_attention = self_attention
        self.cross_attention = cross_attention
        self.ffn = ConvFeedForward(d_model, d_ff, dropout, activation)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, enc: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.dropout(self.self_attention(x)))
        x = self.norm2(x + self.dropout(self.cross_attention(x, enc)))
        return self.norm3(x + self.ffn(x))


# -------------------------------------------------------------------------------------------------- model
@FORECAST_MODELS.register("informer")
class Informer(ForecastModel):
    """Informer: ProbSparse self-attention encoder with distilling + generative-style decoder (see module).

    Args:
        n_features, n_targets, seq_len, label_len, pred_len, n_time_features: see ``ForecastModel``.
        d_model, n_heads, e_layers, d_layers, d_ff, dropout, activation: sizes (official defaults).
        factor: ProbSparse sampling factor c (u = c·ceil(ln L)).
        distil: distilling layers between encoder layers.
        embed: temporal embedding, ``"timeF"``, ``"fixed"``, ``"learned"`` or ``"none"``.
        mixer: encoder self-attention, any backbone mixer name (``"probsparse"``; ``"full"`` gives the
            vanilla Transformer; ``"local"``, ``"mamba"`` ... also work).
        decoder_attention: ``"prob"`` or ``"full"`` masked self-attention in the decoder; None: ``"prob"``
            when ``mixer == "probsparse"``, else ``"full"`` (the official ``attn`` switch sets both).
        mixer_options: extra options of the encoder mixer (e.g. ``{"window": 24}`` for ``local``).
        official: None (ours), ``"informer2020"`` or ``"tslib"``: compute what that repository's Informer
            computes (module docstring table). Both need ``mixer: probsparse`` (Informer2020 also
            ``full``, its ``--attn full``).

    Shapes: ``x_enc`` (B, L, C_in), ``x_mark_enc`` (B, L, F), ``x_dec`` (B, label_len + H, C_in) (only its
    first ``label_len`` steps are read), ``x_mark_dec`` (B, label_len + H, F) -> (B, H, C_out).
    """

    def __init__(self, n_features: int, n_targets: int, seq_len: int, label_len: int, pred_len: int,
                 n_time_features: int, *, d_model: int = 512, n_heads: int = 8, e_layers: int = 2,
                 d_layers: int = 1, d_ff: int = 2048, dropout: float = 0.05, factor: int = 5,
                 activation: str = "gelu", distil: bool = True, embed: str = "timeF",
                 mixer: str = "probsparse",
                 decoder_attention: str | None = None, mixer_options: dict[str, Any] | None = None,
                 official: str | None = None):
        super().__init__(n_features, n_targets, seq_len, label_len, pred_len, n_time_features)
        check_positive_int("Informer", d_model=d_model, n_heads=n_heads, e_layers=e_layers, d_layers=d_layers,
                           d_ff=d_ff, factor=factor)
        check_heads(d_model, n_heads, "Informer")
        activation_function(activation)
        if embed in ("timeF", "fixed", "learned") and n_time_features == 0:
            raise ValueError(f"Informer: embed={embed!r} needs time features (n_time_features >= 1); "
                             "use embed='none' for data without them")
        if label_len > seq_len:
            raise ValueError(f"Informer: label_len={label_len} must not exceed seq_len={seq_len}")
        if decoder_attention is None:
            decoder_attention = "prob" if mixer == "probsparse" else "full"
        if decoder_attention not in ("prob", "full"):
            raise ValueError(f"Informer: decoder_attention must be 'prob' or 'full', "
                             f"got {decoder_attention!r}")
        if official is False:
            official = None
        if official is not None and official not in OFFICIAL_CODES:
            raise ValueError(f"Informer: official must be None (ours) or one of {OFFICIAL_CODES} (the repository "
                             f"whose code to reproduce), got {official!r}")
        if official == "tslib" and mixer != "probsparse":
            raise ValueError(f"Informer: official='tslib' needs mixer='probsparse' (TSLib's Informer always uses "
                             f"ProbAttention), got {mixer!r}")
        if official == "informer2020" and mixer not in ("probsparse", "full"):
            raise ValueError(f"Informer: official='informer2020' needs mixer='probsparse' or 'full' (its --attn "
                             f"prob|full), got {mixer!r}")
        self.mixer_name, self.distil, self.official = mixer, bool(distil), official
        lazy = "cumsum" if official else "cummean"
        self.distil_padding = 2 if official == "tslib" else 1
        scrambled = official == "tslib"  # every ProbAttention of TSLib; Informer2020: decoder self-attn only

        embedding = {"value_bias": official != "tslib", "temporal_bias": official == "informer2020"}
        self.enc_embedding = DataEmbedding(n_features, d_model, n_time_features, embed, dropout, **embedding)
        self.dec_embedding = DataEmbedding(n_features, d_model, n_time_features, embed, dropout, **embedding)
        defaults = {"heads": n_heads, "dropout": dropout, "factor": factor, "measure": "informer",
                    "lazy_causal": lazy}
        options = mixer_kwargs(mixer, defaults, mixer_options)

        def encoder_mixer() -> nn.Module:
            if scrambled:
                return InformerAttention(d_model, n_heads, kind="prob", factor=factor, lazy_causal=lazy,
                                         mix=True, dropout=dropout)
            return build_mixer(mixer, d_model, **options)

        self.encoder_layers = nn.ModuleList(
            PostNormEncoderLayer(d_model, encoder_mixer(), d_ff, dropout, activation) for _ in range(e_layers))
        distilling = [DistillingLayer(d_model, self.distil_padding) for _ in range(e_layers - 1)]
        self.distilling = nn.ModuleList(distilling) if self.distil else None
        self.encoder_norm = nn.LayerNorm(d_model)

        cross = "prob" if official == "tslib" else "full"
        self.decoder_layers = nn.ModuleList(
            InformerDecoderLayer(
                d_model,
                InformerAttention(d_model, n_heads, kind=decoder_attention, causal=True, factor=factor,
                                  lazy_causal=lazy, mix=official is not None),
                InformerAttention(d_model, n_heads, kind=cross, factor=factor, lazy_causal=lazy, mix=scrambled),
                d_ff, dropout, activation)
            for _ in range(d_layers))
        self.decoder_norm = nn.LayerNorm(d_model)
        self.projection = nn.Linear(d_model, n_targets)

    def encoder_lengths(self) -> list[int]:
        """Sequence length entering each encoder layer (halved by each distilling layer)."""
        lengths = [self.seq_len]
        for _ in range(len(self.encoder_layers) - 1):
            lengths.append(DistillingLayer.output_length(lengths[-1], self.distil_padding) if self.distil
                           else lengths[-1])
        return lengths

    def encode(self, x_enc: torch.Tensor, x_mark_enc: torch.Tensor | None) -> torch.Tensor:
        """``(B, L, C_in)`` -> encoder output ``(B, L_enc, D)``."""
        x = self.enc_embedding(x_enc, x_mark_enc)
        for i, layer in enumerate(self.encoder_layers):
            x = layer(x)
            if self.distilling is not None and i < len(self.distilling):
                x = self.distilling[i](x)
        return self.encoder_norm(x)

    def decoder_input(self, x_enc: torch.Tensor, x_dec: torch.Tensor | None) -> torch.Tensor:
        """``[label_len known steps ; pred_len zeros]`` (B, label_len + H, C_in); the known steps come from
        ``x_dec`` when given, else from the end of ``x_enc``."""
        known = x_dec[:, :self.label_len] if x_dec is not None else x_enc[:, x_enc.shape[1] - self.label_len:]
        zeros = known.new_zeros(known.shape[0], self.pred_len, known.shape[2])
        return torch.cat([known, zeros], dim=1)

    def forward(self, x_enc, x_mark_enc=None, x_dec=None, x_mark_dec=None) -> torch.Tensor:
        marks = self.enc_embedding.temporal is not None
        self.check_inputs(x_enc, x_mark_enc, x_dec, x_mark_dec, need_marks=marks)
        if marks and x_mark_dec is None:
            raise ValueError("Informer: x_mark_dec is required (the time features of the label_len known and "
                             f"{self.pred_len} future steps), expected shape (batch, "
                             f"{self.label_len + self.pred_len}, {self.n_time_features})")
        enc = self.encode(x_enc, x_mark_enc)
        dec = self.dec_embedding(self.decoder_input(x_enc, x_dec), x_mark_dec)
        for layer in self.decoder_layers:
            dec = layer(dec, enc)
        out = self.projection(self.decoder_norm(dec))  # (B, label_len + H, C_out)
        return out[:, -self.pred_len:]
