"""Gateformer (Lan & Oermann, "Gateformer: Advancing Multivariate Time Series Forecasting through Temporal
and Variate-Wise Attention with Gated Representations", arXiv 2505.00307, 2025; its method section and
architecture figure).

Each variate is embedded on its own through two paths, the two embeddings are fused by a learned gate,
attention then mixes the variate embeddings, and a second gate fuses the pre- and post-attention ones::

    x_enc (B, L, N) --InstanceNorm-->                                            per series
    global path:    E_g = Linear(L -> D)(xᵀ)                      (B, N, D)      "global temporal embedding"
    temporal path:  patches of length P, stride S, the end replication-padded by S -> Linear(P -> D)
                    + sinusoidal position -> temporal encoder over the patches of each variate
                    (B·N, n_p, D) -> flatten -> Linear(n_p·D -> D)  E_t    (B, N, D)
    gate 1:         E = VariateGate(E_g, E_t)                     (B, N, D)      "variate embeddings"
    variate encoder over the N variate tokens:  E_x = Enc(E)      (B, N, D)
    gate 2:         Z = VariateGate(E, E_x)                       (B, N, D)
    Linear(D -> H) -> (B, H, N) -> de-normalise -> target series (B, H, C_out)

The gate (``VariateGate``) is ``G = sigmoid(W_a a + W_b b + c)``, ``out = G ⊙ a + (1 - G) ⊙ b``:
element-wise, input-dependent convex mixing of two representations of the same variate, as in the paper
and its official code (nyuolab/Gateformer ``models/Gateformer.py``: two ``Linear(D, D)`` whose sum goes
through the sigmoid; identical to one ``Linear(2D, D)`` on ``[a ; b]``). In gate 1, ``a`` is the global
embedding and ``b`` the temporal-dependency one; in gate 2, ``a`` is the embedding before variate
attention and ``b`` after it, so the gate can hold back cross-variate information where it does not help.
The paper's point that the gated design plugs into other forecasters is what ``VariateGate`` is for: any
model that makes two ``(..., D)`` representations can fuse them with it.

Both encoders are backbone ``MixerStack``s (pre-norm blocks, as the official ``norm_first=True``
``nn.TransformerEncoder``), so their mixers are configurable (``temporal_mixer``, ``variate_mixer``:
``"full"`` by default; any schedule such as ``"local,full"`` or ``"mamba"``).

Official defaults (``run.py``): patch_len 8, stride 8, d_model 512, n_heads 8, e_layers 2 (both encoders),
d_ff 2048, dropout 0.1, lr 5e-4, batch 8, 10 epochs, "type1" halving. ETTh1 96->96 script: e_layers 1,
d_model 64, d_ff 64, n_heads 4, lr 1e-4.

FFN activation (``activation``): ``"relu"`` by default, as the official ``nn.TransformerEncoderLayer``
(PyTorch's default); ``"gelu"`` is the backbone block's usual MLP.

Initialisation (``official_init=True``, the default) follows the official layers: PyTorch's
``nn.MultiheadAttention`` draws its fused ``(3D, D)`` in-projection xavier-uniform and zeroes its in- and
out-projection biases; the backbone attention mixers hold the same fused ``qkv`` matrix, so it gets the same
draw. Everything else keeps PyTorch's ``nn.Linear`` / ``nn.LayerNorm`` defaults, as in the official code.

Departures from the official code:

- Layer copies: ``nn.TransformerEncoder`` deep-copies one freshly built layer, so all ``e_layers`` layers of
  an official encoder start from identical weights; here each layer is drawn independently (same
  distribution; identical for the one-layer ETTh1 scripts).
- Dropout: attention mixers drop their output (the residual branch); PyTorch's layer also drops the
  attention probabilities.
- Head flattening: the official ``FlattenHead`` flattens ``(D, n_p)`` (width-major), ours ``(n_p, D)``;
  the same function up to a permutation of the head's input columns (official weights load transposed:
  ``W.view(D_out, D, n_p).transpose(1, 2)``; with that, ours matches the official output to 1e-6).
- Number of patches: computed exactly, ``(L + S - P) // S + 1``; the official head width
  ``D·int((L - P)/S + 2)`` equals it whenever S divides ``L - P`` (e.g. 96, 8, 8 -> 13).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spanmix.apps.forecast.models import FORECAST_MODELS, ForecastModel
from spanmix.apps.forecast.models.embed import InstanceNorm, PositionalEmbedding, check_positive_int
from spanmix.backbone.mixers.multihead import AttentionMixer
from spanmix.backbone.registry import mixer_options
from spanmix.backbone.stack import MixerStack, parse_schedule

__all__ = ["ACTIVATIONS", "Gateformer", "PatchEmbedding", "VariateGate", "official_attention_init",
           "stack_kwargs"]

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}


def official_attention_init(stack: nn.Module) -> None:
    """``nn.MultiheadAttention._reset_parameters`` on every attention mixer of ``stack``: xavier-uniform
    fused ``qkv`` weight ``(3D, D)``, zero ``qkv`` and ``out`` biases (the ``out`` weight keeps the
    ``nn.Linear`` default, as PyTorch's ``out_proj``)."""
    for module in stack.modules():
        if isinstance(module, AttentionMixer):
            nn.init.xavier_uniform_(module.qkv.weight)
            for linear in (module.qkv, module.out):
                if linear.bias is not None:
                    nn.init.zeros_(linear.bias)


class VariateGate(nn.Module):
    """Gated fusion of two views: ``G = sigmoid(W_a a + W_b b + c)``, ``out = G ⊙ a + (1 - G) ⊙ b``.

    Gateformer's gate (see the module docstring), usable in any model that has two views of the same
    tokens. ``G → 1`` returns ``a``, ``G → 0`` returns ``b``; ``gate(a, b)`` gives ``G`` itself.

    Args:
        dim: width D of both inputs.

    Shapes: ``a``, ``b`` (..., D) (same shape; e.g. (B, N, D) variate tokens) -> (..., D).
    Parameters: ``2·D² + 2·D`` (two biased ``Linear(D, D)``, as the official code).
    """

    def __init__(self, dim: int):
        super().__init__()
        check_positive_int("VariateGate", dim=dim)
        self.dim = dim
        self.proj_a = nn.Linear(dim, dim)
        self.proj_b = nn.Linear(dim, dim)

    def gate(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The gate ``G`` in (0, 1), shape of ``a``."""
        if a.shape != b.shape or a.shape[-1] != self.dim:
            raise ValueError(f"VariateGate: expected two tensors of the same shape (..., {self.dim}), got "
                             f"{tuple(a.shape)} and {tuple(b.shape)}")
        return torch.sigmoid(self.proj_a(a) + self.proj_b(b))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        g = self.gate(a, b)
        return g * a + (1 - g) * b


class PatchEmbedding(nn.Module):
    """PatchTST-style patches of each series (Nie et al., ICLR 2023), as Gateformer's temporal path uses them.

    The series is padded at its end by ``stride`` copies of its last value, cut into ``n_patches =
    (L + stride - patch_len) // stride + 1`` windows of ``patch_len`` steps, each mapped by
    ``Linear(patch_len, D, bias=False)``, plus a sinusoidal position per patch, then dropout.

    Shapes: ``x`` (B, N, L) -> (B·N, n_patches, D).
    """

    def __init__(self, seq_len: int, d_model: int, patch_len: int = 8, stride: int = 8, dropout: float = 0.0):
        super().__init__()
        check_positive_int("PatchEmbedding", seq_len=seq_len, d_model=d_model, patch_len=patch_len,
                           stride=stride)
        if patch_len > seq_len + stride:
            raise ValueError(f"PatchEmbedding: patch_len={patch_len} exceeds seq_len + stride = "
                             f"{seq_len + stride}")
        self.patch_len, self.stride = patch_len, stride
        self.n_patches = (seq_len + stride - patch_len) // stride + 1
        self.value = nn.Linear(patch_len, d_model, bias=False)
        self.position = PositionalEmbedding(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, _ = x.shape
        x = F.pad(x, (0, self.stride), mode="replicate")  # (B, N, L + S): repeat the last value
        patches = x.unfold(-1, self.patch_len, self.stride)  # (B, N, n_p, P)
        patches = patches.reshape(B * N, self.n_patches, self.patch_len)
        tokens = self.value(patches)  # (B·N, n_p, D)
        return self.dropout(tokens + self.position(tokens))


def stack_kwargs(schedule: str, defaults: dict[str, Any],
                 overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Mixer options for a ``MixerStack`` schedule: the ``defaults`` some mixer of the schedule accepts
    (``heads`` is dropped for an all-Mamba schedule), then ``overrides`` verbatim."""
    accepted = set().union(*(mixer_options(name) for name in parse_schedule(schedule)))
    kwargs = {k: v for k, v in defaults.items() if k in accepted}
    kwargs.update(overrides or {})
    return kwargs


@FORECAST_MODELS.register("gateformer")
class Gateformer(ForecastModel):
    """Gateformer: gated temporal (patch) and global variate embeddings, attention across variates.

    Args:
        n_features, n_targets, seq_len, label_len, pred_len, n_time_features: see ``ForecastModel``.
        d_model, n_heads, e_layers, d_ff, dropout: sizes; ``e_layers`` is the depth of each encoder.
        patch_len, stride: patching of the temporal path.
        temporal_mixer, variate_mixer: ``MixerStack`` schedules of the two encoders (``"full"``); the
            pattern repeats to ``e_layers`` layers and must divide it.
        temporal_options, variate_options: extra mixer options of each stack (e.g. ``{"window": 4}``).
        activation: FFN activation of both encoders, ``"relu"`` (official) or ``"gelu"``.
        official_init: the official attention initialisation (module docstring); False keeps the
            backbone mixers' ``nn.Linear`` defaults.

    Shapes: ``x_enc`` (B, L, C_in) -> (B, H, C_out); marks and ``x_dec`` are ignored (as the official
    code: no time-feature tokens). Cost: temporal encoder over B·N sequences of n_p patches, variate
    encoder over B sequences of N tokens.
    """

    def __init__(self, n_features: int, n_targets: int, seq_len: int, label_len: int = 0, pred_len: int = 1,
                 n_time_features: int = 0, *, d_model: int = 512, n_heads: int = 8, e_layers: int = 2,
                 d_ff: int = 2048, dropout: float = 0.1, patch_len: int = 8, stride: int = 8,
                 temporal_mixer: str = "full", variate_mixer: str = "full",
                 temporal_options: dict[str, Any] | None = None,
                 variate_options: dict[str, Any] | None = None, activation: str = "relu",
                 official_init: bool = True):
        super().__init__(n_features, n_targets, seq_len, label_len, pred_len, n_time_features)
        check_positive_int("Gateformer", d_model=d_model, n_heads=n_heads, e_layers=e_layers, d_ff=d_ff)
        if activation not in ACTIVATIONS:
            raise ValueError(f"Gateformer: activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.activation = activation
        self.norm = InstanceNorm()
        self.global_embedding = nn.Linear(seq_len, d_model)
        self.global_dropout = nn.Dropout(dropout)
        self.patch_embedding = PatchEmbedding(seq_len, d_model, patch_len, stride, dropout)
        shared = {"depth": e_layers, "mlp_ratio": d_ff / d_model, "dropout": dropout, "final_norm": False}
        defaults = {"heads": n_heads}
        self.temporal_encoder = MixerStack(d_model, temporal_mixer, **shared,
                                           **stack_kwargs(temporal_mixer, defaults, temporal_options))
        self.head = nn.Sequential(nn.Flatten(start_dim=-2),
                                  nn.Linear(self.patch_embedding.n_patches * d_model, d_model),
                                  nn.Dropout(dropout))
        self.gate_embed = VariateGate(d_model)
        self.variate_encoder = MixerStack(d_model, variate_mixer, **shared,
                                          **stack_kwargs(variate_mixer, defaults, variate_options))
        self.gate_variate = VariateGate(d_model)
        self.projection = nn.Linear(d_model, pred_len)
        for stack in (self.temporal_encoder, self.variate_encoder):
            for block in stack.blocks:
                if hasattr(block.ffn, "act"):  # timm Mlp: fc1 -> act -> drop -> fc2 -> drop
                    block.ffn.act = ACTIVATIONS[activation]()
            if official_init:
                official_attention_init(stack)

    def variate_embeddings(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised series ``(B, L, N)`` -> gated variate embeddings ``(B, N, D)`` (before gate 2)."""
        B, _, N = x.shape
        series = x.transpose(1, 2)  # (B, N, L)
        global_emb = self.global_dropout(self.global_embedding(series))  # (B, N, D)
        patches = self.temporal_encoder(self.patch_embedding(series))  # (B·N, n_p, D)
        temporal_emb = self.head(patches).view(B, N, -1)  # (B, N, D)
        return self.gate_embed(global_emb, temporal_emb)

    def forward(self, x_enc, x_mark_enc=None, x_dec=None, x_mark_dec=None) -> torch.Tensor:
        self.check_inputs(x_enc, x_mark_enc, x_dec, x_mark_dec)
        x, stats = self.norm.normalize(x_enc)
        tokens = self.variate_embeddings(x)  # (B, N, D)
        mixed = self.variate_encoder(tokens)  # (B, N, D)
        fused = self.gate_variate(tokens, mixed)
        out = self.projection(fused).transpose(1, 2)  # (B, H, N)
        return self.norm.denormalize(out, stats)[..., self.targets]
