"""The harness CLI driven in-process on the toy app: runs, checkpoints, logs, resume, config, dispatch."""
import csv
import importlib
import os
import sys
from unittest import mock

import pytest
import torch
from lightning.pytorch.callbacks import RichProgressBar
from spanmix.apps import cli as spanmix_cli
from spanmix.apps.harness import AtomicCheckpointIO, run_cli
from spanmix.apps.harness.progress import PlainProgress


def _metrics(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_fit_writes_run_dir_checkpoints_and_logs(toy, write_config, tmp_path):
    cli = toy.main(["fit", "--config", str(write_config("toy_run"))])
    root = tmp_path / "runs" / "toy" / "toy_run"  # runs/<app>/<config stem>, relative to the working dir
    assert cli.trainer.default_root_dir == str(root.relative_to(tmp_path))
    ckpts = root / "checkpoints"
    assert (ckpts / "last.ckpt").is_file()
    best = cli.trainer.checkpoint_callback.best_model_path
    assert best and (tmp_path / best).is_file() and (tmp_path / best).name.startswith("best-")
    assert cli.trainer.checkpoint_callback.monitor == "val/loss"
    rows = _metrics(root / "csv" / "version_0" / "metrics.csv")
    assert any(r["val/loss"] for r in rows) and any(r["train/loss"] for r in rows)
    assert (root / "csv" / "version_0" / "config.yaml").is_file()
    assert any((root / "tensorboard" / "version_0").glob("events.out.tfevents.*"))
    # Harness defaults: atomic checkpoint I/O, seed 0, deterministic algorithms (warn-only), links applied.
    assert isinstance(cli.trainer.strategy.checkpoint_io, AtomicCheckpointIO)
    assert cli.config.fit.seed_everything == 0 and cli.config.fit.trainer.deterministic == "warn"
    assert torch.are_deterministic_algorithms_enabled()
    assert cli.model.hparams.seq_len == 6  # data.seq_len -> model.seq_len (parse)
    assert cli.model.hparams.n_features == 2  # data.n_features -> model.n_features (instantiate)
    # The checkpoint records what `spanmix export` needs, and loads with weights_only=True.
    ckpt = torch.load(ckpts / "last.ckpt", weights_only=True)
    assert ckpt["spanmix"]["class_path"] == "spanmix._harness_toy.ToyModule"
    assert ckpt["spanmix"]["app"] == "toy" and ckpt["spanmix"]["config"]["model"]["hidden"] == 8


def test_fit_resumes_from_last_then_tests(toy, write_config, tmp_path):
    cfg = str(write_config("resume"))
    first = toy.main(["fit", "--config", cfg])
    assert first.trainer.global_step == 4
    second = toy.main(["fit", "--config", cfg, "--ckpt_path", "last", "--trainer.max_steps", "8"])
    root = tmp_path / "runs" / "toy" / "resume"
    assert os.path.samefile(second.trainer.ckpt_path, root / "checkpoints" / "last.ckpt")
    assert second.trainer.global_step == 8
    assert sorted(p.name for p in (root / "csv").iterdir()) == ["version_0"]  # one log, continued
    steps = [int(r["step"]) for r in _metrics(root / "csv" / "version_0" / "metrics.csv")]
    assert steps == sorted(steps) and min(steps) == 0 and max(steps) >= 7  # the first run's rows, then ours
    lasts = sorted(p.name for p in (root / "checkpoints").iterdir() if p.name.startswith("last"))
    assert lasts == ["last.ckpt", "last.ckpt.prev"]  # the same last.ckpt, and the one before it
    assert not list((root / "checkpoints").glob(".*.tmp"))
    # A later `test --ckpt_path best` (new CLI, nothing in memory) uses the best checkpoint of the run.
    best = second.trainer.checkpoint_callback.best_model_path
    tested = toy.main(["test", "--config", cfg, "--ckpt_path", "best"])
    assert tested.trainer.ckpt_path == best and "test/loss" in tested.trainer.callback_metrics


def test_run_dir_experiment_and_checkpoint_options(toy, write_config, tmp_path):
    cfg = str(write_config("named"))

    def build(*extra):
        return run_cli(toy.ToyModule, toy.ToyData, ["--config", cfg, *extra], app="toy", links=toy.LINKS,
                       run=False)

    cli = build("--experiment", "ablation-1", "--checkpoint.monitor", "train/loss",
                "--trainer.enable_progress_bar", "true")
    assert cli.trainer.default_root_dir == "runs/toy/ablation-1"
    assert isinstance(cli.trainer.progress_bar_callback, PlainProgress)  # pytest's stdout is not a terminal
    with mock.patch.object(sys.stdout, "isatty", lambda: True):
        tty = build("--experiment", "ablation-1", "--trainer.enable_progress_bar", "true")
    assert isinstance(tty.trainer.progress_bar_callback, RichProgressBar)
    assert cli.trainer.checkpoint_callback.monitor == "train/loss"
    assert cli.trainer.checkpoint_callback.dirpath == str(tmp_path / "runs/toy/ablation-1/checkpoints")
    cli = build("--trainer.default_root_dir", str(tmp_path / "elsewhere"), "--trainer.logger", "false",
                "--seed_everything", "7")
    assert cli.trainer.default_root_dir == str(tmp_path / "elsewhere") and cli.trainer.loggers == []
    assert cli.config.seed_everything == 7
    cli = build("--trainer.enable_checkpointing", "false")  # Lightning would refuse our ModelCheckpoint
    assert cli.trainer.checkpoint_callback is None
    with pytest.raises(ValueError, match="plain file name"):
        build("--experiment", "../outside")


def test_print_config_through_dispatcher(toy, write_config, monkeypatch, capsys):
    monkeypatch.setitem(spanmix_cli.APPS, "toy", "spanmix._harness_toy")
    with pytest.raises(SystemExit) as exit_info:
        spanmix_cli.main(["toy", "fit", "--config", str(write_config()), "--print_config"])
    assert exit_info.value.code in (0, None)
    out = capsys.readouterr().out
    for expected in ("hidden: 8", "n_features: 2", "seed_everything: 0", "monitor: val/loss",
                     "save_last: true", "deterministic: warn", "experiment: null"):
        assert expected in out


def test_unknown_app_lists_apps(capsys):
    assert spanmix_cli.main(["nope", "fit"]) == 2
    err = capsys.readouterr().err
    assert "unknown app 'nope'" in err and "forecast" in err and "export" in err


def test_help_lists_apps_and_export(capsys):
    assert spanmix_cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "forecast" in out and "spanmix export --ckpt PATH --out DIR" in out
    assert all(f"spanmix {app} fit" in out for app in spanmix_cli.APPS)
    assert "spanmix genomics generate --weights DIR" in out
    assert spanmix_cli.main([]) == 2


@pytest.mark.parametrize("app", sorted(spanmix_cli.APPS))
def test_registered_apps_expose_main(app):
    assert callable(importlib.import_module(spanmix_cli.APPS[app]).main)


def test_plain_progress_lines_when_stdout_is_not_a_terminal(toy, write_config, capsys):
    toy.main(["fit", "--config", str(write_config("plain", max_steps=6, enable_progress_bar=True)),
              "--progress_every_n_steps", "2"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch ")]
    steps = [line.split()[3] for line in lines if "step" in line.split()[2:3]]
    assert steps == ["2/6", "4/6", "6/6"]
    assert any("validation done" in line and "val/loss" in line for line in lines)
    assert all("it/s" in line and "train/loss" in line for line in lines if "step" in line)
