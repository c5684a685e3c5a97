"""Music models: the backbone melody LM (+ adapters) and CM-HRNN."""
from spanmix.apps.music.models.adapters import ADAPTERS, build_adapter
from spanmix.apps.music.models.melody_lm import MelodyLM

__all__ = ["ADAPTERS", "MelodyLM", "build_adapter"]
