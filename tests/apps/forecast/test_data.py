"""ForecastDataModule: the TSLib protocol (borders, train-only scaling, no dropped test windows), channel
modes, your own CSV and its errors, prediction past the end, and the calendar features."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch
from spanmix.apps.forecast.data import ForecastDataModule, StandardScaler
from spanmix.apps.forecast.timefeatures import (
    freq_code,
    infer_freq,
    n_time_features,
    time_features,
    time_marks,
)
from spanmix.datasets.timeseries import load_sample, min_rows

ETT_COLUMNS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]


def write_ett(
    path: Path,
    n_rows: int,
    freq: str = "h",
    seed: int = 0,
    test_scale: float = 1.0,
    from_row: int | None = None,
) -> pd.DataFrame:
    """Synthetic numbers in the exact ETT layout; rows >= from_row are scaled by test_scale and shifted."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows)[:, None]
    values = (
        10 + np.sin(2 * np.pi * t / 24 + np.arange(7)) * np.arange(1, 8) + rng.normal(0, 0.3, (n_rows, 7))
    )
    if from_row is not None:
        values[from_row:] = values[from_row:] * test_scale + 5.0
    frame = pd.DataFrame(values.round(4), columns=ETT_COLUMNS)
    frame.insert(
        0, "date", pd.date_range("2016-07-01", periods=n_rows, freq=freq).strftime("%Y-%m-%d %H:%M:%S")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return frame


@pytest.fixture(scope="module")
def etth1_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("etth1")
    write_ett(folder / "ETTh1.csv", 17420)
    return folder


def write_csv(path: Path, n: int = 400, freq: str = "h", **columns) -> Path:
    frame = pd.DataFrame({"date": pd.date_range("2021-03-01", periods=n, freq=freq)})
    t = np.arange(n)
    frame["a"] = np.sin(t / 5.0)
    frame["b"] = np.cos(t / 7.0) * 3 + 1
    for name, value in columns.items():
        frame[name] = value
    frame.to_csv(path, index=False)
    return path


# --------------------------------------------------------------------------------------- TSLib protocol


def test_etth1_borders_and_every_test_window_is_yielded(etth1_dir):
    seq, label, pred = 96, 48, 96
    dm = ForecastDataModule(
        "ETTh1", cache_dir=str(etth1_dir), seq_len=seq, label_len=label, pred_len=pred, batch_size=7
    )
    dm.setup("fit")
    assert dm.borders == {
        "train": (0, 12 * 30 * 24),
        "val": (12 * 30 * 24 - seq, 16 * 30 * 24),
        "test": (16 * 30 * 24 - seq, 20 * 30 * 24),
    }
    expected = {k: (b - a) - seq - pred + 1 for k, (a, b) in dm.borders.items()}
    assert expected == {"train": 8449, "val": 2785, "test": 2785}  # TSLib's ETTh1 test set: 2785 windows
    assert {k: len(v) for k, v in dm.datasets.items()} == expected
    assert dm.freq == "h" and dm.n_features == dm.n_targets == 7 and dm.n_time_features == 4
    assert dm.columns == tuple(ETT_COLUMNS)

    sizes = [len(batch["y"]) for batch in dm.test_dataloader()]
    assert sum(sizes) == 2785 and 2785 % 7 != 0
    assert sizes[:-1] == [7] * (len(sizes) - 1) and sizes[-1] == 2785 % 7
    assert sum(len(b["y"]) for b in dm.val_dataloader()) == 2785


def test_windows_line_up_with_the_rows(etth1_dir):
    seq, label, pred = 96, 48, 24
    dm = ForecastDataModule("ETTh1", cache_dir=str(etth1_dir), seq_len=seq, label_len=label, pred_len=pred)
    dm.setup()
    raw = pd.read_csv(etth1_dir / "ETTh1.csv")
    scaled = (raw[ETT_COLUMNS].to_numpy() - dm.scaler.mean) / dm.scaler.std
    start, border = dm.borders["test"][0], 16 * 30 * 24
    sample = dm.datasets["test"][0]
    assert {k: tuple(v.shape) for k, v in sample.items()} == {
        "x_enc": (seq, 7),
        "x_mark_enc": (seq, 4),
        "x_dec": (label + pred, 7),
        "x_mark_dec": (label + pred, 4),
        "y": (label + pred, 7),
    }
    np.testing.assert_allclose(sample["x_enc"].numpy(), scaled[start : start + seq], rtol=1e-5, atol=1e-5)
    assert start + seq == border  # the first test forecast starts exactly at the border
    np.testing.assert_allclose(
        sample["y"][-pred:].numpy(), scaled[border : border + pred], rtol=1e-5, atol=1e-5
    )
    assert torch.equal(sample["x_dec"][:label], sample["x_enc"][-label:])
    assert torch.count_nonzero(sample["x_dec"][label:]) == 0
    dates = pd.DatetimeIndex(pd.to_datetime(raw["date"]))
    np.testing.assert_allclose(
        sample["x_mark_dec"].numpy(), time_features(dates[border - label : border + pred], "h")
    )
    assert list(dm.window_dates("test", 0)) == list(dates[border : border + pred])


def test_scaler_sees_only_the_training_split(tmp_path):
    a = write_ett(tmp_path / "a" / "ETTh1.csv", 17420, seed=1)
    write_ett(tmp_path / "b" / "ETTh1.csv", 17420, seed=1, test_scale=10.0, from_row=12 * 30 * 24)
    dms = [ForecastDataModule("ETTh1", cache_dir=str(tmp_path / k)) for k in ("a", "b")]
    for dm in dms:
        dm.setup()
    train = a[ETT_COLUMNS].to_numpy()[: 12 * 30 * 24]
    np.testing.assert_allclose(dms[0].scaler.mean, train.mean(axis=0))
    np.testing.assert_allclose(dms[0].scaler.std, train.std(axis=0))  # population std, as sklearn
    np.testing.assert_array_equal(dms[0].scaler.mean, dms[1].scaler.mean)  # val/test values changed...
    np.testing.assert_array_equal(dms[0].scaler.std, dms[1].scaler.std)  # ...the scaler did not
    assert not torch.equal(dms[0].datasets["test"][0]["y"], dms[1].datasets["test"][0]["y"])


@pytest.mark.parametrize("freq,guessed", [("15min", 5), ("D", 3), ("W-TUE", 2)])
def test_protocol_tslib_gives_the_official_four_hourly_time_features(tmp_path, freq, guessed):
    """The official scripts never pass --freq: ETTm, Exchange and ILI get the 4 'h' features there. Before
    `protocol` existed we always gave the guessed set (5, 3, 2)."""
    path = write_csv(tmp_path / "s.csv", n=400, freq=freq)
    kwargs = {"csv": str(path), "target": "a", "seq_len": 24, "label_len": 12, "pred_len": 12}
    assert ForecastDataModule(**kwargs).n_time_features == guessed
    dm = ForecastDataModule(**kwargs, protocol="tslib")
    assert dm.freq == "h" and dm.n_time_features == 4
    np.testing.assert_allclose(dm.datasets["train"][0]["x_mark_enc"].numpy(),
                               time_features(dm.dates[:24], "h"), atol=1e-6)
    assert ForecastDataModule(**kwargs, protocol="tslib", freq="t").n_time_features == 5  # explicit freq wins
    with pytest.raises(ValueError, match="protocol must be None or 'tslib'"):
        ForecastDataModule(**kwargs, protocol="informer")


def test_ettm_borders_are_four_times_the_hourly_ones(tmp_path):
    write_ett(tmp_path / "ETTm1.csv", 57600, freq="15min")
    dm = ForecastDataModule("ETTm1", cache_dir=str(tmp_path), seq_len=96, label_len=48, pred_len=96)
    dm.setup()
    assert dm.borders == {"train": (0, 34560), "val": (34560 - 96, 46080), "test": (46080 - 96, 57600)}
    assert dm.freq == "t" and dm.n_time_features == 5


def test_standard_dataset_missing_from_cache_is_a_clear_error(tmp_path):
    dm = ForecastDataModule("Weather", cache_dir=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="weather.csv.*download=True"):
        dm.setup()


# --------------------------------------------------------------------------------------- channels, loaders


@pytest.mark.parametrize("mode,c_in,c_out", [("M", 3, 3), ("S", 1, 1), ("MS", 3, 1)])
def test_feature_modes_shapes(mode, c_in, c_out):
    dm = ForecastDataModule("vic_elec", features=mode, seq_len=48, label_len=24, pred_len=24, batch_size=4)
    batch = next(iter(dm.val_dataloader()))
    assert (dm.n_features, dm.n_targets) == (c_in, c_out)
    assert tuple(batch["x_enc"].shape) == (4, 48, c_in) and tuple(batch["x_dec"].shape) == (4, 48, c_in)
    assert tuple(batch["y"].shape) == (4, 48, c_out) and tuple(batch["x_mark_dec"].shape) == (4, 48, 4)
    assert dm.columns[-1] == "OT" and dm.target_columns[-1] == "OT"
    # the target is the last input channel; y's known part repeats it
    torch.testing.assert_close(batch["y"][:, :24, -1], batch["x_enc"][:, -24:, -1])
    assert all(v.dtype == torch.float32 for v in batch.values())


def test_train_loader_shuffles_and_drop_last_is_documented_behaviour():
    dm = ForecastDataModule("vic_elec", seq_len=24, label_len=12, pred_len=12, batch_size=64)
    n = len(dm.datasets["train"])
    assert n % 64
    loader = dm.train_dataloader()
    assert len(loader) == n // 64 and loader.drop_last
    first = next(iter(loader))["x_enc"]
    assert not torch.equal(first, torch.stack([dm.datasets["train"][i]["x_enc"] for i in range(64)]))
    keep = ForecastDataModule(
        "vic_elec", seq_len=24, label_len=12, pred_len=12, batch_size=64, drop_last_train=False
    )
    assert len(keep.train_dataloader()) == -(-n // 64)
    small = ForecastDataModule("vic_elec", seq_len=24, label_len=12, pred_len=12, batch_size=10**6)
    assert len(small.train_dataloader()) == 1  # never drops the only batch


def test_inverse_transform_recovers_data_units():
    dm = ForecastDataModule("vic_elec", features="MS", seq_len=24, label_len=12, pred_len=12)
    sample = dm.datasets["test"][5]
    demand = load_sample("vic_elec")["OT"].to_numpy()
    a = dm.borders["test"][0] + 5 + 24 - 12
    np.testing.assert_allclose(dm.inverse_transform(sample["y"]).numpy()[:, 0], demand[a : a + 24], rtol=1e-5)
    np.testing.assert_allclose(dm.inverse_transform(sample["y"].numpy())[:, 0], demand[a : a + 24], rtol=1e-5)
    with pytest.raises(ValueError, match="last dimension to be 1 channels"):
        dm.inverse_transform(torch.zeros(2, 3))


def test_scale_false_keeps_raw_values_and_constant_columns_do_not_divide_by_zero(tmp_path):
    path = write_csv(tmp_path / "c.csv", const=4.0)
    dm = ForecastDataModule(csv=str(path), target="a", seq_len=24, label_len=12, pred_len=12)
    assert dm.scaler.std[dm.columns.index("const")] == 1.0
    assert torch.isfinite(dm.datasets["train"][0]["x_enc"]).all()
    raw = ForecastDataModule(csv=str(path), target="a", seq_len=24, label_len=12, pred_len=12, scale=False)
    np.testing.assert_allclose(
        raw.datasets["train"][0]["x_enc"][:, raw.columns.index("b")].numpy(),
        pd.read_csv(path)["b"].to_numpy()[:24],
        rtol=1e-6,
    )


def test_first_setup_on_the_shipped_sample_is_fast():
    start = time.perf_counter()
    dm = ForecastDataModule()
    dm.setup()
    assert time.perf_counter() - start < 2.0
    assert dm.n_features == 3 and dm.freq == "h"


def test_metadata_is_available_without_an_explicit_setup():
    dm = ForecastDataModule("epf_fr_be", features="MS")
    assert (dm.n_features, dm.n_targets, dm.n_time_features) == (4, 1, 4)
    assert dm.target_columns == ("OT",) and dm.columns[:-1] == (
        "FR_generation_forecast",
        "FR_load_forecast",
        "FR_price",
    )


# --------------------------------------------------------------------------------------- your own CSV


def test_byo_csv_with_a_non_standard_date_column(tmp_path):
    frame = pd.DataFrame(
        {
            "site": ["north"] * 400,
            "load": np.arange(400, dtype=float),
            "Zeit": pd.date_range("2022-01-01", periods=400, freq="30min").strftime("%d.%m.%Y %H:%M"),
            "temp": np.linspace(0, 1, 400),
            "peak": [True, False] * 200,
        }
    )
    path = tmp_path / "mine.csv"
    frame.to_csv(path, index=False)
    dm = ForecastDataModule(
        csv=str(path), date_column="Zeit", target="load", features="MS", seq_len=24, label_len=12, pred_len=12
    )
    with pytest.warns(UserWarning, match=r"dropping non-numeric column\(s\) \['site'\]"):
        dm.setup()
    assert dm.columns == ("temp", "peak", "load") and dm.target_columns == ("load",)
    assert dm.dates[1] - dm.dates[0] == pd.Timedelta(minutes=30) and dm.freq == "t"
    assert dm.dates[0] == pd.Timestamp("2022-01-01 00:00")


@pytest.mark.parametrize("layout", ["first", "named"])
def test_byo_date_column_is_detected(tmp_path, layout):
    n = 400
    dates = pd.date_range("2020-01-01", periods=n, freq="D")
    if layout == "first":  # a parseable first column with an arbitrary name
        frame = pd.DataFrame({"when": dates, "x": np.arange(n), "OT": np.arange(n) * 2.0})
    else:  # a column named 'timestamp', not first
        frame = pd.DataFrame({"x": np.arange(n), "timestamp": dates, "OT": np.arange(n) * 2.0})
    frame.to_csv(tmp_path / "d.csv", index=False)
    dm = ForecastDataModule(csv=str(tmp_path / "d.csv"), seq_len=14, label_len=7, pred_len=7)
    assert dm.columns == ("x", "OT") and dm.freq == "d" and dm.n_time_features == 3


def _bytes(text: str) -> bytes:
    return text.encode("utf-8")


def _rows(n: int, extra: str = "") -> str:
    dates = pd.date_range("2021-01-01", periods=n, freq="h")
    return "date,a,OT\n" + "".join(f"{d},{i},{i * 2}\n" for i, d in enumerate(dates)) + extra


@pytest.mark.parametrize(
    "content,kwargs,match",
    [
        (
            _bytes("date,name\n2021-01-01,x\n2021-01-02,y\n"),
            {},
            "no numeric column besides the date column 'date'",
        ),
        (_bytes(_rows(100)), {}, r"100 rows, fewer than seq_len \+ pred_len = 96 \+ 96 = 192"),
        (_bytes(_rows(500)), {}, r"500 rows; seq_len=96 and pred_len=96 need at least \d+ rows"),
        (
            _bytes(_rows(50)),
            {"target": "load"},
            r"target column 'load' not found; available numeric columns: \['a', 'OT'\]",
        ),
        (
            _rows(40)
            .replace("date,a,OT", "date,a,température,OT")
            .replace(",0,0", ",0,é,0")
            .encode("latin-1"),
            {},
            "is not UTF-8 text.*expected a UTF-8",
        ),
        (
            _bytes(_rows(40).replace("2021-01-01 05:00:00", "2021-01-01 5 o'clock")),
            {},
            "not a date at data row 6",
        ),
        (_bytes(_rows(40) + "2021-01-01 03:00:00,1,2\n"), {}, "appears more than once"),
        (
            _bytes(_rows(40).replace(",7,14", ",7,")),
            {},
            r"missing or infinite values \(count per column: \{'OT': 1\}",
        ),
        (_bytes("x,a,OT\n1,2,3\n4,5,6\n"), {}, "no date column found"),
        (b"", {}, "is empty"),
        (_bytes(_rows(40)), {"date_column": "Datum"}, "date_column 'Datum' is not a column"),
    ],
)
def test_bad_csv_errors_name_the_problem(tmp_path, content, kwargs, match):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    dm = ForecastDataModule(csv=str(path), **kwargs)
    with pytest.raises(ValueError, match=match) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dm.setup()
    if "UTF-8" in match:
        assert str(path) in str(info.value)


def test_missing_csv_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="CSV file not found"):
        ForecastDataModule(csv=str(tmp_path / "nope.csv")).setup()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"features": "X"}, "features must be one of"),
        ({"seq_len": 48, "label_len": 96}, "label_len .96. must not exceed seq_len .48."),
        ({"seq_len": 0}, "seq_len must be an integer >= 1"),
        ({"timeenc": 2}, "timeenc must be 0"),
        ({"freq": "fortnightly"}, "unknown frequency"),
        ({"dataset": "ETTh9"}, "unknown dataset 'ETTh9'"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ForecastDataModule(**kwargs)


# --------------------------------------------------------------------------------------- prediction


def test_predict_forecasts_past_the_last_row():
    dm = ForecastDataModule("vic_elec", seq_len=48, label_len=24, pred_len=12)
    future = dm.future_dates(3)
    assert list(future) == [
        pd.Timestamp("2014-12-31 23:00"),
        pd.Timestamp("2015-01-01 00:00"),
        pd.Timestamp("2015-01-01 01:00"),
    ]
    batches = list(dm.predict_dataloader())
    assert len(batches) == 1 and "y" not in batches[0]
    batch = batches[0]
    assert {k: tuple(v.shape) for k, v in batch.items()} == {
        "x_enc": (1, 48, 3),
        "x_mark_enc": (1, 48, 4),
        "x_dec": (1, 36, 3),
        "x_mark_dec": (1, 36, 4),
    }
    raw = load_sample("vic_elec")[list(dm.columns)].to_numpy()
    np.testing.assert_allclose(
        batch["x_enc"][0].numpy(), dm.scaler.transform(raw[-48:]), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(batch["x_mark_dec"][0, 24:].numpy(), time_features(dm.future_dates(12), "h"))
    np.testing.assert_allclose(batch["x_mark_dec"][0, :24].numpy(), time_features(dm.dates[-24:], "h"))
    assert torch.count_nonzero(batch["x_dec"][0, 24:]) == 0


def test_future_dates_follow_calendar_steps(tmp_path):
    frame = pd.DataFrame(
        {"date": pd.date_range("1990-01-01", periods=240, freq="MS"), "OT": np.arange(240.0)}
    )
    frame.to_csv(tmp_path / "m.csv", index=False)
    dm = ForecastDataModule(csv=str(tmp_path / "m.csv"), seq_len=12, label_len=6, pred_len=3)
    assert dm.freq == "m" and dm.n_time_features == 1
    assert list(dm.future_dates()) == list(pd.date_range("2010-01-01", periods=3, freq="MS"))


def test_timeenc0_gives_informer_integer_marks(tmp_path):
    path = write_csv(tmp_path / "q.csv", n=800, freq="15min", OT=np.arange(800.0))
    dm = ForecastDataModule(csv=str(path), timeenc=0, seq_len=32, label_len=16, pred_len=16)
    marks = dm.datasets["train"][0]["x_mark_enc"]
    assert dm.n_time_features == 5 and torch.equal(marks, marks.round())
    assert marks[:, 4].min() == 0 and marks[:, 4].max() == 3  # minute // 15
    assert marks[0].tolist() == [3, 1, 0, 0, 0]  # 2021-03-01 00:00 was a Monday
    hourly = ForecastDataModule("vic_elec", timeenc=0, seq_len=24, label_len=12, pred_len=12)
    assert hourly.n_time_features == 4


# --------------------------------------------------------------------------------------- harness fit


class _Linear(L.LightningModule):
    def __init__(self, seq_len, pred_len, c_out):
        super().__init__()
        self.pred_len = pred_len
        self.proj = torch.nn.Linear(seq_len, pred_len)
        self.c_out = c_out

    def forward(self, batch):
        x = batch["x_enc"][..., -self.c_out :]
        return self.proj(x.transpose(1, 2)).transpose(1, 2)

    def training_step(self, batch, _):
        return torch.nn.functional.mse_loss(self(batch), batch["y"][:, -self.pred_len :])

    validation_step = test_step = training_step

    def predict_step(self, batch, _):
        return self(batch)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def test_lightning_trainer_runs_on_the_batches():
    dm = ForecastDataModule("vic_elec", features="MS", seq_len=24, label_len=12, pred_len=12, batch_size=16)
    model = _Linear(24, 12, 1)
    trainer = L.Trainer(
        fast_dev_run=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, datamodule=dm)
    (pred,) = trainer.predict(model, datamodule=dm)
    assert tuple(pred.shape) == (1, 12, 1)


def test_arguments_are_parseable_by_lightningcli():
    jsonargparse = pytest.importorskip("jsonargparse")
    parser = jsonargparse.ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(ForecastDataModule, "data")
    cfg = parser.parse_args(
        [
            "--data.dataset=epf_fr_be",
            "--data.features=MS",
            "--data.seq_len=48",
            "--data.freq=1h",
            "--data.scale=false",
        ]
    )
    instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes
    dm = instantiate(cfg).data
    assert isinstance(dm, ForecastDataModule) and dm.seq_len == 48 and dm.features == "MS" and not dm.scale


# --------------------------------------------------------------------------------------- calendar features


def test_hourly_time_features_values():
    dates = pd.DatetimeIndex(
        ["2021-01-04 00:00", "2020-12-31 23:00"]
    )  # a Monday 00:00; a Thursday in a leap year
    f = time_features(dates, "h")
    np.testing.assert_allclose(f[0], [-0.5, -0.5, 3 / 30 - 0.5, 3 / 365 - 0.5], rtol=1e-6)
    np.testing.assert_allclose(f[1], [0.5, 3 / 6 - 0.5, 0.5, 365 / 365 - 0.5], rtol=1e-6)
    assert f.dtype == np.float32 and f.shape == (2, 4)


@pytest.mark.parametrize(
    "freq,names",
    [
        ("s", 6),
        ("t", 5),
        ("15min", 5),
        ("h", 4),
        ("1h", 4),
        ("d", 3),
        ("b", 3),
        ("w", 2),
        ("m", 1),
        ("MS", 1),
        ("y", 1),
    ],
)
def test_feature_counts_match_tslib_freq_map(freq, names):
    dates = pd.date_range("2019-12-25", periods=24 * 400, freq="h")
    f = time_features(dates, freq)
    assert f.shape == (len(dates), names) == (len(dates), n_time_features(freq))
    assert f.min() >= -0.5 and f.max() <= 0.5


def test_minutely_adds_minute_of_hour_and_daily_drops_hour():
    dates = pd.date_range("2021-06-01", periods=8, freq="15min")
    t, h, d = time_features(dates, "t"), time_features(dates, "h"), time_features(dates, "d")
    np.testing.assert_allclose(t[:, 0], np.array([0, 15, 30, 45] * 2) / 59 - 0.5, rtol=1e-6)
    np.testing.assert_array_equal(t[:, 1:], h)
    np.testing.assert_array_equal(d, h[:, 1:])


def test_time_marks_columns():
    dates = pd.DatetimeIndex(["2016-07-01 13:45"])  # a Friday
    assert time_marks(dates, "h").tolist() == [[7, 1, 4, 13]]
    assert time_marks(dates, "t").tolist() == [[7, 1, 4, 13, 3]]
    assert time_marks(dates, "d").shape == (1, 4)  # Informer's embedding always reads the hour column


def test_frequency_inference_and_codes():
    assert infer_freq(pd.date_range("2020", periods=10, freq="10min")) == "t"
    assert infer_freq(pd.date_range("2020", periods=10, freq="h")) == "h"
    assert infer_freq(pd.date_range("2020", periods=10, freq="W")) == "w"
    assert infer_freq(pd.date_range("2020", periods=10, freq="B")) == "b"
    assert infer_freq(pd.date_range("2020", periods=10, freq="MS")) == "m"
    gaps = pd.DatetimeIndex(list(pd.date_range("2020", periods=10, freq="h")) + [pd.Timestamp("2020-01-02")])
    assert infer_freq(gaps) == "h"
    assert [freq_code(f) for f in ("H", "T", "min", "D", "W-SUN", "QE", "A")] == [
        "h",
        "t",
        "t",
        "d",
        "w",
        "q",
        "y",
    ]
    with pytest.raises(ValueError, match="at least two dates"):
        infer_freq(pd.DatetimeIndex(["2020-01-01"]))


def test_scaler_round_trip_and_column_subsets():
    x = np.random.default_rng(0).normal(3, 2, (50, 3))
    s = StandardScaler.fit(x, ("a", "b", "c"))
    np.testing.assert_allclose(s.inverse_transform(s.transform(x)), x)
    np.testing.assert_allclose(s.inverse_transform(s.transform(x[:, 2:], ["c"]), ["c"]), x[:, 2:])
    xt = torch.tensor(x, dtype=torch.float64)
    torch.testing.assert_close(s.transform(xt), torch.tensor(s.transform(x)))


def test_min_rows_error_and_boundary(tmp_path):
    need = min_rows("ratio", 24, 12)
    write_csv(tmp_path / "ok.csv", n=need, OT=np.arange(need, dtype=float))
    ForecastDataModule(csv=str(tmp_path / "ok.csv"), seq_len=24, label_len=12, pred_len=12).setup()
    write_csv(tmp_path / "short.csv", n=need - 1, OT=np.arange(need - 1, dtype=float))
    with pytest.raises(ValueError, match=f"need at least {need} rows"):
        ForecastDataModule(csv=str(tmp_path / "short.csv"), seq_len=24, label_len=12, pred_len=12).setup()
