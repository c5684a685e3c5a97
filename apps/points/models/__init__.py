"""Point models, built by name so a config can swap them (``model: gpsformer``).

- ``gpsformer``: GPSFormer classifier (Wang et al., ECCV 2024), ``gpsformer_partseg`` its part
  segmentation model (``models/gpsformer.py``).
- ``dgcnn``: DGCNN classifier (Wang et al., ACM TOG 2019), the baseline (``models/dgcnn.py``).
- ``point_ssm``, ``point_ssm_seg``, ``point_ssm_completion``: the hierarchical point SSM for medical point
  clouds (Zhang et al., MICCAI 2025; ``models/point_ssm.py``): classification, per-point segmentation,
  class-conditioned completion.

The model modules are imported on the first registry look-up.
"""
from __future__ import annotations

from typing import Any

from spanmix.backbone.registry import Registry
from torch import nn

__all__ = ["POINT_MODELS", "build_point_model", "count_parameters"]


def _load_builtin_models() -> None:
    from spanmix.apps.points.models import dgcnn, gpsformer, point_ssm

    POINT_MODELS.register("gpsformer")(gpsformer.GPSFormerCls)
    POINT_MODELS.register("gpsformer_partseg")(gpsformer.GPSFormerPartSeg)
    POINT_MODELS.register("dgcnn")(dgcnn.DGCNN)
    POINT_MODELS.register("point_ssm")(point_ssm.PointSSMCls)
    POINT_MODELS.register("point_ssm_seg")(point_ssm.PointSSMSeg)
    POINT_MODELS.register("point_ssm_completion")(point_ssm.PointSSMCompletion)


POINT_MODELS = Registry("point model", loader=_load_builtin_models)


def build_point_model(name: str, **options: Any) -> nn.Module:
    """Build point model ``name``; unknown names or options raise a ValueError listing the known ones."""
    return POINT_MODELS.build(name, **options)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
