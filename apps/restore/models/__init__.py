"""Image-restoration models: MaIR and its U-Net (the paper), a plain CNN baseline, the official configs."""

from spanmix.apps.restore.models.cnn import RestoreCNN
from spanmix.apps.restore.models.configs import (
    OFFICIAL_CONFIGS,
    PUBLISHED_PARAMS,
    build_official,
    count_parameters,
)
from spanmix.apps.restore.models.mair import SCANS, VMM, MaIR, MaIRUNet, ShuffleAttention, sequence_orders

__all__ = [
    "OFFICIAL_CONFIGS", "PUBLISHED_PARAMS", "SCANS", "VMM", "MaIR", "MaIRUNet", "RestoreCNN", "ShuffleAttention",
    "build_official", "count_parameters", "sequence_orders",
]
