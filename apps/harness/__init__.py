"""The training harness every app shares: one CLI (``run_cli``), crash-safe checkpoints, safetensors export,
the one weight-decay rule (``param_groups``).

    from spanmix.apps.harness import run_cli, SpanmixModule, save_pretrained, load_pretrained

Names are imported lazily: ``load_pretrained``/``save_pretrained`` need only torch + safetensors, while
``run_cli``, ``SpanmixModule`` and ``AtomicCheckpointIO`` need the ``train`` extra (Lightning).
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "run_cli": "cli", "SpanmixCLI": "cli", "RUNS_DIR": "cli",
    "AtomicCheckpointIO": "checkpoint", "SpanmixModule": "checkpoint", "RecordRunInfo": "checkpoint",
    "save_pretrained": "export", "load_pretrained": "export", "export_checkpoint": "export",
    "read_pretrained_config": "export", "atomic_path": "export", "update_pretrained_metadata": "export",
    "param_groups": "optim", "decay_split": "optim",
}
__all__ = [
    "RUNS_DIR",
    "AtomicCheckpointIO",
    "RecordRunInfo",
    "SpanmixCLI",
    "SpanmixModule",
    "atomic_path",
    "decay_split",
    "export_checkpoint",
    "load_pretrained",
    "param_groups",
    "read_pretrained_config",
    "run_cli",
    "save_pretrained",
    "update_pretrained_metadata",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
