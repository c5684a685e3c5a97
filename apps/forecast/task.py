"""``ForecastTask``: the LightningModule that trains and evaluates any registered forecast model.

    from spanmix.apps.forecast.data import ForecastDataModule
    from spanmix.apps.forecast.task import ForecastTask

    dm = ForecastDataModule("vic_elec", features="MS", seq_len=96, label_len=48, pred_len=24)
    dm.setup()
    task = ForecastTask("smamba", {"d_model": 64, "d_ff": 64}, n_features=dm.n_features,
                        n_targets=dm.n_targets, seq_len=96, label_len=48, pred_len=24,
                        n_time_features=dm.n_time_features, lr=1e-3)
    lightning.Trainer(max_epochs=3).fit(task, dm)

Batches are the data module's dicts: ``x_enc`` (B, seq_len, C_in), ``x_mark_enc``, ``x_dec``
(B, label_len + pred_len, C_in), ``x_mark_dec`` and ``y`` (B, label_len + pred_len or pred_len, C_out);
the loss and the metrics use the last ``pred_len`` steps of ``y``.

Metrics (torchmetrics, on the **normalised** scale, as TSLib reports them): ``{val,test}/mse``, ``/mae``,
``/rmse`` (``MeanSquaredError(squared=False)``) and ``/mape`` (``MeanAbsolutePercentageError``; on
standardised values near zero it is unstable — kept for parity with TSLib's table, read MSE/MAE), plus
``{train,val,test}/loss`` (the training criterion). All are averaged over every element of every window.
In **data units** too: ``test/mse_original`` and ``test/mae_original``, the same errors after mapping
prediction and target back with the data module's ``inverse_transform`` (the training split's mean/std);
logged whenever the trainer has a data module with ``inverse_transform`` (``trainer.test(task,
datamodule=dm)``, the CLI), absent when it is given bare data loaders. With several target channels of
different units they average over all of them, as the normalised ones do.

Optimiser: AdamW (= Adam when ``weight_decay`` is 0, TSLib's choice); biases, norm weights and parameters
flagged ``_no_weight_decay`` (Mamba's ``A_log``, ``D``) are not decayed. ``optimizer_impl`` picks PyTorch's
kernel for the same update: ``"fused"`` (default; one pass over each tensor, 1.3-1.5x faster per step than the
per-tensor loop on a 12 M-parameter model here), ``"foreach"`` or ``"for-loop"`` (PyTorch's CPU default,
which TSLib runs); they agree to float rounding (``tests/apps/forecast/test_speed_switches.py``).

CPU matmul path (``matmul_precision``): ``"ieee"`` leaves PyTorch's default (MKL on this project's AMD
CPUs, which takes its AVX2 path); ``"bf16"`` (default: the same test MSE to 8 digits after 200 steps of
iTransformer, ``benchmarks/results/forecast_tslib_speed.md``) sets ``torch.backends.mkldnn.matmul.fp32_precision = "bf16"``
while the task is set up (restored at ``teardown``), which sends fp32 matmuls to oneDNN's AVX-512 kernels
(about 2x MKL's throughput here; relative error vs fp64 measured 4e-7, fp32-level: fp32 in and out, not
bf16 rounding of the inputs, on this CPU; ``../shared/PERFORMANCE.md``). On a CPU with native bf16 units
(AMX, AVX512-BF16) oneDNN may round the inputs to bf16 instead: check there with ``ieee``. The flag is
process-wide while set. Mixed
precision is the trainer's ``precision: bf16-mixed`` (Lightning's autocast), measured in
``benchmarks/results/forecast_tslib_speed.md``. ``lr_schedule="type1"`` is the
official repositories' ``--lradj type1`` (Informer2020, TSLib, iTransformer, S-Mamba, Gateformer): the first
rate for the first **two** epochs, then halved after every epoch (:func:`type1_lr_factor`).

Models without parameters (``naive``): the task switches to manual optimisation, ``configure_optimizers``
returns no optimiser and ``training_step`` only computes and logs the loss, so ``fit`` runs no optimiser step
(it evaluates only; a message says so), while ``validate``, ``test`` and ``predict`` work as for any
model — the naive baseline is usually run with ``test`` directly.

Predictions: ``predict_step`` returns the forecast on the normalised scale, ``(B, pred_len, C_out)``;
map it to data units with the data module: ``dm.inverse_transform(pred)``. (The task holds no scaler, so
a checkpoint stays independent of the data it will be applied to.)
"""
from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_info
from torch import nn
from torchmetrics import MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredError, MetricCollection

from spanmix.apps.forecast.models import FORECAST_MODELS
from spanmix.apps.harness.checkpoint import SpanmixModule
from spanmix.apps.harness.errors import SpanmixError
from spanmix.apps.harness.optim import param_groups

__all__ = ["LOSSES", "LR_SCHEDULES", "MATMUL_PRECISIONS", "OPTIMIZER_IMPLS", "ForecastTask", "type1_lr_factor"]

LOSSES = ("mse", "mae", "huber")
LR_SCHEDULES = ("type1",)
BATCH_KEYS = ("x_enc", "x_mark_enc", "x_dec", "x_mark_dec")
MATMUL_PRECISIONS = ("ieee", "bf16")
OPTIMIZER_IMPLS = ("fused", "foreach", "for-loop")
STANDARD_ARGS = ("n_features", "n_targets", "seq_len", "label_len", "pred_len", "n_time_features")


def type1_lr_factor(epoch: int) -> float:
    """Learning-rate multiplier of 0-based ``epoch`` under ``--lradj type1``.

    The official loops call ``adjust_learning_rate(optimizer, epoch + 1, args)`` after each epoch, which
    sets ``lr * 0.5 ** ((epoch + 1 - 1) // 1)``: epochs 0 and 1 run at ``lr``, epoch ``e >= 1`` at
    ``lr * 0.5 ** (e - 1)``.
    """
    return 0.5 ** max(epoch - 1, 0)


def _metrics(prefix: str) -> MetricCollection:
    return MetricCollection({
        "mse": MeanSquaredError(),
        "mae": MeanAbsoluteError(),
        "rmse": MeanSquaredError(squared=False),
        "mape": MeanAbsolutePercentageError(),
    }, prefix=prefix)


class ForecastTask(SpanmixModule):
    """Train / evaluate the forecast model ``model`` (a ``FORECAST_MODELS`` name).

    Args:
        model: registered model name (``informer``, ``gateformer``, ``smamba``, ``linear``, ``naive``).
        model_options: the model's own hyper-parameters (e.g. ``{"d_model": 64, "mixer": "full"}``).
        n_features, n_targets, seq_len, label_len, pred_len, n_time_features: the data's shape; the CLI
            links them from the data module.
        lr: learning rate.
        weight_decay: decoupled weight decay (0: plain Adam).
        loss: ``"mse"``, ``"mae"`` or ``"huber"`` (smooth L1, delta 1).
        lr_schedule: None (constant) or ``"type1"`` (two epochs at ``lr``, then halve every epoch).
        matmul_precision: ``"bf16"`` (default: oneDNN's AVX-512 fp32 path, fp32-level error; module docstring)
            or ``"ieee"`` (PyTorch's default fp32 matmul). No effect off the CPU.
        optimizer_impl: ``"fused"``, ``"foreach"`` or ``"for-loop"``: the AdamW kernel (same update).
    """

    def __init__(self, model: str = "informer", model_options: dict[str, Any] | None = None, *,
                 n_features: int, n_targets: int, seq_len: int, label_len: int, pred_len: int,
                 n_time_features: int, lr: float = 1e-4, weight_decay: float = 0.0,
                 loss: Literal["mse", "mae", "huber"] = "mse", lr_schedule: Literal["type1"] | None = None,
                 matmul_precision: Literal["ieee", "bf16"] = "bf16",
                 optimizer_impl: Literal["fused", "foreach", "for-loop"] = "fused"):
        super().__init__()
        self.save_hyperparameters()
        if loss not in LOSSES:
            raise ValueError(f"ForecastTask: loss must be one of {LOSSES}, got {loss!r}")
        if lr_schedule is not None and lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"ForecastTask: lr_schedule must be None or one of {LR_SCHEDULES}, "
                             f"got {lr_schedule!r}")
        if not (isinstance(lr, (int, float)) and lr > 0):
            raise ValueError(f"ForecastTask: lr must be a positive number, got {lr!r}")
        if not (isinstance(weight_decay, (int, float)) and weight_decay >= 0):
            raise ValueError(f"ForecastTask: weight_decay must be a number >= 0, got {weight_decay!r}")
        if matmul_precision not in MATMUL_PRECISIONS:
            raise SpanmixError(f"ForecastTask: matmul_precision must be one of {MATMUL_PRECISIONS} (ieee: "
                               f"PyTorch's default fp32 matmul; bf16: oneDNN's fp32 path), got {matmul_precision!r}")
        if optimizer_impl not in OPTIMIZER_IMPLS:
            raise SpanmixError(f"ForecastTask: optimizer_impl must be one of {OPTIMIZER_IMPLS}, "
                               f"got {optimizer_impl!r}")
        self._saved_matmul_precision: str | None = None
        options = dict(model_options or {})
        clash = sorted(set(options) & set(STANDARD_ARGS))
        if clash:
            raise ValueError(f"ForecastTask: model_options must not set {clash}; they come from the data "
                             "(set them on the data module, the CLI links them)")
        standard = {"n_features": n_features, "n_targets": n_targets, "seq_len": seq_len,
                    "label_len": label_len, "pred_len": pred_len, "n_time_features": n_time_features}
        self.net: nn.Module = FORECAST_MODELS.build(model, **standard, **options)
        self.model_name, self.pred_len, self.n_targets = model, pred_len, n_targets
        self.criterion = loss
        if not self.has_parameters:
            self.automatic_optimization = False  # nothing to optimise: training_step only logs the loss
        self.val_metrics = _metrics("val/")
        self.test_metrics = _metrics("test/")
        self.test_original = MetricCollection({"mse_original": MeanSquaredError(),
                                               "mae_original": MeanAbsoluteError()}, prefix="test/")

    # ------------------------------------------------------------------------------------------ forward
    @property
    def has_parameters(self) -> bool:
        return any(p.requires_grad for p in self.net.parameters())

    def forward(self, x_enc: torch.Tensor, x_mark_enc: torch.Tensor | None = None,
                x_dec: torch.Tensor | None = None, x_mark_dec: torch.Tensor | None = None) -> torch.Tensor:
        """The model's forecast ``(B, pred_len, C_out)`` on the normalised scale."""
        return self.net(x_enc, x_mark_enc, x_dec, x_mark_dec)

    def _predict(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if not isinstance(batch, dict) or "x_enc" not in batch:
            got = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
            raise ValueError(f"ForecastTask: a batch must be a dict with keys {list(BATCH_KEYS)} (+ 'y'), "
                             f"got {got}")
        return self(*(batch.get(key) for key in BATCH_KEYS))

    def _target(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        y = batch.get("y")
        if y is None or y.dim() != 3 or y.shape[1] < self.pred_len or y.shape[-1] != self.n_targets:
            got = None if y is None else tuple(y.shape)
            raise ValueError(f"ForecastTask: batch['y'] must have shape (batch, >= {self.pred_len}, "
                             f"{self.n_targets}) "
                             f"(its last pred_len steps are the target), got {got}")
        return y[:, -self.pred_len:]

    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.criterion == "mse":
            return F.mse_loss(pred, target)
        if self.criterion == "mae":
            return F.l1_loss(pred, target)
        return F.smooth_l1_loss(pred, target)

    # ------------------------------------------------------------------------------------------- steps
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor | None:
        pred = self._predict(batch)
        loss = self.loss(pred, self._target(batch))
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=pred.shape[0])
        return loss if self.automatic_optimization else None  # parameter-free model: no backward, no step

    def _evaluate(self, batch: dict[str, torch.Tensor], stage: str,
                  metrics: MetricCollection) -> torch.Tensor:
        pred = self._predict(batch)
        target = self._target(batch)
        loss = self.loss(pred, target)
        metrics.update(pred.reshape(-1), target.reshape(-1))
        inverse = self._inverse_transform() if stage == "test" else None
        if inverse is not None:
            self.test_original.update(inverse(pred).reshape(-1), inverse(target).reshape(-1))
            self.log_dict(self.test_original, on_step=False, on_epoch=True)
        self.log(f"{stage}/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=pred.shape[0])
        self.log_dict(metrics, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._evaluate(batch, "val", self.val_metrics)

    def _inverse_transform(self):
        """The data module's map to data units, or None (no trainer or no such data module)."""
        datamodule = getattr(self._trainer, "datamodule", None)
        return getattr(datamodule, "inverse_transform", None)

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._evaluate(batch, "test", self.test_metrics)

    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int,
                     dataloader_idx: int = 0) -> torch.Tensor:
        """Normalised forecast ``(B, pred_len, C_out)``; ``datamodule.inverse_transform`` gives data units."""
        return self._predict(batch)

    # ------------------------------------------------------------------------------ CPU matmul path
    def setup(self, stage: str) -> None:
        # Subclasses that do not take the option (FinanceTask) and checkpoints saved before it keep PyTorch's path.
        mode = self.hparams.get("matmul_precision", "ieee")
        if mode != "ieee" and self._saved_matmul_precision is None:
            self._saved_matmul_precision = torch.backends.mkldnn.matmul.fp32_precision
            torch.backends.mkldnn.matmul.fp32_precision = mode

    def teardown(self, stage: str) -> None:
        if self._saved_matmul_precision is not None:
            torch.backends.mkldnn.matmul.fp32_precision = self._saved_matmul_precision
            self._saved_matmul_precision = None

    # --------------------------------------------------------------------------------------- optimiser
    def on_fit_start(self) -> None:
        if not self.has_parameters:
            rank_zero_info(f"ForecastTask: model {self.model_name!r} has no trainable parameters; fit runs "
                           "no optimiser step and only evaluates (use `test` to score it directly).")

    def configure_optimizers(self):
        if not self.has_parameters:
            return None
        impl = self.hparams.get("optimizer_impl", "fused")
        kernel = {"fused": {"fused": True}, "foreach": {"foreach": True}, "for-loop": {"foreach": False}}[impl]
        optimizer = torch.optim.AdamW(param_groups(self.net, self.hparams.weight_decay), lr=self.hparams.lr,
                                      **kernel)
        if self.hparams.lr_schedule is None:
            return optimizer
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, type1_lr_factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
