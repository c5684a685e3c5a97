"""AtomicCheckpointIO (crash-safe saves, weights_only loads) and SpanmixModule's class-path record."""
import argparse
import os
import stat

import pytest
import torch
from lightning.pytorch import Trainer
from spanmix.apps.harness import AtomicCheckpointIO, CheckpointError, export_checkpoint, load_pretrained
from spanmix.apps.harness.checkpoint import find_best_checkpoint


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_save_replaces_atomically_with_normal_permissions(tmp_path):
    io, path = AtomicCheckpointIO(), tmp_path / "sub" / "last.ckpt"
    io.save_checkpoint({"w": torch.ones(3), "step": 1}, path)
    io.save_checkpoint({"w": torch.zeros(3), "step": 2}, path)
    assert io.load_checkpoint(path)["step"] == 2
    # No temporary files left; a last*.ckpt keeps its predecessor beside it (the fallback of a resume).
    assert sorted(os.listdir(path.parent)) == ["last.ckpt", "last.ckpt.prev"]
    assert io.load_checkpoint(str(path) + ".prev")["step"] == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_umask()


def test_crash_mid_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    io, path = AtomicCheckpointIO(), tmp_path / "last.ckpt"
    io.save_checkpoint({"w": torch.arange(4.0), "step": 1}, path)
    before = path.read_bytes()

    def crash_mid_write(obj, f, *args, **kwargs):
        with open(f, "wb") as fh:
            fh.write(before[: len(before) // 2])  # half a checkpoint, then the disk fills up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", crash_mid_write)
    with pytest.raises(OSError, match="No space left"):
        io.save_checkpoint({"w": torch.zeros(4), "step": 2}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["last.ckpt"]
    assert io.load_checkpoint(path)["step"] == 1


def test_load_is_weights_only_unless_asked(tmp_path):
    io, path = AtomicCheckpointIO(), tmp_path / "pickled.ckpt"
    io.save_checkpoint({"state_dict": {}, "args": argparse.Namespace(lr=0.1)}, path)  # an arbitrary object
    with pytest.raises(CheckpointError, match="holds objects other than tensors .*argparse.Namespace"):
        io.load_checkpoint(path)
    assert io.load_checkpoint(path, weights_only=False)["args"].lr == 0.1  # explicit opt-in for trusted files


def test_spanmix_module_records_class_path_outside_the_cli(toy, tmp_path):
    model = toy.ToyTask(seq_len=6, n_features=2, hidden=5)
    trainer = Trainer(max_steps=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(model, toy.ToyData(seq_len=6, n_features=2))
    trainer.save_checkpoint(tmp_path / "plain.ckpt")
    ckpt = torch.load(tmp_path / "plain.ckpt", weights_only=True)
    assert ckpt["spanmix"]["class_path"] == "spanmix._harness_toy.ToyTask"
    # hparams from save_hyperparameters() (no CLI): rebuilt as plain keyword arguments
    restored = load_pretrained(export_checkpoint(tmp_path / "plain.ckpt", tmp_path / "export"))
    x = torch.randn(3, 6, 2)
    assert type(restored) is toy.ToyTask
    assert torch.equal(restored(x), model.eval()(x))


def test_best_checkpoint_lookup_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="no last.*ckpt"):
        find_best_checkpoint(str(tmp_path))
    AtomicCheckpointIO().save_checkpoint({"callbacks": {"ModelCheckpoint": {"best_model_path": ""}}},
                                         tmp_path / "last.ckpt")
    with pytest.raises(ValueError, match="records no existing best checkpoint"):
        find_best_checkpoint(str(tmp_path))
