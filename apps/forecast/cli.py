"""``spanmix forecast``: train and evaluate forecasters with a YAML config (LightningCLI via the harness).

    spanmix forecast fit  --config apps/forecast/configs/smamba_vic_elec.yaml
    spanmix forecast test --config apps/forecast/configs/smamba_vic_elec.yaml --ckpt_path best
    spanmix forecast test --config apps/forecast/configs/naive_vic_elec.yaml        # no training needed
    python -m spanmix.apps.forecast.cli fit --config ... --model.model_options.d_model 128

The data module's window lengths (``data.seq_len``, ``data.label_len``, ``data.pred_len``) are copied
into the task when the config is parsed, and its channel counts (``data.n_features``, ``data.n_targets``,
``data.n_time_features``, known once the data is loaded) when the classes are instantiated; set them on
``data`` only. Runs go to ``runs/forecast/<config stem>`` (see ``spanmix.apps.harness.cli``); ``predict``
writes the forecast beyond the last row to ``<run>/predictions/forecast.csv`` and ``forecast.png``.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence

from spanmix.apps.forecast.data import ForecastDataModule
from spanmix.apps.forecast.task import ForecastTask
from spanmix.apps.forecast.writer import ForecastWriter
from spanmix.apps.harness.cli import run_cli

__all__ = ["LINKS", "main"]

LINKS = (
    ("data.seq_len", "model.seq_len"),
    ("data.label_len", "model.label_len"),
    ("data.pred_len", "model.pred_len"),
    ("data.n_features", "model.n_features", "instantiate"),
    ("data.n_targets", "model.n_targets", "instantiate"),
    ("data.n_time_features", "model.n_time_features", "instantiate"),
)


def main(args: Sequence[str] | None = None):
    """Run ``spanmix forecast <subcommand> ...``; ``args`` is the command line after ``forecast``."""
    return run_cli(ForecastTask, ForecastDataModule, args=args, app="forecast", links=LINKS,
                   callbacks=(ForecastWriter,))


if __name__ == "__main__":
    main(sys.argv[1:])
