import lightning as L
import pytest
from spanmix.apps.genomics.data import PretrainDataModule
from spanmix.apps.genomics.task import PretrainTask
from spanmix.apps.genomics.warmup import SequenceLengthWarmup, Stage, stage_at, warmup_stages


def test_stages_double_length_and_halve_batch():
    stages = warmup_stages(final_len=1024, final_batch=8, start_len=256, epochs_per_stage=2)
    assert stages == [Stage(0, 256, 32), Stage(2, 512, 16), Stage(4, 1024, 8)]
    assert {s.seq_len * s.batch_size for s in stages} == {8192}  # same tokens per optimiser step
    assert stage_at(stages, 3) == Stage(2, 512, 16) and stage_at(stages, 99).seq_len == 1024
    assert warmup_stages(1000, 4, 300)[-1] == Stage(2, 1000, 4)  # ends at the final length exactly
    assert warmup_stages(512, 4, None) == [Stage(0, 512, 4)]


class Recorder(L.Callback):
    def __init__(self):
        self.seen = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.seen.append((trainer.current_epoch, tuple(batch["ids"].shape), trainer.accumulate_grad_batches))


def test_callback_switches_loaders_and_accumulation(tmp_path):
    dm = PretrainDataModule("ecoli", seq_len=64, batch_size=2, tokens_per_epoch=512, max_eval_windows=2)
    task = PretrainTask(None, {"d_model": 8, "n_layer": 1, "d_inner": 16, "l_max": 64}, warmup_steps=1)
    rec = Recorder()
    trainer = L.Trainer(
        max_epochs=3,
        reload_dataloaders_every_n_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=[SequenceLengthWarmup(start_len=16, epochs_per_stage=1, max_micro_batch=4), rec],
    )
    trainer.fit(task, dm)
    per_epoch = {e: (shape, acc) for e, shape, acc in rec.seen}
    # epoch 0: length 16, global batch 8 = 2 micro-batches of 4; epoch 1: 32, batch 4; epoch 2: 64, batch 2
    assert per_epoch == {0: ((4, 16), 2), 1: ((4, 32), 1), 2: ((2, 64), 1)}
    # every optimiser step sees the same number of tokens, so each epoch has the same number of steps
    assert trainer.global_step == 3 * (512 // (16 * 8))


def test_callback_needs_reload():
    dm = PretrainDataModule("ecoli", seq_len=64, batch_size=2, tokens_per_epoch=512, max_eval_windows=2)
    task = PretrainTask(None, {"d_model": 8, "n_layer": 1, "d_inner": 16, "l_max": 64})
    trainer = L.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        callbacks=[SequenceLengthWarmup(start_len=16)],
    )
    with pytest.raises(ValueError, match="reload_dataloaders_every_n_epochs"):
        trainer.fit(task, dm)
