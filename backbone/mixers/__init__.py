"""Built-in mixers; importing this package registers each one by name."""
from spanmix.backbone.mixers import conv, full, hyena, local, ls, mamba, probsparse, s4d  # noqa: F401
from spanmix.backbone.mixers.base import Mixer

__all__ = ["Mixer"]
