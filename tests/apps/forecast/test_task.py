"""ForecastTask and the forecast CLI on the shipped vic_elec sample: steps, metrics, the parameter-free
naive model, predictions, every shipped config, and a short training run that beats the naive forecast."""
from __future__ import annotations

import os
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml

from spanmix.apps.forecast.cli import LINKS, main
from spanmix.apps.forecast.data import ForecastDataModule
from spanmix.apps.forecast.models import build_forecast_model, count_parameters
from spanmix.apps.forecast.task import ForecastTask

CONFIGS = Path(__file__).resolve().parents[3] / "apps" / "forecast" / "configs"
SEQ, LABEL, PRED = 96, 48, 24
SMALL = {
    "informer": {"d_model": 16, "n_heads": 2, "d_ff": 32, "dropout": 0.0},
    "gateformer": {"d_model": 16, "n_heads": 2, "e_layers": 1, "d_ff": 16, "dropout": 0.0},
    "smamba": {"d_model": 16, "d_state": 4, "d_ff": 16, "dropout": 0.0},
    "itransformer": {"mixer": "full", "n_heads": 2, "d_model": 16, "d_ff": 16, "dropout": 0.0},
    "linear": {},
}


@pytest.fixture(autouse=True)
def _restore_process_state(monkeypatch, tmp_path):
    """The CLI seeds and turns on deterministic algorithms process-wide and writes runs/ under the working
    directory: work in tmp_path and undo the global switches afterwards."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    environ = dict(os.environ)
    monkeypatch.chdir(tmp_path)
    yield
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    os.environ.clear()
    os.environ.update(environ)


@pytest.fixture(scope="module")
def dm() -> ForecastDataModule:
    data = ForecastDataModule("vic_elec", features="MS", seq_len=SEQ, label_len=LABEL, pred_len=PRED,
                              batch_size=32)
    data.setup()
    return data


def make_task(dm: ForecastDataModule, name: str, **kwargs) -> ForecastTask:
    model, options = ("smamba", SMALL[name]) if name == "itransformer" else (name, SMALL.get(name, {}))
    options = {**options, **kwargs.pop("model_options", {})}
    torch.manual_seed(0)
    return ForecastTask(model, options, n_features=dm.n_features, n_targets=dm.n_targets, seq_len=SEQ,
                        label_len=LABEL, pred_len=PRED, n_time_features=dm.n_time_features, **kwargs)


def trainer(**kwargs) -> L.Trainer:
    return L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False, **kwargs)


def first_batch(dm: ForecastDataModule) -> dict[str, torch.Tensor]:
    return next(iter(dm.val_dataloader()))


# ------------------------------------------------------------------------------------------------ steps
@pytest.mark.parametrize("name", sorted(SMALL))
def test_one_training_step_decreases_the_loss_on_a_fixed_batch(dm, name):
    task = make_task(dm, name, lr=1e-3)
    optimizer = task.configure_optimizers()
    batch = first_batch(dm)
    task.train()

    def loss() -> torch.Tensor:
        torch.manual_seed(1)  # the same ProbSparse key sample for both evaluations
        return task.training_step(batch, 0)

    task.log = lambda *args, **kwargs: None  # no trainer attached
    before = loss()
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = loss()
    assert after < before, f"{name}: loss {before.item():.5f} -> {after.item():.5f}"


def test_task_options_are_checked(dm):
    with pytest.raises(ValueError, match="loss must be one of"):
        make_task(dm, "linear", loss="l3")
    with pytest.raises(ValueError, match=r"model_options must not set \['seq_len'\]"):
        make_task(dm, "linear", model_options={"seq_len": 12})
    with pytest.raises(ValueError, match="unknown forecast model 'prophet'"):
        ForecastTask("prophet", n_features=3, n_targets=1, seq_len=SEQ, label_len=LABEL, pred_len=PRED,
                     n_time_features=4)
    with pytest.raises(ValueError, match=r"batch\['y'\] must have shape"):
        task = make_task(dm, "linear")
        batch = first_batch(dm)
        task._evaluate({**batch, "y": batch["y"][..., :0]}, "val", task.val_metrics)


def test_optimizer_groups_and_type1_schedule(dm):
    task = make_task(dm, "smamba", weight_decay=0.05, lr_schedule="type1")
    config = task.configure_optimizers()
    decay, no_decay = config["optimizer"].param_groups
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    no_decay_ids = {id(p) for p in no_decay["params"]}
    a_logs = [m.A_log for m in task.net.modules() if hasattr(m, "A_log")]
    assert a_logs and all(id(p) in no_decay_ids for p in a_logs)  # Mamba's A_log is never decayed
    assert config["lr_scheduler"]["interval"] == "epoch"


def official_type1_rates(lr: float, epochs: int) -> list[float]:
    """The rate each epoch trains at in the official loops (Informer2020 ``exp_informer.py``, TSLib
    ``exp_long_term_forecasting.py``): after epoch ``e`` they call ``adjust_learning_rate(opt, e + 1)``,
    whose type1 rule sets ``lr * 0.5 ** ((epoch - 1) // 1)``."""
    rates, current = [], lr
    for epoch in range(epochs):
        rates.append(current)
        current = lr * (0.5 ** ((epoch + 1 - 1) // 1))
    return rates


class RateRecorder(L.Callback):
    def __init__(self):
        self.rates: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module):
        self.rates.append(trainer.optimizers[0].param_groups[0]["lr"])


def test_type1_schedule_through_a_trainer_matches_the_official_formula(dm):
    # Old behaviour (0.5 ** epoch) gave [1e-3, 5e-4, 2.5e-4, ...]: halved one epoch early.
    task = make_task(dm, "linear", lr=1e-3, lr_schedule="type1")
    recorder = RateRecorder()
    trainer(max_epochs=5, limit_train_batches=1, limit_val_batches=0, callbacks=[recorder]).fit(task, dm)
    assert recorder.rates == pytest.approx(official_type1_rates(1e-3, 5))
    assert recorder.rates == pytest.approx([1e-3, 1e-3, 5e-4, 2.5e-4, 1.25e-4])


# ----------------------------------------------------------------------------------- naive and metrics
def test_naive_fit_runs_no_step_and_test_metrics_equal_a_direct_computation(dm):
    task = make_task(dm, "naive", model_options={"season": 24})
    assert count_parameters(task) == 0 and not task.automatic_optimization
    fit = trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=2)
    fit.fit(task, dm)  # only evaluates; must not fail for want of an optimiser
    assert fit.global_step == 0  # no optimiser step was taken...
    assert fit.fit_loop.epoch_loop.batch_progress.total.completed == 3  # ...though the batches were run
    result = trainer().test(task, dm, verbose=False)[0]

    windows = dm.datasets["test"]
    x = torch.stack([windows[i]["x_enc"][:, -1] for i in range(len(windows))])  # (N, seq_len) target
    y = torch.stack([windows[i]["y"][-PRED:, 0] for i in range(len(windows))])  # (N, pred_len)
    pred = x[:, SEQ - 24 + torch.arange(PRED) % 24]
    err = (pred - y).double()
    assert result["test/mse"] == pytest.approx(err.square().mean().item(), rel=1e-5)
    assert result["test/mae"] == pytest.approx(err.abs().mean().item(), rel=1e-5)
    assert result["test/rmse"] == pytest.approx(err.square().mean().sqrt().item(), rel=1e-5)
    mape = (err.abs() / y.double().abs().clamp(min=1.17e-06)).mean().item()
    assert result["test/mape"] == pytest.approx(mape, rel=1e-4)
    assert result["test/loss"] == pytest.approx(result["test/mse"], rel=1e-5)


def test_test_metrics_in_data_units_beside_the_normalised_ones(dm):
    """test/mse_original, test/mae_original: the errors after dm.inverse_transform (absent before)."""
    task = make_task(dm, "naive", model_options={"season": 24})
    result = trainer().test(task, dm, verbose=False)[0]
    windows = dm.datasets["test"]
    x = torch.stack([windows[i]["x_enc"][:, -1:] for i in range(len(windows))])  # (N, seq_len, 1)
    y = torch.stack([windows[i]["y"][-PRED:] for i in range(len(windows))])  # (N, pred_len, 1)
    pred = x[:, SEQ - 24 + torch.arange(PRED) % 24]
    err = (dm.inverse_transform(pred) - dm.inverse_transform(y)).double()
    assert result["test/mse_original"] == pytest.approx(err.square().mean().item(), rel=1e-5)
    assert result["test/mae_original"] == pytest.approx(err.abs().mean().item(), rel=1e-5)
    std = float(dm.scaler.std[-1])  # one target channel: data-unit MSE = std² x normalised MSE
    assert result["test/mse_original"] == pytest.approx(std ** 2 * result["test/mse"], rel=1e-4)
    assert result["test/mae_original"] == pytest.approx(std * result["test/mae"], rel=1e-4)
    bare = trainer().test(task, dataloaders=dm.test_dataloader(), verbose=False)[0]
    assert "test/mse_original" not in bare and bare["test/mse"] == pytest.approx(result["test/mse"])


def test_predict_returns_the_normalised_forecast(dm):
    task = make_task(dm, "naive")
    (pred,) = trainer().predict(task, dm)
    assert pred.shape == (1, PRED, 1)
    last = dm.predict_sample()["x_enc"][-1, -1]
    assert torch.allclose(pred, last.expand(1, PRED, 1))
    in_units = dm.inverse_transform(pred)
    raw_last = dm.scaler.inverse_transform(dm.predict_sample()["x_enc"][-1:])[0, -1]
    torch.testing.assert_close(in_units[0, 0, 0], raw_last)


# --------------------------------------------------------------------------------------------- the CLI
VIC_ELEC = sorted(p.name for p in CONFIGS.glob("*_vic_elec.yaml"))
ETT_H1 = sorted(p.name for p in CONFIGS.glob("*_ett_h1.yaml"))


def test_every_model_has_a_vic_elec_config_and_a_paper_size_config():
    assert {"informer_vic_elec.yaml", "gateformer_vic_elec.yaml", "smamba_vic_elec.yaml",
            "itransformer_vic_elec.yaml", "linear_vic_elec.yaml", "naive_vic_elec.yaml"} <= set(VIC_ELEC)
    assert {"informer_ett_h1.yaml", "gateformer_ett_h1.yaml", "smamba_ett_h1.yaml",
            "itransformer_ett_h1.yaml", "linear_ett_h1.yaml"} <= set(ETT_H1)


@pytest.mark.parametrize("config", VIC_ELEC)
def test_vic_elec_configs_run_through_the_cli(config, tmp_path):
    path = CONFIGS / config
    if config.startswith("naive"):
        cli = main(["test", "--config", str(path), "--trainer.enable_progress_bar", "false"])
        assert cli.trainer.callback_metrics["test/mse"] > 0
    else:
        cli = main(["fit", "--config", str(path), "--trainer.fast_dev_run", "2",
                    "--trainer.enable_progress_bar", "false"])
        assert cli.trainer.global_step == 2
    hp = cli.model.hparams  # linked from the data module
    assert (hp.seq_len, hp.label_len, hp.pred_len) == (96, 48, 24)
    assert (hp.n_features, hp.n_targets, hp.n_time_features) == (3, 1, 4)


PAPER_PARAMETERS = {  # ETTh1: 7 series, 4 hourly time features
    "informer_ett_h1.yaml": 11_329_031,  # = the official Informer with timeF, d_model 512 (summed by hand)
    "gateformer_ett_h1.yaml": 133_344,
    "smamba_ett_h1.yaml": 1_145_696,
    "itransformer_ett_h1.yaml": 841_568,
    "linear_ett_h1.yaml": 64_704,  # 2 x (336 x 96 + 96)
}


@pytest.mark.parametrize("config", ETT_H1)
def test_paper_size_configs_parse_and_build(config, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", str(CONFIGS / config), "--print_config"])
    assert exit_.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["data"]["dataset"] == "ETTh1" and printed["data"]["download"] is True
    model = printed["model"]
    net = build_forecast_model(model["model"], n_features=7, n_targets=7, seq_len=printed["data"]["seq_len"],
                               label_len=printed["data"]["label_len"], pred_len=printed["data"]["pred_len"],
                               n_time_features=4, **model["model_options"])
    assert count_parameters(net) == PAPER_PARAMETERS[config]


def test_cli_links_cover_every_standard_argument():
    targets = {link[1] for link in LINKS}
    assert targets == {f"model.{n}" for n in ("n_features", "n_targets", "seq_len", "label_len", "pred_len",
                                               "n_time_features")}


# ------------------------------------------------------------------------------------ short training run
@pytest.mark.slow
def test_short_training_beats_the_naive_forecast(dm):
    naive = trainer().test(make_task(dm, "naive"), dm, verbose=False)[0]["test/mse"]
    task = make_task(dm, "itransformer", lr=1e-3, model_options={"d_model": 32, "d_ff": 32})
    trainer(max_steps=300, limit_val_batches=0).fit(task, dm)
    learned = trainer().test(task, dm, verbose=False)[0]["test/mse"]
    assert learned < 0.8 * naive, f"test MSE {learned:.4f} vs naive {naive:.4f}"
