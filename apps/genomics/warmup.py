"""Sequence-length warm-up (Nguyen et al. 2023, Sec. 3.2 and Fig. 3.2; after Li et al. 2022): pretraining
starts on short windows and doubles the length at each stage while halving the batch, so every
optimiser step sees the same number of tokens; gradient accumulation keeps the global batch when the
micro-batch is capped.

    stages = warmup_stages(final_len=1024, final_batch=8, start_len=256, epochs_per_stage=2)
    # [Stage(epoch=0, seq_len=256, batch_size=32), Stage(2, 512, 16), Stage(4, 1024, 8)]
    trainer = Trainer(reload_dataloaders_every_n_epochs=1,
                      callbacks=[SequenceLengthWarmup(start_len=256, epochs_per_stage=2, max_micro_batch=16)])

The callback reads the final length and batch from the data module (``seq_len``, ``batch_size``),
calls ``datamodule.set_stage(seq_len, micro_batch)`` before the epoch's dataloaders are (re)built and
sets ``trainer.accumulate_grad_batches = batch_size // micro_batch`` (as Lightning's own
``GradientAccumulationScheduler`` does). The trainer must reload dataloaders every epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

from lightning.pytorch import Callback, LightningModule, Trainer

__all__ = ["SequenceLengthWarmup", "Stage", "stage_at", "warmup_stages"]


@dataclass(frozen=True)
class Stage:
    epoch: int  # first epoch of the stage
    seq_len: int  # window length
    batch_size: int  # global batch (sequences per optimiser step)


def warmup_stages(
    final_len: int, final_batch: int, start_len: int | None, epochs_per_stage: int = 1
) -> list[Stage]:
    """Stages from ``start_len`` doubling to ``final_len`` (which ends the list; it need not be a power of
    two times ``start_len``), each ``epochs_per_stage`` long, batch ``final_batch * final_len / seq_len``."""
    if start_len is None or start_len >= final_len:
        return [Stage(0, final_len, final_batch)]
    if start_len < 1 or epochs_per_stage < 1 or final_batch < 1:
        raise ValueError(
            f"warmup: need start_len, epochs_per_stage, final_batch >= 1, got {start_len}, "
            f"{epochs_per_stage}, {final_batch}"
        )
    lengths, n = [], start_len
    while n < final_len:
        lengths.append(n)
        n *= 2
    lengths.append(final_len)
    return [
        Stage(i * epochs_per_stage, L, max(1, round(final_batch * final_len / L)))
        for i, L in enumerate(lengths)
    ]


def stage_at(stages: list[Stage], epoch: int) -> Stage:
    return [s for s in stages if s.epoch <= epoch][-1]


class SequenceLengthWarmup(Callback):
    """Lightning callback driving the warm-up schedule (module docstring).

    Args:
        start_len: first stage's length (None: no warm-up, a single stage at the data's length).
        epochs_per_stage: epochs spent at each length.
        max_micro_batch: cap on the per-forward batch; the rest is gradient accumulation (None: no cap).
    """

    def __init__(
        self, start_len: int | None = None, epochs_per_stage: int = 1, max_micro_batch: int | None = None
    ):
        self.start_len, self.epochs_per_stage, self.max_micro_batch = (
            start_len,
            epochs_per_stage,
            max_micro_batch,
        )
        self.stages: list[Stage] = []

    def _apply(self, trainer: Trainer, epoch: int) -> None:
        dm = trainer.datamodule
        if not self.stages:
            if dm is None or not hasattr(dm, "set_stage"):
                raise ValueError(
                    "SequenceLengthWarmup needs a data module with seq_len, batch_size and set_stage()"
                )
            self.stages = warmup_stages(dm.seq_len, dm.batch_size, self.start_len, self.epochs_per_stage)
            if len(self.stages) > 1 and trainer.reload_dataloaders_every_n_epochs != 1:
                raise ValueError(
                    "SequenceLengthWarmup: set trainer.reload_dataloaders_every_n_epochs: 1 so each "
                    "stage gets dataloaders of its length"
                )
        stage = stage_at(self.stages, epoch)
        micro = min(stage.batch_size, self.max_micro_batch or stage.batch_size)
        dm.set_stage(stage.seq_len, micro)
        trainer.accumulate_grad_batches = max(1, stage.batch_size // micro)

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage == "fit":
            self._apply(trainer, trainer.current_epoch)

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._apply(trainer, trainer.current_epoch)  # after a resume the epoch is known only now
        pl_module.log("train/seq_len", float(trainer.datamodule.stage_len), on_step=False, on_epoch=True)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._apply(trainer, trainer.current_epoch + 1)  # before the next epoch's loaders are built
