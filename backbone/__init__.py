"""spanmix.backbone: domain-free sequence modelling from local/global token mixers.

    from spanmix.backbone import build_mixer, MixerStack
    mixer = build_mixer("local", dim=256, heads=8, window=128)     # (B, L, 256) -> (B, L, 256)
    body = MixerStack(256, "local*3,full", heads=8, window=128)    # MASFormer-style schedule
"""
from spanmix.backbone.blocks import Block, make_ffn, make_norm
from spanmix.backbone.mixers.base import Mixer
from spanmix.backbone.positional import (LearnedPositionalEmbedding, RotaryEmbedding, SinusoidalPositionalEncoding,
                                         Time2Vec, apply_rotary, sinusoidal_encoding)
from spanmix.backbone.registry import Registry, build_mixer, list_mixers, mixer_class, register_mixer
from spanmix.backbone.serializers import (GRID_ORDERS, POINT_ORDERS, GridSerializer, PointSerializer, grid_order,
                                          invert_order, point_order)
from spanmix.backbone.stack import MixerStack, parse_schedule

__all__ = [
    "Block", "Mixer", "MixerStack", "Registry", "build_mixer", "list_mixers", "make_ffn", "make_norm",
    "mixer_class", "parse_schedule", "register_mixer",
    "LearnedPositionalEmbedding", "RotaryEmbedding", "SinusoidalPositionalEncoding", "Time2Vec", "apply_rotary",
    "sinusoidal_encoding",
    "GRID_ORDERS", "POINT_ORDERS", "GridSerializer", "PointSerializer", "grid_order", "invert_order", "point_order",
]
