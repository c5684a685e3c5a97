"""Genomics models: HyenaDNA (LM + classification heads + the published sizes) and a CNN baseline."""

from spanmix.apps.genomics.models.cnn import DNACNN
from spanmix.apps.genomics.models.hyenadna import (
    CONFIGS,
    HyenaDNA,
    HyenaDNAClassifier,
    HyenaDNATokenClassifier,
    count_parameters,
)

__all__ = [
    "CONFIGS",
    "DNACNN",
    "HyenaDNA",
    "HyenaDNAClassifier",
    "HyenaDNATokenClassifier",
    "count_parameters",
]
