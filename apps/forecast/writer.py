"""``spanmix forecast predict`` output: the forecast beyond the last row, as a CSV and a PNG plot."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import pandas as pd
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.utilities import rank_zero_info

from spanmix.apps.harness.export import atomic_path

HISTORY_WINDOWS = 4  # the plot shows this many horizons of history before the forecast


class ForecastWriter(BasePredictionWriter):
    """Writes ``<output_dir>/forecast.csv`` (date + one column per target, in data units) and
    ``forecast.png`` (the last ``HISTORY_WINDOWS`` horizons of history, then the forecast).

    Args:
        output_dir: where to write; default ``<trainer.default_root_dir>/predictions``.
    """

    def __init__(self, output_dir: str | os.PathLike | None = None):
        super().__init__(write_interval="epoch")
        self.output_dir = output_dir

    def write_on_epoch_end(self, trainer, pl_module, predictions: Sequence[Any], batch_indices) -> None:
        dm = trainer.datamodule
        if dm is None or not hasattr(dm, "future_dates") or not predictions:
            return
        forecast = torch.cat([torch.as_tensor(p) for p in predictions])[-1]  # (pred_len, C_out), normalised
        values = dm.inverse_transform(forecast.float()).numpy()
        frame = pd.DataFrame(values, columns=list(dm.target_columns),
                             index=pd.DatetimeIndex(dm.future_dates(len(values)), name="date"))
        out = Path(self.output_dir or os.path.join(trainer.default_root_dir, "predictions"))
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / "forecast.csv") as tmp:
            frame.to_csv(tmp)
        with atomic_path(out / "forecast.png") as tmp:
            self._plot(dm, frame).savefig(tmp, format="png", dpi=110, bbox_inches="tight")
        rank_zero_info(f"forecast of {len(frame)} steps after {dm.dates[-1]} written to {out}/forecast.csv and .png")

    @staticmethod
    def _plot(dm, frame: pd.DataFrame):
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        n_targets = frame.shape[1]
        history_len = min(len(dm.dates), HISTORY_WINDOWS * len(frame))
        history = dm.inverse_transform(dm.predict_sample()["x_enc"][-history_len:, -n_targets:].float()).numpy()
        fig = Figure(figsize=(9, 2.6 * n_targets))
        for i, (column, ax) in enumerate(zip(frame.columns, fig.subplots(n_targets, 1, squeeze=False)[:, 0])):
            ax.plot(dm.dates[-history_len:], history[:, i], color="black", lw=1, label="history")
            ax.plot(frame.index, frame[column], color="tab:red", lw=1.5, label="forecast")
            ax.set_ylabel(column)
            ax.legend(loc="upper left")
        fig.autofmt_xdate()
        return fig
