"""The forecast app's shipped weights (``pretrained/forecast/``, ``pretrained/finance/``): entries for the builder.

    spanmix weights build forecast --all        # about 30 min on 2 CPU cores
    spanmix weights build finance --all         # a few minutes

Forecast: each entry is one of our ``*_vic_elec.yaml`` configs trained unchanged on the shipped vic_elec
sample (96 hours in, 24 out, seed 0), with the config's ``features: MS`` (Temperature, Holiday and demand OT
in, OT out) or ``--data.features S`` (OT in, OT out: the univariate weights forecast any single column, so
they serve uploaded CSVs). DLinear ships in S only: it maps each target series on its own and never reads the
covariates, so its MS weights would equal its S weights. The seasonal-naive entry has no parameters: it is
built, not fitted. Each record carries the test MSE/MAE/RMSE (normalised scale, as TSLib reports them) and
the naive baselines on the same windows.

Finance: ``finance_t2v.yaml`` (target + 2 correlated tickers) and ``finance_single.yaml`` (k = 0) on the shipped
``wiki`` snapshot (target AAPL, seed 0); each record carries the selected tickers, the test period and the
test metrics beside the random walk's.
"""
from __future__ import annotations

from typing import Any

from spanmix.apps.harness.weights import Built, Entry, WeightsTable, markdown_table, score

__all__ = ["FINANCE", "FORECAST", "WEIGHTS"]

CONFIGS = "apps/forecast/configs"
LABELS = {
    "naive": "Seasonal naive (24 h)",
    "linear": "DLinear",
    "smamba": "S-Mamba",
    "gateformer": "Gateformer",
    "informer": "Informer",
}
S = ("--data.features", "S")


# ---------------------------------------------------------------------------------------------- forecast

def _forecast_datamodule(config: dict[str, Any]):
    from spanmix.apps.forecast.data import ForecastDataModule

    dm = ForecastDataModule(**config["data"])
    dm.setup()
    return dm


def _naive(dm, season: int):
    from spanmix.apps.forecast.task import ForecastTask

    return ForecastTask("naive", {"season": season}, n_features=dm.n_features, n_targets=dm.n_targets,
                        seq_len=dm.seq_len, label_len=dm.label_len, pred_len=dm.pred_len,
                        n_time_features=dm.n_time_features)


def _build_naive(entry: Entry, config: dict[str, Any], dm):
    return _naive(dm, int(config["model"]["model_options"]["season"]))


def _errors(result: dict[str, float]) -> dict[str, float]:
    return {k.split("/", 1)[1]: v for k, v in result.items() if k.split("/", 1)[1] in ("mse", "mae", "rmse")}


def _describe_forecast(b: Built) -> dict[str, Any]:
    dm, data, model = b.datamodule, b.config["data"], b.config["model"]["model"]
    test = _errors(b.test)
    baselines = {f"naive_season{s}": _errors(score(_naive(dm, s), dm)) for s in (1, 24)}
    return {
        "label": LABELS.get(model, model),
        "model": model,
        "dataset": data["dataset"],
        "features": data["features"],
        "input_columns": list(dm.columns),
        "target": dm.target_columns[-1],
        "seq_len": dm.seq_len,
        "label_len": dm.label_len,
        "pred_len": dm.pred_len,
        "freq": dm.freq,
        "config_file": b.entry.config,
        "command": b.command,
        "regenerate": b.regenerate,
        "test_windows": len(dm.datasets["test"]),
        "test_metrics": test,
        "baselines": baselines,
        "metric_scale": "normalised (train-split mean/std of each column), as TSLib reports",
        "train_seconds": b.train_seconds,
        "trained_on": "cpu",
    }


def _forecast_metrics(records: dict[str, dict[str, Any]], out_dir) -> str:
    rows = []
    for name in sorted(records):
        demo = records[name]
        size = (out_dir / name / "model.safetensors").stat().st_size
        t, n1, n24 = demo["test_metrics"], demo["baselines"]["naive_season1"], demo["baselines"]["naive_season24"]
        rows.append((f"`{name}`", demo["label"], demo["features"], f"{t['mse']:.4f}", f"{t['mae']:.4f}",
                     f"{n24['mse']:.4f} / {n24['mae']:.4f}", f"{n1['mse']:.4f} / {n1['mae']:.4f}",
                     f"{size / 1024:.0f} KiB", f"`{demo['command']}`"))
    return (
        "# Shipped forecast weights\n\n"
        "Small models trained by our configs on the shipped `vic_elec` sample (hourly Victorian electricity "
        "demand `OT`, 96 h in, 24 h out, chronological 70/10/20 split, seed 0), for the demo hub. "
        "Test MSE/MAE are over every window of the test split on the normalised scale (train-split mean/std, "
        "as TSLib reports), computed by loading the export with `load_pretrained` and Lightning's test loop. "
        "MS: Temperature, Holiday and OT in, OT out; S: OT in, OT out (these serve uploaded CSVs).\n\n"
        "Regenerate all of them (about 30 min on 2 CPU cores) with `spanmix weights build forecast --all`; "
        "each export's `config.json` holds the full training config (`metadata.training_config`) and these "
        "numbers (`metadata.demo`).\n\n"
        + markdown_table(("weights", "model", "features", "test MSE", "test MAE", "seasonal naive (24 h) MSE / MAE",
                          "last-value naive MSE / MAE", "size", "command"), rows)
    )


#: Cheapest first.
FORECAST = WeightsTable(
    app="forecast",
    entries=(
        Entry("naive_vic_elec_s", f"{CONFIGS}/naive_vic_elec.yaml", (*S, "--model.model_options.season", "24"),
              fit=False),
        Entry("linear_vic_elec_s", f"{CONFIGS}/linear_vic_elec.yaml", S),
        Entry("gateformer_vic_elec_s", f"{CONFIGS}/gateformer_vic_elec.yaml", S),
        Entry("smamba_vic_elec_s", f"{CONFIGS}/smamba_vic_elec.yaml", S),
        Entry("gateformer_vic_elec_ms", f"{CONFIGS}/gateformer_vic_elec.yaml"),
        Entry("smamba_vic_elec_ms", f"{CONFIGS}/smamba_vic_elec.yaml"),
    ),
    datamodule=_forecast_datamodule,
    describe=_describe_forecast,
    metrics_md=_forecast_metrics,
    build=_build_naive,
)


# ---------------------------------------------------------------------------------------------- finance

def _finance_datamodule(config: dict[str, Any]):
    from spanmix.apps.forecast.finance_data import FinanceDataModule

    return FinanceDataModule(**config["data"])


def _describe_finance(b: Built) -> dict[str, Any]:
    dm, task = b.datamodule, b.task
    return {
        "label": b.entry.label, "model": task.model_name, "config_file": b.entry.config,
        "command": b.command, "regenerate": b.regenerate,
        "data": b.config["data"], "k": dm.k, "selected": dm.selected, "columns": list(dm.columns),
        "features": list(dm.feature_names), "seq_len": dm.seq_len, "pred_len": dm.pred_len,
        "target_kind": dm.target_kind,
        "test_period": [f"{dm.dates[dm.borders['test'][0] + dm.seq_len]:%Y-%m-%d}", f"{dm.dates[-1]:%Y-%m-%d}"],
        "test_windows": len(dm.datasets["test"]),
        "test_metrics": {k.split("/", 1)[1]: v for k, v in b.test.items()},
        "parameters": sum(p.numel() for p in task.net.parameters()), "train_seconds": b.train_seconds,
        "trained_on": "cpu",
    }


def _finance_metrics(records: dict[str, dict[str, Any]], out_dir) -> str:
    rows = []
    for name in sorted(records):
        demo = records[name]
        t = demo["test_metrics"]
        rows.append((f"`{name}`", demo["label"], ", ".join(demo["selected"]) or "—", f"{demo['parameters']:,}",
                     f"{t['mse'] * 1e4:.4f} / {t['rw_mse'] * 1e4:.4f}", f"{t['mae'] * 1e2:.4f} / {t['rw_mae'] * 1e2:.4f}",
                     f"{t['diracc']:.3f} / {t['rw_diracc']:.3f}", f"{t['mape'] * 1e2:.3f} / {t['rw_mape'] * 1e2:.3f}",
                     f"`{demo['command']}`"))
    return (
        "# Shipped finance weights\n\n"
        "Small TT2VFin models trained by our configs on the shipped `wiki` snapshot (AAPL next-day log return from "
        "30 trading days; common days of AAPL, GOOG, IBM, MSFT 2004-08..2013-03, chronological 70/10/20 split, "
        "seed 0), for the hub's Finance tab. Test metrics over every test window, computed by loading the export "
        "with `load_pretrained` and Lightning's test loop; each cell is *model / random walk* (zero return). "
        "MSE ×10⁴ and MAE ×10² of daily log returns; directional accuracy (the random walk's is the always-up "
        "forecast's); MAPE (%) of the implied next-day close. Neither beats the random walk by a meaningful "
        "margin: the usual truth for daily returns.\n\n"
        "Regenerate with `spanmix weights build finance --all`.\n\n"
        + markdown_table(("weights", "model", "correlated tickers", "params", "MSE", "MAE", "dir. acc.", "MAPE",
                          "command"), rows))


FINANCE = WeightsTable(
    app="finance",
    entries=(
        Entry("t2v_wiki_aapl_k2", f"{CONFIGS}/finance_t2v.yaml",
              label="TT2VFin (Time2Vec + Transformer), target + 2 correlated tickers"),
        Entry("t2v_wiki_aapl_k0", f"{CONFIGS}/finance_single.yaml",
              label="TT2VFin (Time2Vec + Transformer), single stock"),
    ),
    datamodule=_finance_datamodule,
    describe=_describe_finance,
    metrics_md=_finance_metrics,
)

WEIGHTS = {"forecast": FORECAST, "finance": FINANCE}
