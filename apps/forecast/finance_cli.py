"""``spanmix finance``: the forecast app's Time2Vec finance system on the harness CLI (LightningCLI).

    spanmix finance fit  --config apps/forecast/configs/finance_t2v.yaml          # shipped snapshot, offline
    spanmix finance test --config apps/forecast/configs/finance_t2v.yaml --ckpt_path best
    spanmix finance fit  --config apps/forecast/configs/finance_t2v.yaml --data.source yfinance \\
        --data.target XOM --data.universe '[CVX,COP,SLB,EOG]' --data.start 2015-01-01 --data.end 2024-01-01

The same ``ForecastTask`` models and harness as ``spanmix forecast``, with the finance data module
(``FinanceDataModule``: correlation-selected tickers, OHLCV features) and task (``FinanceTask``: return and
price metrics beside the random walk). It is its own entry because LightningCLI binds one data-module class
per command and the finance module takes other options than ``ForecastDataModule``. Window lengths are
linked into the model when the config is parsed; channel counts and the target's scale when the data is
loaded. Runs go to ``runs/finance/<config stem>``; the data module prints the correlation matrix and
``CorrelationPlot`` saves it as ``<run>/correlation.png``; ``predict`` writes the days after the last
row to ``<run>/predictions/next_days.csv``.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from lightning.pytorch.callbacks import Callback
from spanmix.apps.forecast.finance_data import FinanceDataModule
from spanmix.apps.forecast.finance_select import plot_correlation
from spanmix.apps.forecast.finance_task import FinanceTask
from spanmix.apps.harness.cli import run_cli

__all__ = ["LINKS", "CorrelationPlot", "NextDayWriter", "main"]

LINKS = (
    ("data.seq_len", "model.seq_len"),
    ("data.pred_len", "model.pred_len"),
    ("data.target_kind", "model.target_kind"),
    ("data.label_len", "model.label_len", "instantiate"),
    ("data.n_features", "model.n_features", "instantiate"),
    ("data.n_targets", "model.n_targets", "instantiate"),
    ("data.n_time_features", "model.n_time_features", "instantiate"),
    ("data.target_mean", "model.target_mean", "instantiate"),
    ("data.target_std", "model.target_std", "instantiate"),
)


class CorrelationPlot(Callback):
    """Save the training-window correlation matrix (selected tickers marked) as ``<run>/correlation.png``."""

    def setup(self, trainer, pl_module, stage: str) -> None:
        dm = trainer.datamodule
        if not isinstance(dm, FinanceDataModule) or trainer.global_rank != 0:
            return
        dm.setup(stage)
        os.makedirs(trainer.default_root_dir, exist_ok=True)
        path = os.path.join(trainer.default_root_dir, "correlation.png")
        plot_correlation(dm.correlation, dm.target, dm.selected).savefig(path, dpi=100)


class NextDayWriter(Callback):
    """``predict``: write the prediction past the last row to ``<run>/predictions/next_days.csv`` (date,
    predicted log return, implied adjusted close; the data's own scale), and print it."""

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        dm = trainer.datamodule
        if not isinstance(dm, FinanceDataModule) or trainer.global_rank != 0:
            return
        returns, prices = pl_module.returns_and_prices(outputs.detach().cpu(), batch["last_close"].cpu(),
                                                       dm.target_mean, dm.target_std)
        out = os.path.join(trainer.default_root_dir, "predictions")
        os.makedirs(out, exist_ok=True)
        path = os.path.join(out, "next_days.csv")
        with open(path, "w", encoding="utf-8") as f:
            f.write("date,ticker,log_return,close\n")
            f.writelines(f"{day:%Y-%m-%d},{dm.target},{r:.6g},{p:.6g}\n" for day, r, p in zip(dm.future_dates(), returns[0].tolist(), prices[0].tolist()))
        print(f"predicted {dm.target} after {dm.dates[-1]:%Y-%m-%d} -> {path}", flush=True)


def main(args: Sequence[str] | None = None):
    """Run ``spanmix finance <subcommand> ...``; ``args`` is the command line after ``finance``."""
    return run_cli(FinanceTask, FinanceDataModule, args=args, app="finance", links=LINKS,
                   callbacks=(CorrelationPlot, NextDayWriter))


if __name__ == "__main__":
    main(sys.argv[1:])
