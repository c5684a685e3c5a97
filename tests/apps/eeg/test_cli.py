"""``spanmix eeg``: every shipped config trains offline (one batch), and one tiny config end to end through
fit, test with the best checkpoint, export and load_pretrained."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from spanmix.apps.cli import main as spanmix
from spanmix.apps.eeg.cli import main as eeg_main

ALL_CONFIGS = sorted((Path(__file__).resolve().parents[3] / "apps" / "eeg" / "configs").glob("*.yaml"))
# Configs on the shipped samples train offline; the BNCI2014001 ones download the benchmark first.
CONFIGS = [p for p in ALL_CONFIGS if "bnci2014001" not in p.stem]


def test_there_is_a_config_per_model_and_shipped_dataset():
    names = {p.stem for p in ALL_CONFIGS}
    assert {f"{m}_{d}" for m in ("dbconformer", "eegnet", "eeg_conformer")
            for d in ("simulated_mi", "mne_sample", "bnci2014001")} <= names


# Each BNCI2014001 config's recipe (lr, epochs, batch, split), from the official code or the paper.
RECIPES = {
    "dbconformer_bnci2014001": (1e-4, 200, 32, "co"),        # DBConformer_CO.py
    "dbconformer_bnci2014001_cv": (1e-3, 100, 32, "cv"),     # DBConformer_CV.py
    "dbconformer_bnci2014001_loso": (1e-3, 100, 32, "loso"),  # DBConformer_LOSO.py
    "eegnet_bnci2014001": (1e-4, 200, 32, "co"),             # the EEGNet baseline of DBConformer_CO.py
    "eeg_conformer_bnci2014001": (2e-4, 2000, 72, "co"),     # Song et al. 2023 (T -> E via test_session)
}


def test_the_paper_setting_configs_parse(capsys):
    assert {p.stem for p in ALL_CONFIGS if "bnci2014001" in p.stem} == set(RECIPES)
    for config in [p for p in ALL_CONFIGS if "bnci2014001" in p.stem]:
        with pytest.raises(SystemExit):
            eeg_main(["fit", "--config", str(config), "--print_config"])
        printed = yaml.safe_load(capsys.readouterr().out)
        data, model = printed["data"], printed["model"]
        assert data["dataset"] == "bnci2014001" and data["tmax"] == 6.0
        lr, epochs, batch, setting = RECIPES[config.stem]
        assert (model["lr"], printed["trainer"]["max_epochs"], data["batch_size"], data["setting"]) == \
            (lr, epochs, batch, setting), config.stem
        if config.stem.startswith(("dbconformer", "eegnet")):  # the official runs: session T, left vs right hand
            assert data["sessions"] == ["T"] and data["classes"] == ["left_hand", "right_hand"]
            assert data["alignment"] == "online" and data["cv_scheme"] == "kfold"
        else:
            assert data["test_session"] == "E" and (data["l_freq"], data["h_freq"]) == (4.0, 40.0)
            assert model["betas"] == [0.5, 0.999] or tuple(model["betas"]) == (0.5, 0.999)
            assert model["sr_segments"] == 8


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_config_trains_offline(config, tmp_path):
    cli = eeg_main(["fit", "--config", str(config), "--trainer.fast_dev_run", "true",
                    "--trainer.default_root_dir", str(tmp_path), "--trainer.enable_progress_bar", "false",
                    "--trainer.logger", "false"])
    assert cli.trainer.state.finished
    dm = cli.datamodule
    assert cli.model.net.n_chans == dm.n_chans and cli.model.net.n_outputs == dm.n_outputs


@pytest.mark.slow
def test_fit_test_export_round_trip(tmp_path):
    config = {
        "trainer": {"max_epochs": 3, "enable_progress_bar": False, "log_every_n_steps": 1},
        "model": {"model": "dbconformer", "lr": 3e-3,
                  "model_options": {"emb": 8, "heads": 2, "patch_size": 64, "kernel_size": 15}},
        "data": {"dataset": "simulated_mi", "subjects": [1], "setting": "co", "batch_size": 16},
    }
    cfg = tmp_path / "tiny_sim.yaml"
    cfg.write_text(yaml.safe_dump(config))
    root = tmp_path / "run"
    common = ["--config", str(cfg), "--trainer.default_root_dir", str(root)]
    assert spanmix(["eeg", "fit", *common]) == 0
    ckpts = sorted((root / "checkpoints").glob("*.ckpt"))
    assert any(p.name == "last.ckpt" for p in ckpts) and any(p.name.startswith("best") for p in ckpts)
    cli = eeg_main(["test", *common, "--ckpt_path", "best"])
    metrics = cli.trainer.callback_metrics
    assert {"test/acc", "test/bal_acc", "test/kappa"} <= set(metrics)
    assert spanmix(["export", "--ckpt", str(root / "checkpoints" / "last.ckpt"), "--out", str(tmp_path / "export")]) == 0
    from spanmix.apps.harness.export import load_pretrained

    task = load_pretrained(tmp_path / "export").eval()
    x, _ = cli.datamodule.split_tensors("test")
    ckpt = torch.load(root / "checkpoints" / "last.ckpt", weights_only=True)
    hparams = {k: v for k, v in ckpt["hyper_parameters"].items() if not k.startswith("_")}
    ref = type(task)(**hparams).eval()
    ref.load_state_dict(ckpt["state_dict"])
    with torch.no_grad():
        assert torch.allclose(task(x), ref(x), atol=1e-6)
    assert task.hparams.classes == ["left_hand", "right_hand"] and len(task.hparams.ch_names) == 13
