"""Exact resume, per app: a real training process SIGKILLed mid-epoch and resumed with ``--ckpt_path last``
ends with the same weights, bit for bit, and the same metrics log as a run that was never interrupted.

Each app runs three processes (``cli_cases.py`` forks them after importing the apps once): A straight
through; B killed in the middle of a step of its second epoch (``killer.KillAt``); B resumed. Tiny
overrides keep each run to a few seconds of training.
"""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
CFG = ROOT / "apps"

APPS = {
    # app: (command, config, overrides, kill at step); every run: 2 epochs of 4 batches, last.ckpt every 3 steps
    # in an epoch: the kill comes in step 8, after the save at the start of the epoch's 4th batch (step 7)
    "forecast": ("forecast", CFG / "forecast/configs/linear_vic_elec.yaml",
                 ["--data.batch_size", "16", "--data.seq_len", "48", "--data.pred_len", "12"], 7),
    "finance": ("finance", CFG / "forecast/configs/finance_t2v.yaml", ["--data.batch_size", "16"], 7),
    "eeg": ("eeg", CFG / "eeg/configs/eegnet_simulated_mi.yaml", ["--data.batch_size", "8"], 7),
    "genomics": ("genomics", CFG / "genomics/configs/cnn_oct4_mafk.yaml", ["--data.batch_size", "8"], 7),
    "points": ("points", CFG / "points/configs/dgcnn_kicad.yaml", ["--data.batch_size", "4"], 7),
    "points_ssm_cls": ("points", CFG / "points/configs/point_ssm_cls_frog.yaml", ["--data.batch_size", "4"], 7),
    "points_ssm_completion": ("points", CFG / "points/configs/point_ssm_completion_frog.yaml",
                              ["--data.batch_size", "4"], 7),
    "restore": ("restore", CFG / "restore/configs/cnn_sr_x2_samples.yaml", ["--data.batch_size", "2"], 7),
    "video": ("video asd", CFG / "video/asd/configs/loconet_composite_tiny.yaml", ["--data.init_args.batch_size", "2"], 7),
    "music": ("music", CFG / "music/configs/melody_lm_chorales.yaml", ["--data.init_args.batch_size", "4"], 7),
}
RUNS = {"video": "video_asd", "points_ssm_cls": "points", "points_ssm_completion": "points"}  # runs folder when not the key
COMMON = ["--trainer.max_epochs", "2", "--trainer.limit_train_batches", "4", "--trainer.limit_val_batches", "2",
          "--trainer.num_sanity_val_steps", "0", "--resume_every_n_steps", "3", "--trainer.callbacks", "[]",
          "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
          "--trainer.log_every_n_steps", "1"]


def _argv(app, experiment, *extra):
    command, config, overrides, _ = APPS[app]
    return [*command.split(), "fit", "--config", str(config), *COMMON, *overrides, "--experiment", experiment, *extra]


def _run(cases, tmp_path):
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    subprocess.run([sys.executable, str(HERE / "cli_cases.py"), str(tmp_path / "cases.json"),
                    str(tmp_path / "out.json")], cwd=tmp_path, check=True, timeout=900)
    return json.loads((tmp_path / "out.json").read_text())


def _rows(path):
    """The metrics rows, without the training epoch aggregates (``train/*`` other than ``*_step``) of the
    killed epoch: Lightning does not checkpoint its running epoch means (nor torchmetrics' states), so after a
    resume they cover the resumed batches only (README, harness/resume.py)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [{k: v for k, v in row.items()
             if not (row["epoch"] == "1" and k.startswith("train/") and not k.endswith("_step"))}
            for row in rows]


@pytest.mark.slow
@pytest.mark.parametrize("app", sorted(APPS))
def test_killed_mid_epoch_resumes_bit_for_bit(app, tmp_path):
    env = {"PYTHONPATH": str(HERE), "SPANMIX_CACHE": str(tmp_path / "cache")}
    kill = ["--trainer.callbacks+=killer.KillAt", f"--trainer.callbacks.step={APPS[app][3]}"]
    cases = {
        "straight": {"argv": _argv(app, "a"), "env": env},
        "killed": {"argv": _argv(app, "b", *kill), "env": env},
        "resumed": {"argv": _argv(app, "b", "--ckpt_path", "last"), "env": env},
    }
    out = _run(cases, tmp_path)
    assert out["straight"]["code"] == 0, out["straight"]["stderr"][-3000:]
    assert out["killed"]["code"] == -9, out["killed"]["stderr"][-3000:]  # SIGKILL
    assert out["resumed"]["code"] == 0, out["resumed"]["stderr"][-3000:]
    runs = tmp_path / "runs" / RUNS.get(app, app)
    a = torch.load(runs / "a/checkpoints/last.ckpt", weights_only=True)
    b = torch.load(runs / "b/checkpoints/last.ckpt", weights_only=True)
    assert a["global_step"] == b["global_step"] == 8
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for name, tensor in a["state_dict"].items():
        assert torch.equal(tensor, b["state_dict"][name]), f"{app}: {name} differs after the resume"
    # One metrics log, continued in place, equal to the uninterrupted run's (step, validation, epoch-0 rows).
    assert sorted(os.listdir(runs / "b/csv")) == ["version_0"]
    assert _rows(runs / "b/csv/version_0/metrics.csv") == _rows(runs / "a/csv/version_0/metrics.csv")
