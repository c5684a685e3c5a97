"""The Forecast tab's functions (demos/forecast_tab.py) and the weights shipped in pretrained/forecast/:
every shipped model forecasts the shipped data (a figure and metrics), loads back with load_pretrained and
reproduces its recorded test MSE, trained models beat the seasonal-naive forecast, uploads work, and bad
uploads or choices become one message on the page, never an exception."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "demos"))  # demos/ is a folder of scripts, not a package

import forecast_tab as ft
from spanmix.apps.harness.export import load_pretrained
from tab_common import LEGEND_FONTSIZE

#: The weights the demo ships (`spanmix weights build forecast`, apps/forecast/weights.py).
SHIPPED = [
    "naive_vic_elec_s",
    "linear_vic_elec_s",
    "gateformer_vic_elec_ms",
    "gateformer_vic_elec_s",
    "smamba_vic_elec_ms",
    "smamba_vic_elec_s",
]
VIC, EPF = ft.SHIPPED_DATASETS["vic_elec"], ft.SHIPPED_DATASETS["epf_fr_be"]


def model(name: str) -> ft.ShippedModel:
    return ft._find_model(name)


def hourly_csv(
    path: Path, rows: int = 600, columns: tuple[str, ...] = ("load",), start: str = "2020-01-01"
) -> Path:
    """A real-valued hourly series: the last ``rows`` hours of the shipped vic_elec demand (renamed)."""
    from spanmix.datasets.timeseries import load_sample

    frame = load_sample("vic_elec").tail(rows)
    out = pd.DataFrame({"date": pd.date_range(start, periods=rows, freq="h").strftime("%Y-%m-%d %H:%M")})
    sources = ["OT", "Temperature", "Holiday"]
    for name, source in zip(columns, sources[: len(columns)], strict=True):
        out[name] = frame[source].to_numpy()
    out.to_csv(path, index=False)
    return path


# ------------------------------------------------------------------------------------------ weights
def test_every_entry_is_shipped_small_and_documented():
    names = [m.name for m in ft.list_models()]
    assert sorted(names) == sorted(SHIPPED)
    total = sum(f.stat().st_size for f in ft.WEIGHTS_DIR.rglob("*") if f.is_file())
    assert total < 5 * 2**20, f"shipped forecast weights take {total / 2**20:.1f} MiB; keep them a few MB"
    table = (ft.WEIGHTS_DIR / "METRICS.md").read_text(encoding="utf-8")
    for m in ft.list_models():
        assert m.command.startswith("spanmix forecast ") and m.config_file in m.command
        assert (ROOT / m.config_file).is_file()
        assert f"`{m.name}`" in table and m.command in table
        config = json.loads((m.path / "config.json").read_text(encoding="utf-8"))
        if m.model != "naive":  # trained by the CLI: the full resolved config is kept
            assert config["metadata"]["training_config"]["data"]["features"] == m.features


@pytest.mark.parametrize("name", SHIPPED)
def test_load_pretrained_reproduces_the_recorded_test_error(name):
    m = model(name)
    task = load_pretrained(m.path)
    dm = ft.prepare_data(m, VIC)
    scores = ft.evaluate(task, dm)
    assert scores["windows"] == len(dm.datasets["test"]) > 5000
    assert scores["mse"] == pytest.approx(m.test_metrics["mse"], rel=1e-4, abs=1e-6)
    assert scores["mae"] == pytest.approx(m.test_metrics["mae"], rel=1e-4, abs=1e-6)
    if m.model != "naive":  # a trained model must beat "the same hour yesterday"
        assert m.test_metrics["mse"] < m.baselines["naive_season24"]["mse"]
        assert m.test_metrics["mae"] < m.baselines["naive_season24"]["mae"]


# ------------------------------------------------------------------------------------------ predict
@pytest.mark.parametrize("name", SHIPPED)
def test_predict_plots_and_scores_every_shipped_model_on_vic_elec(name):
    m = model(name)
    fig, metrics, card = ft.predict(VIC, None, m.choice, position=50)
    assert isinstance(fig, Figure), metrics
    top, bottom = fig.axes[:2]
    backtest = {line.get_label(): line.get_ydata() for line in top.get_lines()}
    assert len(backtest[f"{m.label} ({m.features})"]) == len(backtest["truth"]) == m.pred_len
    assert (
        np.isfinite(backtest["truth"]).all() and 2500 < np.mean(backtest["truth"]) < 10000
    )  # MW, not z-scores
    assert len(bottom.get_lines()[-1].get_ydata()) == m.pred_len
    for ax in (top, bottom):  # readable legends: the hub's size, every line named
        texts = ax.get_legend().get_texts()
        assert len(texts) == len(ax.get_lines()) and {t.get_fontsize() for t in texts} == {LEGEND_FONTSIZE}
    assert "Test error — vic_elec, test split" in metrics and "5,237 windows" in metrics
    row = next(line for line in metrics.splitlines() if line.startswith(f"| **{m.label}"))
    assert float(row.split("|")[2]) == pytest.approx(m.test_metrics["mse"], abs=1e-4)
    assert m.command in card and f"{m.test_metrics['mse']:.4f}" in card and "spanmix-error" not in card


@pytest.mark.parametrize("name", ["linear_vic_elec_s", "smamba_vic_elec_s"])
def test_univariate_weights_forecast_epf_fr_be_zero_shot(name):
    fig, metrics, _ = ft.predict(EPF, None, model(name).choice)
    assert isinstance(fig, Figure), metrics
    assert "epf_fr_be, test split" in metrics and "Zero-shot" in metrics and "EUR/MWh" in metrics


def test_multivariate_weights_refuse_other_columns_with_a_message():
    m = model("smamba_vic_elec_ms")
    fig, metrics, _ = ft.predict(EPF, None, m.choice)
    assert fig is None and "spanmix-error" in metrics
    assert "Temperature" in metrics and "univariate (S)" in metrics


def test_upload_is_backtested_on_its_last_windows(tmp_path):
    path = hourly_csv(tmp_path / "my load.csv", rows=800)
    fig, metrics, _ = ft.predict(ft.UPLOAD, str(path), model("linear_vic_elec_s").choice, "load")
    assert isinstance(fig, Figure), metrics
    assert "my load.csv, backtest on its last 20 %" in metrics and "`load`" in metrics
    future = fig.axes[1].get_lines()[-1].get_xdata()
    assert pd.Timestamp(future[0]) == pd.Timestamp("2020-01-01") + pd.Timedelta(hours=800)


def test_upload_with_the_training_columns_can_use_multivariate_weights(tmp_path):
    path = hourly_csv(tmp_path / "vic.csv", rows=600, columns=("OT", "Temperature", "Holiday"))
    fig, metrics, _ = ft.predict(ft.UPLOAD, str(path), model("gateformer_vic_elec_ms").choice)
    assert isinstance(fig, Figure), metrics


def test_on_upload_lists_the_numeric_columns_and_on_source_switches_to_univariate(tmp_path):
    path = hourly_csv(tmp_path / "two.csv", columns=("load", "temp"))
    update, info = ft.on_upload(str(path))
    assert update["choices"] in (["load", "temp"], [("load", "load"), ("temp", "temp")])
    assert update["value"] == "temp" and "spanmix-error" not in info
    visible, choice = ft.on_source(ft.UPLOAD, model("smamba_vic_elec_ms").choice)
    assert visible["visible"] is True and choice["value"] == model("smamba_vic_elec_s").choice
    visible, choice = ft.on_source(VIC, model("smamba_vic_elec_ms").choice)
    assert visible["visible"] is False and choice["value"] == model("smamba_vic_elec_ms").choice


# ------------------------------------------------------------------------------------------ bad input
def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def _hours(n: int) -> str:
    return "\n".join(
        f"{d:%Y-%m-%d %H:%M},{i % 24}" for i, d in enumerate(pd.date_range("2021-01-01", periods=n, freq="h"))
    )


BAD_UPLOADS = {
    "not_utf8": ("date,load\n2021-01-01 00:00,caf\xe9\n".encode("latin-1"), "not UTF-8"),
    "empty": (b"", "empty"),
    "no_numeric_column": (b"date,name\n2021-01-01 00:00,a\n2021-01-01 01:00,b\n", "no numeric column"),
    "unparsable_dates": (b"date,load\n2021-01-01 00:00,1\nnot-a-date,2\n", "not a date at data row 2"),
    "no_date_column": (b"a,b\n1,2\n3,4\n", "no date column"),
    "too_short": (("date,load\n" + _hours(100)).encode(), "100 rows"),
    "missing_values": (("date,load\n" + _hours(300).replace(",5\n", ",\n", 1)).encode(), "missing"),
}


@pytest.mark.parametrize("case", sorted(BAD_UPLOADS))
def test_bad_upload_becomes_a_message(tmp_path, case):
    data, expected = BAD_UPLOADS[case]
    path = _write(tmp_path / "upload.csv", data)
    fig, metrics, card = ft.predict(ft.UPLOAD, path, model("linear_vic_elec_s").choice)
    assert fig is None and "spanmix-error" in metrics and expected in metrics
    assert "Traceback" not in metrics and str(tmp_path) not in metrics  # no server paths either
    assert "spanmix-error" not in card
    update, info = ft.on_upload(path)
    assert update["choices"] == [] and expected in info


def test_oversized_upload_and_missing_file_become_messages(tmp_path, monkeypatch):
    path = hourly_csv(tmp_path / "big.csv", rows=400)
    monkeypatch.setattr(ft, "MAX_UPLOAD_MB", 0.001)
    _, metrics, _ = ft.predict(ft.UPLOAD, str(path), model("linear_vic_elec_s").choice)
    assert "limited to 0.001 MB" in metrics
    _, metrics, _ = ft.predict(ft.UPLOAD, None, model("linear_vic_elec_s").choice)
    assert "No CSV uploaded" in metrics
    _, metrics, _ = ft.predict(ft.UPLOAD, str(tmp_path / "gone.csv"), model("linear_vic_elec_s").choice)
    assert "gone.csv is no longer on the server" in metrics


def test_unknown_target_or_model_become_messages(tmp_path):
    path = hourly_csv(tmp_path / "one.csv", rows=400)
    _, metrics, _ = ft.predict(ft.UPLOAD, str(path), model("linear_vic_elec_s").choice, "price")
    assert "'price' is not a numeric column" in metrics and "['load']" in metrics
    fig, metrics, card = ft.predict(VIC, None, "GPT-5 · S")
    assert fig is None and "Unknown model" in metrics and "Unknown model" in card


def test_an_internal_error_is_one_line_not_a_traceback(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(ft, "_window", boom)
    fig, metrics, _ = ft.predict(VIC, None, model("linear_vic_elec_s").choice)
    assert fig is None and "unexpected RuntimeError: kaboom" in metrics and "Traceback" not in metrics
