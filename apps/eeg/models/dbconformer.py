"""DBConformer: a temporal and a spatial Conformer branch in parallel, fused by channel attention.

Wang, Wang, Jia, He, Li & Wu, "DBConformer: Dual-Branch Convolutional Transformer for EEG Decoding",
IEEE J. Biomed. Health Inform. 2025 (arXiv:2506.21140), Sec. III (Fig. 2): the T-Conformer, the
S-Conformer, the channel-attention module and the classifier.
"""
from __future__ import annotations

import torch
from einops import rearrange
from spanmix.apps.eeg.models import EEG_MODELS, EEGModel, _check_int
from spanmix.backbone import LearnedPositionalEmbedding, MixerStack
from torch import nn

__all__ = ["ChannelAttention", "DBConformer", "SpatialEmbedding", "TemporalEmbedding"]


class TemporalEmbedding(nn.Module):
    """T-Conformer stem: pointwise spatial conv + BN, depthwise temporal conv + BN, GELU, average pooling.

    ``x`` (B, C, T) -> patch tokens (B, T // patch_size, emb). The pointwise conv mixes the C electrodes
    into ``emb`` virtual channels; the depthwise conv (``kernel_size`` taps, "same" padding) filters each
    in time; non-overlapping average pooling of ``patch_size`` samples makes one token per patch.
    """

    def __init__(self, n_chans: int, emb: int, kernel_size: int, patch_size: int, dropout: float,
                 trim_last: bool = False):
        super().__init__()
        self.pointwise = nn.Conv1d(n_chans, emb, 1, bias=False)
        self.bn1 = nn.BatchNorm1d(emb)
        self.depthwise = nn.Conv1d(emb, emb, kernel_size, padding=kernel_size // 2, groups=emb, bias=False)
        self.bn2 = nn.BatchNorm1d(emb)
        self.act = nn.GELU()
        self.pool = nn.AvgPool1d(patch_size, patch_size)
        self.drop = nn.Dropout(dropout)
        self.trim_last = trim_last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.bn2(self.depthwise(self.bn1(self.pointwise(x)))))  # (B, emb, T)
        if self.trim_last:  # official-code quirk: the last sample is dropped before pooling
            h = h[..., :-1]
        return rearrange(self.drop(self.pool(h)), "b d p -> b p d")  # (B, P, emb)


class SpatialEmbedding(nn.Module):
    """S-Conformer stem: one token per electrode from a temporal conv shared by all electrodes.

    ``x`` (B, C, T) -> channel tokens (B, C, emb): each electrode's signal goes through
    ``Conv1d(1, spa_dim, 25, stride 5)``, ELU and global average pooling over time, then a linear map to
    ``emb``. Sharing the filters makes the tokens comparable across electrodes.
    """

    def __init__(self, emb: int, spa_dim: int = 16, kernel_size: int = 25, stride: int = 5):
        super().__init__()
        self.conv = nn.Conv1d(1, spa_dim, kernel_size, stride=stride, padding=kernel_size // 2)
        self.act = nn.ELU()
        self.proj = nn.Linear(spa_dim, emb)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        h = self.act(self.conv(rearrange(x, "b c t -> (b c) 1 t")))  # (B*C, spa_dim, T')
        return rearrange(self.proj(h.mean(-1)), "(b c) d -> b c d", b=b)  # (B, C, emb)


class ChannelAttention(nn.Module):
    """Lightweight channel attention (Sec. III-C): a score per channel token, softmax over channels.

    ``tokens`` (B, C, D) -> pooled (B, D) and weights (B, C) (summing to 1 over channels), with
    ``score = w2ᵀ tanh(W1 token + b1) + b2`` (additive attention pooling).
    """

    def __init__(self, dim: int):
        super().__init__()
        self.score = nn.Sequential(nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, 1))

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weights = torch.softmax(self.score(tokens).squeeze(-1), dim=-1)  # (B, C)
        return torch.einsum("bc,bcd->bd", weights, tokens), weights


@EEG_MODELS.register("dbconformer")
class DBConformer(EEGModel):
    """DBConformer (Wang et al. 2025, Sec. III): dual-branch convolutional transformer for EEG epochs.

    - T-Conformer: :class:`TemporalEmbedding` -> ``T // patch_size`` patch tokens + learned positions ->
      ``depth_temporal`` transformer blocks (the backbone's ``MixerStack``) -> mean over tokens;
    - S-Conformer: :class:`SpatialEmbedding` -> ``n_chans`` channel tokens + learned positions ->
      ``depth_spatial`` blocks -> :class:`ChannelAttention` (or the mean, ``channel_attention=False``);
    - the two (B, emb) vectors are concatenated and classified by an MLP ``2·emb -> 64 -> 32 -> n_outputs``
      (ELU, dropout 0.5 and 0.3).

    Defaults are the paper's BCI IV 2a setting: ``emb=40``, 10 heads, depth 2 in both branches, dropout
    0.5, ``patch_size=125`` and ``kernel_size=63`` at 250 Hz, ``spa_dim=16``. At 22 channels, 4 classes and
    1000 samples it has 93,813 parameters, 8.4x fewer than EEG Conformer (789,572).

    Args:
        n_chans, n_outputs, n_times, sfreq: the standard signal arguments (see :class:`EEGModel`).
        emb: token width. heads: attention heads. depth_temporal, depth_spatial: blocks per branch.
        patch_size: samples per temporal token. kernel_size: depthwise temporal-conv taps.
        spa_dim: filters of the spatial stem's per-channel conv. dropout: stem and transformer dropout.
        mixer: the backbone mixer of both branches (``full`` = the paper's multi-head self-attention).
        channel_attention: pool the channel tokens by channel attention (paper) or by their mean.
        trim_last: drop the last sample before pooling, as the official code does (off by default).

    Shapes: ``x`` (B, n_chans, n_times) -> logits (B, n_outputs). ``forward(x, return_features=True)``
    returns ``(logits, extras)`` with ``extras["features"]`` (B, 2·emb), ``extras["channel_weights"]``
    (B, n_chans) (uniform when ``channel_attention=False``), ``extras["temporal_tokens"]`` (B, P, emb)
    and ``extras["spatial_tokens"]`` (B, n_chans, emb).

    Departures from the official code (wzwvv/DBConformer, re-derived from the paper, not copied): the
    blocks are the backbone's pre-norm blocks, whose attention scales by ``1/sqrt(head_dim)`` (the
    official code, after Song et al., divides by ``sqrt(emb)``) and applies dropout to the attention
    output rather than to the attention weights; learned positions start at N(0, 0.02²) instead of
    N(0, 1); the convolution weights keep PyTorch's default initialisation.
    """

    def __init__(self, n_chans: int, n_outputs: int, n_times: int, sfreq: float = 250.0, *, emb: int = 40,
                 heads: int = 10, depth_temporal: int = 2, depth_spatial: int = 2, patch_size: int = 125,
                 kernel_size: int = 63, spa_dim: int = 16, dropout: float = 0.5, mixer: str = "full",
                 channel_attention: bool = True, trim_last: bool = False):
        super().__init__(n_chans, n_outputs, n_times, sfreq)
        _check_int("DBConformer", "emb", emb, 1)
        _check_int("DBConformer", "patch_size", patch_size, 1)
        _check_int("DBConformer", "kernel_size", kernel_size, 1)
        n_patches = (n_times - int(trim_last)) // patch_size
        if n_patches < 1:
            raise ValueError(f"DBConformer: n_times={n_times} is shorter than one patch (patch_size="
                             f"{patch_size}); lower patch_size or use longer epochs")
        if emb % heads:
            raise ValueError(f"DBConformer: emb={emb} must be divisible by heads={heads}")
        self.n_patches, self.channel_attention = n_patches, channel_attention
        self.temporal_embedding = TemporalEmbedding(n_chans, emb, kernel_size, patch_size, dropout, trim_last)
        self.spatial_embedding = SpatialEmbedding(emb, spa_dim)
        self.temporal_pos = LearnedPositionalEmbedding(emb, n_patches)
        self.spatial_pos = LearnedPositionalEmbedding(emb, n_chans)
        stack = dict(heads=heads, dropout=dropout, final_norm=False)
        self.temporal_transformer = MixerStack(emb, mixer, depth=depth_temporal, **stack)
        self.spatial_transformer = MixerStack(emb, mixer, depth=depth_spatial, **stack)
        self.channel_pool = ChannelAttention(emb) if channel_attention else None
        self.classifier = nn.Sequential(
            nn.Linear(2 * emb, 64), nn.ELU(), nn.Dropout(0.5),
            nn.Linear(64, 32), nn.ELU(), nn.Dropout(0.3),
            nn.Linear(32, n_outputs),
        )

    def forward(self, x: torch.Tensor, return_features: bool = False):
        self.check_input(x)
        temporal = self.temporal_transformer(self.temporal_pos(self.temporal_embedding(x)))  # (B, P, emb)
        spatial = self.spatial_transformer(self.spatial_pos(self.spatial_embedding(x)))  # (B, C, emb)
        if self.channel_pool is not None:
            pooled, weights = self.channel_pool(spatial)
        else:
            pooled = spatial.mean(1)
            weights = spatial.new_full(spatial.shape[:2], 1.0 / spatial.shape[1])
        features = torch.cat([temporal.mean(1), pooled], dim=-1)  # (B, 2·emb)
        logits = self.classifier(features)
        if not return_features:
            return logits
        return logits, {"features": features, "channel_weights": weights, "temporal_tokens": temporal,
                        "spatial_tokens": spatial}
