"""``FinanceTask``: ``ForecastTask`` scored the way finance reads a forecast, next to the random walk.

The model is trained on the normalised target (the data module's training mean/std, ``target_mean`` and
``target_std``, linked by the CLI) with the forecast task's loss. Evaluation maps predictions back:

- ``target_kind: return``: predicted log returns r̂ (data units); implied prices ``P̂_h = P_0·exp(Σ r̂)``
  from the last input close ``P_0``;
- ``target_kind: close``: predicted prices P̂ (data units); implied returns ``log(P̂_h / P̂_h-1)``, ``P̂_0 = P_0``.

Logged per stage (``val/``, ``test/``), all via torchmetrics: ``mse``, ``mae``, ``rmse`` of returns,
``diracc`` (directional accuracy: sign of the predicted vs. the true return, ``BinaryAccuracy``) and
``mape`` of prices (``MeanAbsolutePercentageError``, a fraction: 0.012 = 1.2 %). The **random walk** on the
same windows is logged beside them as ``rw_*``: zero return, i.e. tomorrow's price = today's. It has no
direction, so ``rw_diracc`` is the always-up forecast's accuracy (the share of up days). ``loss`` is the
training criterion on the normalised scale. For daily returns the random walk is usually not beaten; the
tables say so when it is not.
"""
from __future__ import annotations

from typing import Any, Literal

import torch
from spanmix.apps.forecast.task import ForecastTask
from torchmetrics import MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredError, MetricCollection
from torchmetrics.classification import BinaryAccuracy

__all__ = ["FinanceTask"]


def _finance_metrics(prefix: str) -> MetricCollection:
    return MetricCollection({"mse": MeanSquaredError(), "mae": MeanAbsoluteError(),
                             "rmse": MeanSquaredError(squared=False)}, prefix=prefix)


class FinanceTask(ForecastTask):
    """``ForecastTask`` with return/price metrics and the random-walk baseline (module docstring).

    Args:
        model, model_options, n_features, n_targets, seq_len, label_len, pred_len, n_time_features, lr,
            weight_decay, loss, lr_schedule: as ``ForecastTask``.
        target_kind: ``return`` or ``close`` (what the target channel holds); linked from the data.
        target_mean, target_std: the target channel's training mean and std; linked from the data.
    """

    def __init__(self, model: str = "t2v_transformer", model_options: dict[str, Any] | None = None, *,
                 n_features: int, n_targets: int = 1, seq_len: int, label_len: int = 0, pred_len: int = 1,
                 n_time_features: int = 0, lr: float = 1e-3, weight_decay: float = 0.0,
                 loss: Literal["mse", "mae", "huber"] = "mse", lr_schedule: Literal["type1"] | None = None,
                 target_kind: Literal["return", "close"] = "return", target_mean: float = 0.0,
                 target_std: float = 1.0):
        super().__init__(model, model_options, n_features=n_features, n_targets=n_targets, seq_len=seq_len,
                         label_len=label_len, pred_len=pred_len, n_time_features=n_time_features, lr=lr,
                         weight_decay=weight_decay, loss=loss, lr_schedule=lr_schedule)
        if target_kind not in ("return", "close"):
            raise ValueError(f"FinanceTask: target_kind must be 'return' or 'close', got {target_kind!r}")
        if n_targets != 1:
            raise ValueError(f"FinanceTask: predicts one target series, got n_targets={n_targets}")
        if not target_std > 0:
            raise ValueError(f"FinanceTask: target_std must be > 0, got {target_std!r}")
        self.target_kind, self.target_mean, self.target_std = target_kind, float(target_mean), float(target_std)
        self.val_metrics, self.test_metrics = self._stage_metrics("val/"), self._stage_metrics("test/")

    @staticmethod
    def _stage_metrics(prefix: str) -> torch.nn.ModuleDict:
        return torch.nn.ModuleDict({
            "model": _finance_metrics(prefix), "rw": _finance_metrics(prefix + "rw_"),
            "dir": BinaryAccuracy(), "rw_dir": BinaryAccuracy(),
            "mape": MeanAbsolutePercentageError(), "rw_mape": MeanAbsolutePercentageError(),
        })

    def to_units(self, pred: torch.Tensor, mean: float | None = None, std: float | None = None) -> torch.Tensor:
        """Normalised target -> data units (log return or price), with the training statistics of the task
        (or ``mean``/``std`` of other data the weights are applied to)."""
        mean = self.target_mean if mean is None else mean
        std = self.target_std if std is None else std
        return pred * std + mean

    def returns_and_prices(self, pred: torch.Tensor, last_close: torch.Tensor, mean: float | None = None,
                           std: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised predictions ``(B, H, 1)`` -> ``(returns (B, H), prices (B, H))`` in data units."""
        value = self.to_units(pred[..., 0].double(), mean, std)
        p0 = last_close.double().unsqueeze(-1)
        if self.target_kind == "return":
            return value, p0 * torch.exp(torch.cumsum(value, dim=1))
        previous = torch.cat([p0, value[:, :-1]], dim=1)
        return torch.log(value.clamp_min(1e-12) / previous.clamp_min(1e-12)), value

    def _evaluate(self, batch: dict[str, torch.Tensor], stage: str, metrics) -> torch.Tensor:
        for key in ("last_close", "close"):
            if key not in batch:
                raise ValueError(f"FinanceTask: a batch needs '{key}' (FinanceDataModule's windows), got "
                                 f"keys {sorted(batch)}")
        pred = self._predict(batch)
        target = self._target(batch)
        loss = self.loss(pred, target)
        r_hat, p_hat = self.returns_and_prices(pred, batch["last_close"])
        p_true = batch["close"].double()
        previous = torch.cat([batch["last_close"].double().unsqueeze(-1), p_true[:, :-1]], dim=1)
        r_true = torch.log(p_true / previous)
        rw_r = torch.zeros_like(r_true)
        rw_p = batch["last_close"].double().unsqueeze(-1).expand_as(p_true)
        up = (r_true > 0).long().flatten()
        metrics["model"].update(r_hat.flatten(), r_true.flatten())
        metrics["rw"].update(rw_r.flatten(), r_true.flatten())
        metrics["dir"].update((r_hat > 0).double().flatten(), up)
        metrics["rw_dir"].update(torch.ones_like(r_true).flatten(), up)
        metrics["mape"].update(p_hat.flatten(), p_true.flatten())
        metrics["rw_mape"].update(rw_p.flatten(), p_true.flatten())
        n = pred.shape[0]
        self.log(f"{stage}/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=n)
        self.log_dict(metrics["model"], on_step=False, on_epoch=True)
        self.log_dict(metrics["rw"], on_step=False, on_epoch=True)
        for key, name in (("dir", "diracc"), ("rw_dir", "rw_diracc"), ("mape", "mape"), ("rw_mape", "rw_mape")):
            self.log(f"{stage}/{name}", metrics[key], on_step=False, on_epoch=True)
        return loss
