"""The training harness every app shares: one CLI (``run_cli``), crash-safe checkpoints, safetensors export,
the one weight-decay rule (``param_groups``).

    from spanmix.apps.harness import run_cli, SpanmixModule, save_pretrained, load_pretrained

Errors: raise ``SpanmixError`` (or a ``ValueError``/``FileNotFoundError`` from spanmix code) for anything
a user can fix; ``spanmix <app> <cmd>`` then prints ``spanmix <app> <cmd>: error: <message>`` on one line
and exits 2 (the traceback only with ``--debug`` or ``SPANMIX_DEBUG=1``), naming CLI flags
(``--data.date_column``) where the message names a Python argument (``date_column=``). Anything else is a
bug and keeps its traceback. See ``spanmix.apps.harness.errors``.

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
    "load_checkpoint_file": "export", "SpanmixError": "errors", "CheckpointError": "errors",
}
__all__ = [
    "RUNS_DIR",
    "AtomicCheckpointIO",
    "CheckpointError",
    "RecordRunInfo",
    "SpanmixCLI",
    "SpanmixError",
    "SpanmixModule",
    "atomic_path",
    "decay_split",
    "export_checkpoint",
    "load_checkpoint_file",
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
