"""LV-MAE: a masked-embedding autoencoder over the segment embeddings of a long video.

Naiman et al., "LV-MAE: Learning Long Video Representations through Masked-Embedding Autoencoders",
ICCV 2025 (Sec. 3; official code amazon-science/lv-mae, ``models_mae.py``, ``test_ap_movie_clip.py``).

A video is a sequence of T segment embeddings (B, T, D_in) from a frozen short-clip encoder. Pretraining
masks half of them (random or importance masking, ``spanmix.apps.video.lvmae.masking``); the encoder sees
only the kept ones, with their fixed sin-cos positions, after a [CLS] token; the narrower decoder gets the
encoded tokens back at their positions, a learned mask token at the masked ones, its own sin-cos positions,
and predicts every segment's embedding; the loss is the MSE (or 1 - cosine) on the masked segments only.
Probes use the frozen encoder on the full sequence (``encode``) and read its [CLS] token.

Shapes: ``x`` (B, T, D_in), ``valid`` (B, T) bool (False on padding), ``mask`` (B, T) bool (True = masked)
-> ``pred`` (B, T, D_in), ``loss`` scalar; ``encode`` -> (B, 1 + T, dim). T <= ``max_segments`` (256 in the
paper: 21 min at 5 s). Paper size (``LVMAE.paper()``): D_in = dim = 1024, depth 32, 16 heads; decoder 512-d,
8 layers, 16 heads; 429,352,960 trainable parameters, as the official ``mae_vit_base_custom`` with
``--input_size 1024 --depth 32 --num_heads 16 --decoder_embed_dim 512 --decoder_depth 8 --decoder_num_heads 16``
(counted from the official code; pinned in tests/apps/video/test_lvmae_model.py).

The encoder body is a backbone ``MixerStack`` (``schedule``: ``full`` as the paper, or ``local*3,full``,
``mamba``, ``hyena``, ...); the decoder is full attention as in the paper.

Departures from the official code:
- a linear input projection when ``dim != input_dim`` (the official encoder width is the embedding width;
  with ``dim == input_dim`` there is none, as there);
- the kept tokens enter the encoder in time order rather than in the masking's shuffled order (the same
  function for attention, which is permutation-equivariant given the positions; needed for order-aware
  mixers such as Mamba and Hyena); non-attention schedules are ours, not the paper's;
- Mamba in the encoder is bidirectional by default (``mixer_options`` may override); Hyena is causal;
- none in the arithmetic: with the official weights copied in (``load_official_state``), the same inputs
  and the same mask, the loss and predictions match the official module (checked against the official
  code; see the issue report). LayerNorm eps is 1e-6 everywhere, as the official
  ``partial(nn.LayerNorm, eps=1e-6)``.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from spanmix.apps.video.lvmae.masking import importance_mask, random_mask
from spanmix.backbone.positional import sinusoidal_encoding
from spanmix.backbone.registry import mixer_options as accepted_options
from spanmix.backbone.stack import MixerStack, parse_schedule

__all__ = ["LVMAE", "masked_loss", "sincos_table"]


def sincos_table(length: int, dim: int) -> torch.Tensor:
    """MAE's 1-D sin-cos table with a zero row for [CLS] first: ``(length + 1, dim)``; columns are all sines
    then all cosines (``util/pos_embed.get_1d_sincos_pos_embed``), the same frequencies as the backbone's
    interleaved ``sinusoidal_encoding``, reordered."""
    if dim % 2:
        raise ValueError(f"sin-cos positions need an even width, got {dim}")
    pe = sinusoidal_encoding(torch.arange(length, dtype=torch.float64), dim)  # sin, cos interleaved
    pe = torch.cat([pe[:, 0::2], pe[:, 1::2]], dim=1)
    return torch.cat([pe.new_zeros(1, dim), pe]).float()


def masked_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """Mean over the masked tokens (``mask`` True) of the per-token MSE (mean over D) or ``1 - cosine``."""
    if kind == "mse":
        per = (pred - target).pow(2).mean(-1)
    elif kind == "cosine":
        per = 1 - nn.functional.cosine_similarity(pred, target, dim=-1, eps=1e-6)
    else:
        raise ValueError(f"loss must be 'mse' or 'cosine', got {kind!r}")
    w = mask.to(per.dtype)
    return (per * w).sum() / w.sum().clamp(min=1)


def _stack_options(schedule: str, heads: int, max_len: int, user: dict[str, dict[str, Any]] | None):
    out: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(parse_schedule(schedule)):
        accepted = accepted_options(name)
        opts: dict[str, Any] = {}
        if "heads" in accepted:
            opts["heads"] = heads
        if "bias" in accepted:
            opts["bias"] = True  # qkv_bias=True as the official blocks
        if "max_len" in accepted:
            opts["max_len"] = max_len
        if name == "mamba":
            opts["bidirectional"] = True
        opts.update((user or {}).get(name, {}))
        out[name] = opts
    return out


class LVMAE(nn.Module):
    """The LV-MAE model (module docstring).

    Args:
        input_dim: width of the segment embeddings (1024 for LanguageBind).
        dim: encoder width (default ``input_dim``). depth, heads: encoder depth and heads.
        decoder_dim, decoder_depth, decoder_heads: the decoder's.
        max_segments: the longest sequence (positions table), 256 in the paper.
        schedule: the encoder's mixer schedule (``"full"``, ``"local*3,full"``, ``"mamba"``, ``"hyena"``).
        mixer_options: per-mixer options for the encoder, e.g. ``{"local": {"window": 16}}``.
        mlp_ratio: FFN width ratio (4). mask_ratio: 0.5 (the paper's). masking: ``importance`` or ``random``.
        loss: ``mse`` (default) or ``cosine`` (1 - cosine similarity, the official ``--cos_loss``).
    """

    def __init__(self, input_dim: int = 1024, dim: int | None = None, depth: int = 32, heads: int = 16,
                 decoder_dim: int = 512, decoder_depth: int = 8, decoder_heads: int = 16, max_segments: int = 256,
                 schedule: str = "full", mixer_options: dict[str, dict[str, Any]] | None = None,
                 mlp_ratio: float = 4.0, mask_ratio: float = 0.5, masking: str = "importance", loss: str = "mse"):
        super().__init__()
        dim = dim or input_dim
        if masking not in ("importance", "random"):
            raise ValueError(f"masking must be 'importance' or 'random', got {masking!r}")
        if loss not in ("mse", "cosine"):
            raise ValueError(f"loss must be 'mse' or 'cosine', got {loss!r}")
        if not 0.0 <= mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in [0, 1), got {mask_ratio}")
        self.input_dim, self.dim, self.max_segments = input_dim, dim, max_segments
        self.mask_ratio, self.masking, self.loss_kind = mask_ratio, masking, loss
        self.embed = nn.Identity() if dim == input_dim else nn.Linear(input_dim, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.register_buffer("pos", sincos_table(max_segments, dim), persistent=False)
        self.encoder = MixerStack(dim, schedule, depth, mlp_ratio=mlp_ratio,
                                  mixer_options=_stack_options(schedule, heads, max_segments + 1, mixer_options))
        self.decoder_embed = nn.Linear(dim, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        self.register_buffer("decoder_pos", sincos_table(max_segments, decoder_dim), persistent=False)
        self.decoder = MixerStack(decoder_dim, "full", decoder_depth, mlp_ratio=mlp_ratio, heads=decoder_heads,
                                  bias=True)
        self.decoder_pred = nn.Linear(decoder_dim, input_dim)
        self._init_weights()
        for m in self.modules():
            if isinstance(m, nn.LayerNorm):
                m.eps = 1e-6

    @classmethod
    def paper(cls, **overrides: Any) -> LVMAE:
        """The paper's size (README command of the official code)."""
        return cls(**{"input_dim": 1024, "depth": 32, "heads": 16, "decoder_dim": 512, "decoder_depth": 8,
                      "decoder_heads": 16, "max_segments": 256, **overrides})

    def _init_weights(self) -> None:
        # As the official (MAE) init: normal(0.02) tokens, xavier-uniform linears with zero bias, unit norms.
        nn.init.normal_(self.cls_token, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def load_official_state(self, state: dict[str, torch.Tensor]) -> None:
        """Load a state dict of the official ``MaskedAutoencoderViT`` (``checkpoint["model"]``) into this model
        (``schedule="full"``, ``dim == input_dim``); the fixed sin-cos tables are not loaded (ours are equal)."""
        if not isinstance(self.embed, nn.Identity) or any(n != "full" for n in self.encoder.schedule):
            raise ValueError("official weights fit only schedule='full' with dim == input_dim")
        rename = {"attn.qkv": "mixer.qkv", "attn.proj": "mixer.out", "mlp.fc1": "ffn.fc1", "mlp.fc2": "ffn.fc2"}
        out = {}
        for name, value in state.items():
            if name in ("pos_embed", "decoder_pos_embed"):
                continue
            for a, b in (("decoder_blocks.", "decoder.blocks."), ("blocks.", "encoder.blocks."),
                         ("decoder_norm.", "decoder.norm."), ("norm.", "encoder.norm.")):
                if name.startswith(a):
                    name = b + name[len(a):]
                    break
            for a, b in rename.items():
                name = name.replace(a, b)
            out[name] = value
        self.load_state_dict(out)

    def _check(self, x: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
        if x.ndim != 3 or x.shape[-1] != self.input_dim:
            raise ValueError(f"LV-MAE expects segment embeddings (B, T, {self.input_dim}), got {tuple(x.shape)}")
        if x.shape[1] > self.max_segments:
            raise ValueError(f"{x.shape[1]} segments exceed max_segments={self.max_segments} "
                             "(cut long videos into windows)")
        if valid is None:
            return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        if valid.shape != x.shape[:2]:
            raise ValueError(f"valid must be (B, T) = {tuple(x.shape[:2])}, got {tuple(valid.shape)}")
        return valid.bool()

    def make_mask(self, x: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """This model's masking (``masking``, ``mask_ratio``) of ``x``: (B, T) bool, True = masked."""
        fn = importance_mask if self.masking == "importance" else random_mask
        return fn(x, self.mask_ratio, self._check(x, valid))

    def _with_cls(self, h: torch.Tensor, tok_valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cls = (self.cls_token + self.pos[:1]).expand(h.shape[0], -1, -1)
        ones = torch.ones(h.shape[0], 1, dtype=torch.bool, device=h.device)
        return torch.cat([cls, h], 1), torch.cat([ones, tok_valid], 1)

    def encode(self, x: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """The encoder over every real segment (no masking): (B, T, D_in) -> (B, 1 + T, dim); [CLS] first."""
        valid = self._check(x, valid)
        h = self.embed(x) + self.pos[1:x.shape[1] + 1]
        seq, seq_valid = self._with_cls(h, valid)
        return self.encoder(seq, mask=seq_valid)

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Mask (``make_mask`` unless ``mask`` is given), encode the kept segments, decode all, score the masked.
        Returns ``{"loss", "pred" (B, T, D_in), "mask" (B, T) bool, "latent" (B, 1 + kept, dim)}``."""
        valid = self._check(x, valid)
        if mask is None:
            mask = self.make_mask(x, valid)
        mask = mask.bool() & valid
        b, t, _ = x.shape
        visible = valid & ~mask
        n_vis = visible.sum(1)
        keep = int(n_vis.max())
        idx = torch.argsort((~visible).to(torch.int8), dim=1, stable=True)[:, :keep]  # kept ones first, in time order
        tok_valid = torch.arange(keep, device=x.device)[None] < n_vis[:, None]
        h = self.embed(x) + self.pos[1:t + 1]
        h = torch.gather(h, 1, idx[..., None].expand(-1, -1, h.shape[-1]))  # (B, keep, dim)
        seq, seq_valid = self._with_cls(h, tok_valid)
        latent = self.encoder(seq, mask=seq_valid)

        d = self.decoder_embed(latent)  # (B, 1 + keep, Cd)
        full = self.mask_token.expand(b, t, -1).to(d.dtype)
        bi, ji = tok_valid.nonzero(as_tuple=True)
        full = full.index_put((bi, idx[bi, ji]), d[bi, 1 + ji])
        full = torch.cat([d[:, :1], full], 1) + self.decoder_pos[:t + 1]
        ones = torch.ones(b, 1, dtype=torch.bool, device=x.device)
        y = self.decoder(full, mask=torch.cat([ones, valid], 1))
        pred = self.decoder_pred(y[:, 1:])
        return {"loss": masked_loss(pred, x, mask, self.loss_kind), "pred": pred, "mask": mask, "latent": latent}
