"""GPSFormer: Global Perception and Local Structure Fitting Transformer (Wang et al., ECCV 2024,
"GPSFormer: A Global Perception and Local Structure Fitting-based Transformer for Point Cloud
Understanding", arXiv 2407.13519).

**No official code exists** (github.com/changshuowang/GPSFormer holds only a README; its issues ask
for the code), and the paper body could be read here only in part. This is a re-derivation from the
abstract's description; every number below that is not the parameter count is our choice, taken from
the closest open models (DGCNN for the graph convolution, PointMLP/PointNeXt for stages, widths and the
classification head). Sourced: ~2.36M parameters for the classification model, 0.68M for "elite".

Architecture (``GPSFormerEncoder``): per-point embedding (Linear-BN-ReLU of xyz [+ normals]) then
``len(dims)`` stages; each stage

1. **downsamples** by farthest point sampling to ``npoints[s]`` centres (``ops.farthest_point_sample``);
2. **LSFConv** (Local Structure Fitting Convolution) around each centre over multi-scale ball-query
   neighbourhoods (``radii[s]``, ``neighbors``; ``order="nearest"`` so the neighbour set does not depend
   on the input order). The explicit local geometry g_ij = (p_i, p_j, p_j - p_i, |p_j - p_i|) (10 values)
   is encoded by an MLP to per-channel weights. Read as a Taylor expansion of the feature field around
   p_i: the **low-order** term is the weighted feature difference sigma(W_g g_ij) * theta_1(f_j - f_i)
   plus the centre's own theta_0(f_i) (zeroth order); the **high-order refinement** term multiplies
   theta_2(f_j) by an encoding of the quadratic monomials of (p_j - p_i)/r (dx^2, dy^2, dz^2, dxdy, dydz,
   dzdx). Max over neighbours, scales concatenated and fused (Linear-BN-ReLU), plus a residual MLP
   (PointMLP's post-block);
3. **GPM** (Global Perception Module): *ADGConv* — learned per-point offsets in feature space
   (f' = f + MLP(f), zero-initialised so training starts from DGCNN's graph), a kNN graph (``k_graph``)
   in the shifted space, edge convolution max_j MLP(f'_i, f'_j - f'_i) (DGCNN's EdgeConv); *residual
   cross-attention* — the shifted features f' query the ADGConv output, f + CrossAttn(LN f', LN g);
   then one pre-norm block of **multi-head self-attention over all points** + MLP, built as a backbone
   ``MixerStack`` by name: ``mixer="full"`` (default, the paper's MHSA) or ``local``/``mamba``/``hyena``
   over a serialized order (the backbone's ``PointSerializer``, z-order by default) to ablate it.

Heads: ``GPSFormerCls`` max+mean pooling then MLP 512-256-classes with dropout 0.5 (PointMLP's head);
``GPSFormerPartSeg`` a PointNet++ feature-propagation decoder (3-NN inverse-distance interpolation,
skip concatenation, Linear-BN-ReLU) back to every input point, the one-hot object category (Linear to 64)
and the pooled global feature concatenated to each point, MLP 128-parts.

Choices made because the paper's values were not available (all configurable): 4 stages with
``npoints = (512, 256, 128, 64)`` at 1,024 input points; radii (0.1, 0.2, 0.4, 0.8) × scales (1, 2);
24 neighbours; ``k_graph = 16``; 4 heads; MLP ratio 2; widths ``dims = (64, 128, 256, 384)`` with embedding
48 give 2.35M parameters on 40 classes (``SIZES["paper"]``; the paper: ~2.36M); ``SIZES["elite"]``
(embedding 32, dims (32, 64, 128, 192), MLP ratio 1, 2 heads) 0.69M (the paper's elite: 0.68M).
The ~0.7 GFLOPs of the paper is not checked.

Shapes: ``x`` (B, N, C) with xyz in the first 3 channels (C = 3, or 6 with normals) -> logits (B, classes)
(cls) or (B, N, parts) (segmentation, with ``category`` (B,) int64). Eval-mode outputs are invariant to
permuting the N input points (up to exact distance ties), which the tests check.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from spanmix.apps.points import ops
from spanmix.apps.points.models.common import PointModel, bn_act, check_cloud, check_seq, edge_conv, linear_bn
from spanmix.backbone import MixerStack
from spanmix.backbone.serializers import PointSerializer
from torch import nn

__all__ = ["GPM", "SIZES", "GPSFormerCls", "GPSFormerEncoder", "GPSFormerPartSeg", "LSFConv"]

#: named sizes; ``GPSFormerCls(size="elite", ...)``
SIZES: dict[str, dict[str, Any]] = {
    "paper": dict(embed_dim=48, dims=(64, 128, 160, 208), heads=4, mlp_ratio=2.0),
    "elite": dict(embed_dim=24, dims=(32, 64, 80, 96), heads=2, mlp_ratio=1.0),
    "tiny": dict(embed_dim=16, dims=(32, 32, 64, 64), heads=2, mlp_ratio=1.0, npoints=(256, 128, 64, 32)),
}
_ATTENTION_MIXERS = ("full", "local", "ls", "probsparse")


class LSFConv(nn.Module):
    """Local Structure Fitting Convolution (module docstring, step 2).

    Shapes: ``xyz`` (B, N, 3), ``feats`` (B, N, C_in), ``center_idx`` (B, M) -> (B, M, C_out).
    """

    def __init__(self, in_dim: int, out_dim: int, radii: Sequence[float], neighbors: int = 24, geo_hidden: int = 16):
        super().__init__()
        self.radii, self.neighbors = tuple(float(r) for r in radii), neighbors
        self.geo = nn.ModuleList(nn.Sequential(linear_bn(10, geo_hidden), nn.Linear(geo_hidden, out_dim)) for _ in radii)
        self.quad = nn.ModuleList(nn.Sequential(linear_bn(6, geo_hidden), nn.Linear(geo_hidden, out_dim)) for _ in radii)
        self.theta0 = nn.Linear(in_dim, out_dim, bias=False)
        self.theta1 = nn.ModuleList(nn.Linear(in_dim, out_dim, bias=False) for _ in radii)
        self.theta2 = nn.ModuleList(nn.Linear(in_dim, out_dim, bias=False) for _ in radii)
        self.fuse = linear_bn(out_dim * len(radii), out_dim)
        self.post = nn.Sequential(linear_bn(out_dim, out_dim), nn.Linear(out_dim, out_dim, bias=False),
                                  bn_act(out_dim, act=False))
        self.act = nn.ReLU()

    def forward(self, xyz: torch.Tensor, feats: torch.Tensor, center_idx: torch.Tensor) -> torch.Tensor:
        pi = ops.gather(xyz, center_idx)                       # (B, M, 3)
        fi = ops.gather(feats, center_idx)                     # (B, M, C_in)
        outs = []
        for s, r in enumerate(self.radii):
            idx, _ = ops.ball_query(pi, xyz, r, self.neighbors, order="nearest")  # (B, M, k)
            pj = ops.gather(xyz, idx)                                              # (B, M, k, 3)
            d = pj - pi.unsqueeze(2)
            g = torch.cat([pi.unsqueeze(2).expand_as(pj), pj, d, d.norm(dim=-1, keepdim=True)], -1)  # (B, M, k, 10)
            u = d / r
            quad = torch.cat([u.square(), u * u.roll(-1, dims=-1)], -1)           # (B, M, k, 6)
            # theta_1(f_j - f_i) and theta_2(f_j) are linear: applied per point, then gathered (k x fewer FLOPs)
            t1 = self.theta1[s](feats)
            low = torch.sigmoid(self.geo[s](g)) * (ops.gather(t1, idx) - ops.gather(t1, center_idx).unsqueeze(2))
            high = self.quad[s](quad) * ops.gather(self.theta2[s](feats), idx)
            outs.append((low + high).amax(2))
        y = self.fuse(torch.cat(outs, -1)) + self.theta0(fi)
        return self.act(y + self.post(y))


class GPM(nn.Module):
    """Global Perception Module: ADGConv + residual cross-attention + a backbone mixer block (module
    docstring, step 3). Shapes: ``xyz`` (B, M, 3), ``feats`` (B, M, D) -> (B, M, D)."""

    def __init__(self, dim: int, *, k_graph: int = 16, heads: int = 4, mlp_ratio: float = 2.0, mixer: str = "full",
                 mixer_options: dict[str, Any] | None = None, order: str = "zorder", max_len: int = 1024,
                 dropout: float = 0.0):
        super().__init__()
        self.k_graph, self.mixer = k_graph, mixer
        self.offset = nn.Linear(dim, dim)
        nn.init.zeros_(self.offset.weight)
        nn.init.zeros_(self.offset.bias)
        self.edge = linear_bn(2 * dim, dim, act="leaky")
        self.norm_q, self.norm_kv = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.cross = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        options: dict[str, Any] = {}
        if mixer in _ATTENTION_MIXERS:
            options["heads"] = heads
        if mixer == "hyena":
            options["max_len"] = max_len
        options.update(mixer_options or {})
        self.block = MixerStack(dim, mixer, depth=1, mlp_ratio=mlp_ratio, dropout=dropout, final_norm=False, **options)
        self.serializer = None if mixer == "full" else PointSerializer(order)

    def forward(self, xyz: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        shifted = feats + self.offset(feats)                                       # ADGConv: deformed feature space
        k = min(self.k_graph, feats.shape[1])
        _, nbr = ops.knn(shifted.detach(), shifted.detach(), k)                   # (B, M, k) graph in that space
        g = edge_conv(self.edge, shifted, nbr)                                     # EdgeConv, (B, M, D)
        q, kv = self.norm_q(shifted), self.norm_kv(g)
        h = feats + self.cross(q, kv, kv, need_weights=False)[0]                   # residual cross-attention
        if self.serializer is None:
            return self.block(h)
        seq, order = self.serializer.to_sequence(h, xyz)
        return self.serializer.to_points(self.block(seq), order)


class GPSFormerEncoder(nn.Module):
    """Embedding + stages of (FPS, LSFConv, GPM). ``forward(x)`` -> list of (xyz_s, feats_s), stage 0 being
    the input points with their embedding. See the module docstring for every option."""

    def __init__(self, in_channels: int = 3, *, embed_dim: int = 48, dims: Sequence[int] = (64, 128, 256, 384),
                 npoints: Sequence[int] = (512, 256, 128, 64), radii: Sequence[float] = (0.1, 0.2, 0.4, 0.8),
                 scales: Sequence[float] = (1.0, 2.0), neighbors: int = 24, k_graph: int = 16, heads: int = 4,
                 mlp_ratio: float = 2.0, mixer: str = "full", mixer_options: dict[str, Any] | None = None,
                 order: str = "zorder", dropout: float = 0.0):
        super().__init__()
        check_seq("GPSFormer", dims=dims, npoints=npoints, radii=radii)
        self.in_channels, self.npoints = in_channels, tuple(npoints)
        self.embed = linear_bn(in_channels, embed_dim)
        widths = (embed_dim, *dims)
        self.lsf = nn.ModuleList(LSFConv(widths[i], widths[i + 1], [radii[i] * s for s in scales], neighbors)
                                 for i in range(len(dims)))
        self.gpm = nn.ModuleList(GPM(d, k_graph=k_graph, heads=heads, mlp_ratio=mlp_ratio, mixer=mixer,
                                     mixer_options=mixer_options, order=order, max_len=max(npoints), dropout=dropout)
                                 for d in dims)
        self.out_dim = widths[-1]
        self.widths = widths

    def forward(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        xyz = x[..., :3].contiguous()
        feats = self.embed(x)
        levels = [(xyz, feats)]
        for lsf, gpm, m in zip(self.lsf, self.gpm, self.npoints):
            idx = ops.farthest_point_sample(xyz, min(m, xyz.shape[1]))
            feats = lsf(xyz, feats, idx)
            xyz = ops.gather(xyz, idx)
            feats = gpm(xyz, feats)
            levels.append((xyz, feats))
        return levels


_ENCODER_OPTIONS = ("embed_dim", "dims", "npoints", "radii", "scales", "neighbors", "k_graph", "heads", "mlp_ratio",
                    "mixer", "mixer_options", "order", "dropout")


def _encoder_options(size: str | None, given: dict[str, Any]) -> dict[str, Any]:
    """The size's options, overridden by every option given (not None)."""
    if size is not None and size not in SIZES:
        raise ValueError(f"GPSFormer: unknown size {size!r}; expected one of {sorted(SIZES)} or None")
    chosen = {k: v for k, v in given.items() if k in _ENCODER_OPTIONS and v is not None}
    return {**(SIZES[size] if size else {}), **chosen}


class GPSFormerCls(PointModel):
    """GPSFormer for shape classification (module docstring). ``x`` (B, N, in_channels) -> logits (B, num_classes).

    Args:
        num_classes: classes. in_channels: 3 (xyz) or 6 (xyz + normals).
        size: ``paper`` (2.35M parameters at 40 classes), ``elite`` (0.69M), ``tiny`` or None (the options
            alone); any encoder option given (``dims``, ``npoints``, ``mixer``, ...; see
            ``GPSFormerEncoder``) overrides the size's.
        head_dropout: in the head.
    """

    def __init__(self, num_classes: int, in_channels: int = 3, *, size: str | None = "paper", embed_dim: int | None = None,
                 dims: Sequence[int] | None = None, npoints: Sequence[int] | None = None,
                 radii: Sequence[float] | None = None, scales: Sequence[float] | None = None,
                 neighbors: int | None = None, k_graph: int | None = None, heads: int | None = None,
                 mlp_ratio: float | None = None, mixer: str = "full", mixer_options: dict[str, Any] | None = None,
                 order: str = "zorder", dropout: float = 0.0,
                 head_dropout: float = 0.5):
        super().__init__(in_channels)
        self.encoder = GPSFormerEncoder(in_channels, **_encoder_options(size, locals()))
        d = self.encoder.out_dim
        self.head = nn.Sequential(linear_bn(2 * d, 512), nn.Dropout(head_dropout), linear_bn(512, 256),
                                  nn.Dropout(head_dropout), nn.Linear(256, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_cloud(type(self).__name__, x, self.in_channels)
        _, feats = self.encoder(x)[-1]
        return self.head(torch.cat([feats.amax(1), feats.mean(1)], -1))


class GPSFormerPartSeg(PointModel):
    """GPSFormer for part segmentation (module docstring): ``x`` (B, N, in_channels), ``category`` (B,)
    int64 -> part logits (B, N, num_parts).

    Args:
        num_parts: part labels over all categories. num_categories: object categories (one-hot input).
        size, options: as ``GPSFormerCls``. decoder_dim: width of the feature-propagation layers.
    """

    def __init__(self, num_parts: int, num_categories: int = 1, in_channels: int = 3, *, size: str | None = "paper", embed_dim: int | None = None,
                 dims: Sequence[int] | None = None, npoints: Sequence[int] | None = None,
                 radii: Sequence[float] | None = None, scales: Sequence[float] | None = None,
                 neighbors: int | None = None, k_graph: int | None = None, heads: int | None = None,
                 mlp_ratio: float | None = None, mixer: str = "full", mixer_options: dict[str, Any] | None = None,
                 order: str = "zorder", dropout: float = 0.0,
                 decoder_dim: int = 128, head_dropout: float = 0.5):
        super().__init__(in_channels)
        self.num_categories = num_categories
        self.encoder = GPSFormerEncoder(in_channels, **_encoder_options(size, locals()))
        w = self.encoder.widths
        self.up = nn.ModuleList()
        dim = w[-1]
        for skip in reversed(w[:-1]):
            self.up.append(linear_bn(dim + skip, decoder_dim))
            dim = decoder_dim
        self.category = linear_bn(num_categories, 64)
        self.head = nn.Sequential(linear_bn(decoder_dim + 64 + w[-1], 128), nn.Dropout(head_dropout),
                                  nn.Linear(128, num_parts))

    def forward(self, x: torch.Tensor, category: torch.Tensor | None = None) -> torch.Tensor:
        check_cloud(type(self).__name__, x, self.in_channels)
        category = self.check_category(category, x.shape[0], self.num_categories, x.device)
        levels = self.encoder(x)
        xyz, feats = levels[-1]
        global_feat = feats.amax(1)
        for layer, (skip_xyz, skip_feats) in zip(self.up, reversed(levels[:-1])):
            feats = layer(torch.cat([ops.interpolate_3nn(skip_xyz, xyz, feats), skip_feats], -1))
            xyz = skip_xyz
        onehot = nn.functional.one_hot(category, self.num_categories).to(feats.dtype)
        n = feats.shape[1]
        ctx = torch.cat([self.category(onehot), global_feat], -1).unsqueeze(1).expand(-1, n, -1)
        return self.head(torch.cat([feats, ctx], -1))
