"""Truncated, corrupt and foreign checkpoints: one clear CheckpointError (fit, test, export), a fallback to
the kept previous ``last.ckpt`` on resume, and no way to unpickle code from the CLI."""
import os
import pickle
from pathlib import Path

import pytest
import torch
from spanmix.apps import cli as spanmix_cli
from spanmix.apps.harness import CheckpointError, load_checkpoint_file
from spanmix.apps.harness.checkpoint import resolve_last_checkpoint


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _fit(toy, cfg, *extra):
    return toy.main(["fit", "--config", str(cfg), *extra])


def test_last_keeps_its_predecessor_and_resume_falls_back_to_it(toy, write_config, tmp_path, capsys):
    cfg = write_config("corrupt")
    _fit(toy, cfg)  # last.ckpt written at steps 2 and 4: the step-2 one is kept as last.ckpt.prev
    ckpts = tmp_path / "runs/toy/corrupt/checkpoints"
    assert torch.load(ckpts / "last.ckpt.prev", weights_only=True)["global_step"] == 2
    _truncate(ckpts / "last.ckpt")
    capsys.readouterr()
    cli = _fit(toy, cfg, "--ckpt_path", "last", "--trainer.max_steps", "6")
    err = capsys.readouterr().err
    rel = Path("runs/toy/corrupt/checkpoints")  # the run directory is relative to the working directory
    assert err.startswith(f"warning: checkpoint {rel / 'last.ckpt'} is truncated or corrupt")
    assert f"resuming from the previous good checkpoint {rel / 'last.ckpt.prev'}" in err
    assert cli.trainer.global_step == 6
    assert torch.load(ckpts / "last.ckpt", weights_only=True)["global_step"] == 6


def test_truncated_checkpoint_is_one_clear_error_for_fit_test_and_export(toy, write_config, tmp_path, capsys):
    cfg = write_config("cut")
    _fit(toy, cfg)
    ckpts = tmp_path / "runs/toy/cut/checkpoints"
    last = ckpts / "last.ckpt"
    _truncate(last)
    os.remove(ckpts / "last.ckpt.prev")  # no good one left
    message = f"checkpoint {last} is truncated or corrupt"
    with pytest.raises(CheckpointError, match="truncated or corrupt") as fit_error:
        _fit(toy, cfg, "--ckpt_path", "last", "--trainer.max_steps", "6")
    assert "runs/toy/cut/checkpoints/last.ckpt" in str(fit_error.value)  # relative, as the run dir is
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        toy.main(["test", "--config", str(cfg), "--ckpt_path", str(last)])
    with pytest.raises(SystemExit) as exit_:
        spanmix_cli.main(["export", "--ckpt", str(last), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith(f"spanmix export: error: {message}") and err.count("\n") == 1


class _NotATensor:
    pass


def test_foreign_checkpoint_is_refused_without_unsafe_advice(toy, write_config, tmp_path, capsys):
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": _NotATensor()}, evil)
    with pytest.raises(CheckpointError, match="holds objects other than tensors") as e:
        load_checkpoint_file(evil)
    assert "weights_only=False" not in str(e.value) and "weights_only`" not in str(e.value)
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(pickle.dumps("not a checkpoint")[:3] + b"\x00" * 40)
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint_file(garbage)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint_file(tmp_path / "missing.ckpt")
    with pytest.raises(SystemExit) as exit_:
        spanmix_cli.main(["export", "--ckpt", str(evil), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "holds objects other than tensors" in err and "weights_only=False" not in err
    # The CLI has no --weights_only escape hatch any more.
    with pytest.raises(SystemExit) as exit_:
        toy.main(["test", "--config", str(write_config("x")), "--ckpt_path", str(evil), "--weights_only", "false"])
    assert exit_.value.code == 2
    capsys.readouterr()


def test_resolve_last_without_any_checkpoint(tmp_path):
    assert resolve_last_checkpoint(str(tmp_path)) is None
