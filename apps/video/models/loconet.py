"""LoCoNet: Long-Short Context Network for active speaker detection.

Wang, Cheng, Bertasius, Crandall, "LoCoNet: Long-Short Context Network for Active Speaker Detection",
CVPR 2024 (arXiv 2301.08237), Sec. 3; official code SJTUwxz/LoCoNet_ASD (built on TalkNet-ASD). Re-derived
from the paper and the released architecture; no code copied.

Input per sample: S speakers' face tracks over T frames (speaker 0 is the target, the others its context)
and the scene's log-mel audio (4 frames per video frame, shared by the S speakers).

    faces (B, S, T, H, W) uint8 or float in [0, 255]    audio (B, 4T, 64)    mask (B, S, T) bool
    -> {"av": (B, S, T, 2), "a": (B, S, T, 2), "v": (B, S, T, 2)} logits (class 1 = speaking)

1. Visual encoder: 3D conv stem 1->C (kernel 5x7x7, stride 1x2x2) + BN + ReLU + max pool, a ResNet-18
   trunk per frame (timm's ResNet-18 stages, ``timm.models.resnet.make_blocks``, and global average pool), a visual TCN (5 residual
   depthwise-separable temporal convs) and Conv1d 512->256->128: 128-d per frame.
2. Audio encoder: a VGGish-style CNN on the log-mel (two 3x3 conv + 2x2 pool blocks, two double-conv
   blocks pooling frequency only, so 4 audio frames -> 1 video frame), mean over frequency, linear -> 128.
3. Cross-attention (128-d, 8 heads, post-LN, FFN 4x): audio attended by visual queries and vice versa
   (the official ``attentionLayer(src, tar)``: ``LN(src + MHA(q=tar, k=v=src))``), concatenated -> 256-d.
4. Long-Short Context Modelling, ``layers`` x [SIM, LIM]:
   - SIM (short-term inter-speaker): Conv2d(256 -> 256*S, kernel (S, 7)) over (speaker, time), its output
     read as (256, S) per frame, LayerNorm, 1x1 conv 256->512, GELU, 1x1 512->256, residual.
   - LIM (long-term intra-speaker): a backbone mixer by name over each speaker's frames in a post-LN layer
     with a 4x ReLU FFN. ``mixer="full"`` is the paper's self-attention (8 heads); ``local``, ``mamba``
     (bidirectional) or ``hyena`` swap it.
5. Heads: Linear(256, 2) on the AV features, Linear(128, 2) on each of the cross-attended audio and visual
   features. ``loss``: L_AV + 0.4 L_A + 0.4 L_V, cross-entropy averaged over unmasked frames of all S.

Departures from the official code:
- the stem's BatchNorm and max pool are applied per frame (2D; the official BatchNorm3d/MaxPool3d with a
  temporal kernel of 1 compute the same).
- the ResNet-18 trunk is timm's standard BasicBlock ResNet (the official one is deep_avsr's variant with
  BN-ReLU after each residual sum and a fixed 4x4 average pool, i.e. 112x112 input only); any input size
  works here. The visual TCN's global layer norm is ``GroupNorm(1, C)`` (the same normalisation, eps 1e-5
  instead of 1e-8 inside the root).
- the audio encoder is trained from scratch (the official one loads VGGish's AudioSet weights by URL); its
  layout follows VGGish but pools time only twice; ``audio_widths`` sets its size.
- padding is masked: attention layers get a key-padding mask and padded frames are zeroed before every
  temporal/speaker convolution (the official code lets padding enter the attention and convolutions).
- optional ``dim``, ``widths`` (visual trunk), ``audio_widths`` and ``tcn_blocks`` shrink the model for CPU
  training; the defaults are the paper's sizes.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from spanmix.backbone import build_mixer
from spanmix.backbone.registry import mixer_options

__all__ = ["LoCoNet", "SpeakerInteraction", "LongTermLayer", "CrossAttentionLayer", "VisualEncoder",
           "AudioEncoder", "FACE_MEAN", "FACE_STD"]

#: Face normalisation of the official code: (x / 255 - 0.4161) / 0.1688.
FACE_MEAN, FACE_STD = 0.4161, 0.1688


class _DSConv1d(nn.Module):
    """TalkNet's V-TCN block: ReLU, BN, depthwise conv 3, PReLU, global LN, pointwise conv; residual."""

    def __init__(self, dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.ReLU(), nn.BatchNorm1d(dim),
                                 nn.Conv1d(dim, dim, 3, padding=1, groups=dim, bias=False), nn.PReLU(),
                                 nn.GroupNorm(1, dim), nn.Conv1d(dim, dim, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class VisualEncoder(nn.Module):
    """Faces (N, T, H, W) in [0, 255] -> (N, T, out_dim). 3D stem + timm ResNet-18 trunk + V-TCN + Conv1d."""

    def __init__(self, widths: Sequence[int] = (64, 128, 256, 512), tcn_blocks: int = 5, out_dim: int = 128):
        super().__init__()
        from timm.models.resnet import BasicBlock, make_blocks

        widths = tuple(int(w) for w in widths)
        if len(widths) != 4:
            raise ValueError(f"widths must list the 4 ResNet-18 stage widths, got {widths}")
        self.stem_conv = nn.Conv3d(1, widths[0], (5, 7, 7), stride=(1, 2, 2), padding=(2, 3, 3), bias=False)
        self.stem = nn.Sequential(nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(3, stride=2, padding=1))
        # timm's ResNet-18 stages (BasicBlock x [2, 2, 2, 2]) fed by our 3D stem instead of its 2D one.
        stages, _ = make_blocks((BasicBlock,) * 4, widths, (2, 2, 2, 2), inplanes=widths[0])
        self.trunk = nn.Sequential(*[stage for _, stage in stages], nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        dim = widths[-1]
        self.tcn = nn.Sequential(*[_DSConv1d(dim) for _ in range(tcn_blocks)])
        self.proj = nn.Sequential(nn.Conv1d(dim, 2 * out_dim, 5, padding=2), nn.BatchNorm1d(2 * out_dim),
                                  nn.ReLU(inplace=True), nn.Conv1d(2 * out_dim, out_dim, 1))

    def conv3d_stem(self, x: torch.Tensor) -> torch.Tensor:
        """``stem_conv`` on (N, T, H, W) -> (N*T, C, H/2, W/2), computed as a 2D convolution over the 5
        frames around each frame stacked as channels: the same sum, but PyTorch's CPU backward of
        ``conv3d`` takes a slow path (about 10x slower here) while ``conv2d``'s is oneDNN's."""
        n, t, h, w = x.shape
        kt = self.stem_conv.kernel_size[0]
        padded = F.pad(x, (0, 0, 0, 0, kt // 2, kt // 2))                # zero frames before/after, as conv3d
        stacked = padded.unfold(1, kt, 1).permute(0, 1, 4, 2, 3)      # (N, T, kt, H, W)
        weight = self.stem_conv.weight.squeeze(1)                      # (C, kt, 7, 7)
        return F.conv2d(stacked.reshape(n * t, kt, h, w), weight, stride=self.stem_conv.stride[1:],
                        padding=self.stem_conv.padding[1:])

    def forward(self, faces: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        n, t, h, w = faces.shape
        x = (faces.float() / 255 - FACE_MEAN) / FACE_STD
        if mask is not None:
            x = x * mask[:, :, None, None].to(x.dtype)
        x = self.stem(self.conv3d_stem(x))                             # (N*T, C, h', w')
        x = self.trunk(x).view(n, t, -1).transpose(1, 2)               # (N, 512, T)
        x = _zero_padding(x, mask)
        for block in self.tcn:
            x = _zero_padding(block(x), mask)
        return self.proj(x).transpose(1, 2)                            # (N, T, 128)


class AudioEncoder(nn.Module):
    """Log-mel (N, 4T, F) -> (N, T, 128): a VGGish-style CNN whose time stride is 4."""

    def __init__(self, widths: Sequence[int] = (64, 128, 256, 512), out_dim: int = 128):
        super().__init__()
        w1, w2, w3, w4 = (int(w) for w in widths)

        def conv(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.net = nn.Sequential(
            *conv(1, w1), nn.MaxPool2d(2),
            *conv(w1, w2), nn.MaxPool2d(2),
            *conv(w2, w3), *conv(w3, w3), nn.MaxPool2d((1, 2)),
            *conv(w3, w4), *conv(w4, w4), nn.MaxPool2d((1, 2)))
        self.proj = nn.Linear(w4, out_dim)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        n, frames, _ = mel.shape
        if frames % 4:
            raise ValueError(f"audio must have 4 frames per video frame (a multiple of 4), got {frames}")
        x = self.net(mel.unsqueeze(1))                                 # (N, C, T, F')
        return self.proj(x.mean(-1).transpose(1, 2))                   # (N, T, 128)


class CrossAttentionLayer(nn.Module):
    """Post-LN attention layer ``LN(src + MHA(q=tar, k=v=src))`` then ``LN(x + FFN(x))`` (FFN 4x, ReLU);
    (B, T, D) -> (B, T, D). With ``tar = src`` it is a post-LN Transformer encoder layer."""

    def __init__(self, dim: int = 128, heads: int = 8, dropout: float = 0.1):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(dim, 4 * dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(4 * dim, dim))
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.drop1, self.drop2 = nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, src: torch.Tensor, tar: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        pad = None if mask is None else ~mask
        x = self.norm1(src + self.drop1(self.attn(tar, src, src, key_padding_mask=pad, need_weights=False)[0]))
        return self.norm2(x + self.drop2(self.ffn(x)))


class SpeakerInteraction(nn.Module):
    """SIM: short-term inter-speaker modelling over (speaker, time). (B*S, T, D) -> (B*S, T, D).

    Conv2d(D -> D*S, kernel (S, k), time padding k//2) collapses the S speakers into one row whose channels
    are read as (D, S), i.e. one output per speaker; then LayerNorm(D), 1x1 conv D->2D, GELU, 1x1 2D->D and a
    residual (the official ``ConvLayer``)."""

    def __init__(self, dim: int = 256, speakers: int = 3, kernel: int = 7):
        super().__init__()
        self.dim, self.speakers = dim, speakers
        self.conv = nn.Conv2d(dim, dim * speakers, (speakers, kernel), padding=(0, kernel // 2))
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Conv2d(dim, 2 * dim, 1), nn.GELU(), nn.Conv2d(2 * dim, dim, 1))

    def forward(self, x: torch.Tensor, batch: int, mask: torch.Tensor | None = None) -> torch.Tensor:
        s, (n, t, c) = self.speakers, x.shape
        if n != batch * s:
            raise ValueError(f"expected {batch} x {s} speaker rows, got {n}")
        out = x.masked_fill(~mask.unsqueeze(-1), 0) if mask is not None else x
        out = out.view(batch, s, t, c).permute(0, 3, 1, 2)             # (B, C, S, T)
        out = self.conv(out).view(batch, c, s, t).permute(0, 2, 3, 1)  # (B, S, T, C)
        out = self.norm(out).permute(0, 3, 1, 2)                       # (B, C, S, T)
        out = self.mlp(out).permute(0, 2, 3, 1).reshape(n, t, c)
        return x + out


class LongTermLayer(nn.Module):
    """LIM: long-term intra-speaker modelling: ``LN(x + mixer(x))``, ``LN(x + FFN(x))`` over each speaker's
    frames, with a backbone mixer by name (``full`` = the paper's self-attention). (N, T, D) -> (N, T, D)."""

    def __init__(self, dim: int = 256, mixer: str = "full", heads: int = 8, dropout: float = 0.1,
                 max_len: int = 1024, mixer_kwargs: dict | None = None):
        super().__init__()
        accepted = mixer_options(mixer)
        options = {"heads": heads, "dropout": dropout, "max_len": max_len, "bidirectional": True}
        options = {k: v for k, v in options.items() if k in accepted}
        options.update(mixer_kwargs or {})
        self.mixer = build_mixer(mixer, dim, **options)
        self.ffn = nn.Sequential(nn.Linear(dim, 4 * dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(4 * dim, dim))
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.drop1, self.drop2 = nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.norm1(x + self.drop1(self.mixer(x, mask)))
        return self.norm2(x + self.drop2(self.ffn(x)))


def _zero_padding(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Zero (N, C, T) features at padded frames (mask (N, T), True = real)."""
    return x if mask is None else x * mask.unsqueeze(1).to(x.dtype)


class LoCoNet(nn.Module):
    """LoCoNet (module docstring). ``forward(faces, audio, mask)`` -> dict of logits; ``loss(out, labels, mask)``.

    Args:
        speakers: S, the target plus context speakers per sample (3 in the paper).
        layers: number of [SIM, LIM] pairs (3).
        mixer: the LIM mixer by backbone name (``full``, ``local``, ``mamba``, ``hyena``, ...).
        mixer_kwargs: extra options for that mixer (e.g. ``{"window": 32}`` for ``local``).
        sim_kernel: SIM's temporal kernel (7). heads: attention heads (8). dropout: 0.1.
        dim: per-modality feature size (128; the AV features are 2 * dim).
        widths, audio_widths, tcn_blocks: encoder sizes (paper defaults).
        max_len: the longest track the model takes (the ``hyena`` filter length; 200 frames in the paper).
    """

    def __init__(self, speakers: int = 3, layers: int = 3, mixer: str = "full", mixer_kwargs: dict | None = None,
                 sim_kernel: int = 7, heads: int = 8, dropout: float = 0.1,
                 widths: Sequence[int] = (64, 128, 256, 512), audio_widths: Sequence[int] = (64, 128, 256, 512),
                 tcn_blocks: int = 5, max_len: int = 1024, aux_weight: float = 0.4, dim: int = 128):
        super().__init__()
        if speakers < 1 or layers < 0:
            raise ValueError(f"need speakers >= 1 and layers >= 0, got {speakers}, {layers}")
        self.speakers, self.max_len, self.aux_weight = speakers, max_len, aux_weight
        self.visual = VisualEncoder(widths, tcn_blocks, dim)
        self.audio = AudioEncoder(audio_widths, dim)
        self.cross_a2v = CrossAttentionLayer(dim, heads, dropout)
        self.cross_v2a = CrossAttentionLayer(dim, heads, dropout)
        self.sim = nn.ModuleList([SpeakerInteraction(2 * dim, speakers, sim_kernel) for _ in range(layers)])
        self.lim = nn.ModuleList([LongTermLayer(2 * dim, mixer, heads, dropout, max_len, mixer_kwargs)
                                  for _ in range(layers)])
        self.head_av, self.head_a, self.head_v = nn.Linear(2 * dim, 2), nn.Linear(dim, 2), nn.Linear(dim, 2)

    def check_inputs(self, faces: torch.Tensor, audio: torch.Tensor, mask: torch.Tensor | None) -> None:
        if faces.ndim != 5 or faces.shape[1] != self.speakers:
            raise ValueError(f"faces must be (B, S={self.speakers}, T, H, W), got {tuple(faces.shape)}")
        b, s, t = faces.shape[:3]
        if t > self.max_len:
            raise ValueError(f"tracks of {t} frames exceed the model's max_len {self.max_len}; cut them")
        if audio.ndim != 3 or audio.shape[0] != b or audio.shape[1] != 4 * t:
            raise ValueError(f"audio must be (B={b}, 4T={4 * t}, mels): 4 log-mel frames per video frame; "
                             f"got {tuple(audio.shape)}")
        if mask is not None and (mask.shape != (b, s, t) or mask.dtype != torch.bool):
            raise ValueError(f"mask must be bool (B, S, T) = {(b, s, t)}, got {mask.dtype} {tuple(mask.shape)}")

    def forward(self, faces: torch.Tensor, audio: torch.Tensor,
                mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        self.check_inputs(faces, audio, mask)
        b, s, t = faces.shape[:3]
        flat_mask = None if mask is None else mask.reshape(b * s, t)
        v = self.visual(faces.reshape(b * s, t, *faces.shape[3:]), flat_mask)     # (B*S, T, 128)
        a = self.audio(audio).repeat_interleave(s, dim=0)                           # (B*S, T, 128)
        a_c = self.cross_a2v(a, v, flat_mask)
        v_c = self.cross_v2a(v, a, flat_mask)
        x = torch.cat([a_c, v_c], dim=-1)                                           # (B*S, T, 256)
        for sim, lim in zip(self.sim, self.lim):
            x = lim(sim(x, b, flat_mask), flat_mask)
        return {"av": self.head_av(x).view(b, s, t, 2), "a": self.head_a(a_c).view(b, s, t, 2),
                "v": self.head_v(v_c).view(b, s, t, 2)}

    def loss(self, out: dict[str, torch.Tensor], labels: torch.Tensor,
             mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Masked cross-entropy of each head and ``loss = L_AV + w (L_A + L_V)`` (w = ``aux_weight``, 0.4)."""
        if mask is None:
            mask = torch.ones_like(labels, dtype=torch.bool)
        weight = mask.reshape(-1).float()
        valid = weight.sum().clamp_min(1)
        losses = {}
        for key in ("av", "a", "v"):
            ce = F.cross_entropy(out[key].reshape(-1, 2).float(), labels.reshape(-1).long(), reduction="none")
            losses[key] = (ce * weight).sum() / valid
        losses["loss"] = losses["av"] + self.aux_weight * (losses["a"] + losses["v"])
        return losses

    @staticmethod
    def scores(out: dict[str, torch.Tensor], head: str = "av") -> torch.Tensor:
        """Speaking probability (B, S, T) from a head's logits."""
        return out[head].float().softmax(-1)[..., 1]
