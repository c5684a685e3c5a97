"""``spanmix forecast predict`` writes the forecast beyond the last row as CSV + PNG, in data units."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from spanmix.apps.forecast.cli import main

CONFIGS = Path(__file__).parents[3] / "apps" / "forecast" / "configs"


def test_predict_writes_the_future_in_data_units(tmp_path):
    dates = pd.date_range("2024-01-01", periods=400, freq="h")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"timestamp": dates, "load": 1000 + 50 * rng.standard_normal(400),
                          "temp": 20 + rng.standard_normal(400)})
    csv = tmp_path / "mine.csv"
    frame.to_csv(csv, index=False)

    # The naive model repeats the last value, so the written forecast must be the last load, in MW.
    main(["predict", "--config", str(CONFIGS / "naive_vic_elec.yaml"), "--data.csv", str(csv),
          "--data.target", "load", "--data.features", "MS", "--data.pred_len", "12",
          "--trainer.default_root_dir", str(tmp_path / "run"), "--trainer.enable_progress_bar", "false"])

    out = tmp_path / "run" / "predictions"
    written = pd.read_csv(out / "forecast.csv", parse_dates=["date"])
    assert list(written.columns) == ["date", "load"]
    expected_dates = pd.date_range(dates[-1] + pd.Timedelta(hours=1), periods=12, freq="h")
    assert (pd.DatetimeIndex(written["date"]) == expected_dates).all()
    np.testing.assert_allclose(written["load"], frame["load"].iloc[-1], rtol=1e-5)
    assert (out / "forecast.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
