"""Standard long-horizon loaders (official layouts, cache, download, checksums), split rules and the
shipped samples."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from spanmix.datasets import timeseries as ts
from spanmix.datasets.timeseries import (
    SPECS,
    ChecksumMismatch,
    DatasetFileMissing,
    DatasetNotAvailable,
    get_spec,
    load_dataset,
    load_sample,
    min_rows,
    split_borders,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "forecast"


# --------------------------------------------------------------------------------------- spec table


def test_spec_table_is_complete_and_documented():
    assert set(SPECS) == {"ETTh1", "ETTh2", "ETTm1", "ETTm2", "ECL", "Weather", "Traffic", "Exchange", "ILI"}
    for spec in SPECS.values():
        assert spec.url.startswith("https://") and spec.url.endswith("/" + spec.file)
        assert spec.sha256 is None or (len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0)
        assert spec.target == "OT" and spec.border in ("ett_hour", "ett_minute", "ratio")
        pd.tseries.frequencies.to_offset(spec.freq)  # a valid pandas frequency
        assert spec.description
    for name in ("ETTh1", "ETTh2", "ETTm1", "ETTm2"):
        assert SPECS[name].url.startswith("https://raw.githubusercontent.com/zhouhaoyi/ETDataset/")
        assert SPECS[name].columns == ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
    for name in ("ECL", "Weather", "Traffic", "Exchange", "ILI"):
        assert SPECS[name].url.startswith("https://huggingface.co/datasets/thuml/Time-Series-Library/")
    assert (SPECS["ETTh1"].border, SPECS["ETTm2"].border, SPECS["Traffic"].border) == (
        "ett_hour",
        "ett_minute",
        "ratio",
    )
    assert [SPECS[n].n_vars for n in ("ECL", "Weather", "Traffic", "Exchange", "ILI")] == [321, 21, 862, 8, 7]


def test_names_are_case_insensitive_with_aliases_and_unknown_names_list_choices():
    assert get_spec("etth1").name == "ETTh1"
    assert get_spec("electricity").name == "ECL" and get_spec("exchange_rate").name == "Exchange"
    assert get_spec("national_illness").name == "ILI"
    with pytest.raises(ValueError, match="unknown dataset 'ETTh3'.*ETTh1.*vic_elec"):
        get_spec("ETTh3")


# --------------------------------------------------------------------------------------- reading


def test_load_from_cache_dir_reads_official_layout():
    df = load_dataset("ETTh1", cache_dir=FIXTURES)
    assert list(df.columns) == ["date", "HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    assert len(df) == 48 and pd.api.types.is_datetime64_any_dtype(df["date"])
    assert (df["date"].diff().dropna() == pd.Timedelta(hours=1)).all()
    assert all(df[c].dtype == np.float64 for c in df.columns[1:])


def test_env_var_sets_the_default_cache(monkeypatch, tmp_path):
    (tmp_path / "forecast").mkdir()
    shutil.copy(FIXTURES / "ETTh1.csv", tmp_path / "forecast" / "ETTh1.csv")
    monkeypatch.setenv("SPANMIX_CACHE", str(tmp_path))
    assert len(load_dataset("etth1")) == 48
    monkeypatch.delenv("SPANMIX_CACHE")
    assert ts.resolve_cache_dir() == Path("~/.cache/spanmix/forecast").expanduser()


@pytest.mark.parametrize(
    "name,n_vars,first,step",
    [
        ("ILI", 7, "% WEIGHTED ILI", pd.Timedelta(days=7)),
        ("Exchange", 8, "0", pd.Timedelta(days=1)),
        ("Weather", 21, "p (mbar)", pd.Timedelta(minutes=10)),
    ],
)
def test_other_official_layouts(name, n_vars, first, step):
    df = load_dataset(name, cache_dir=FIXTURES)
    assert df.columns[0] == "date" and df.columns[1] == first and df.columns[-1] == "OT"
    assert len(df.columns) == n_vars + 1 and len(df) == 30
    assert (df["date"].diff().dropna() == step).all()


@pytest.mark.parametrize("name", ["ECL", "Traffic"])
def test_wide_layouts(tmp_path, name):
    spec = SPECS[name]
    cols = [str(i) for i in range(spec.n_vars - 1)] + ["OT"]
    dates = pd.date_range("2016-07-01 02:00:00", periods=24, freq="h")
    values = np.random.default_rng(0).random((24, spec.n_vars)).round(4)
    frame = pd.DataFrame(values, columns=cols)
    frame.insert(0, "date", dates.strftime("%Y-%m-%d %H:%M:%S"))
    frame.to_csv(tmp_path / spec.file, index=False)
    df = load_dataset(name.lower(), cache_dir=tmp_path)
    assert df.shape == (24, spec.n_vars + 1)
    np.testing.assert_allclose(df[cols].to_numpy(), values)


def test_missing_file_is_a_clear_error_without_network(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("load_dataset must not touch the network unless download=True")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(DatasetFileMissing) as info:
        load_dataset("Traffic", cache_dir=tmp_path)
    err = info.value
    assert isinstance(err, DatasetNotAvailable) and isinstance(err, RuntimeError)
    assert isinstance(err, FileNotFoundError)
    message = str(err)
    assert str(tmp_path / "traffic.csv") in message and SPECS["Traffic"].url in message
    assert "download=True" in message and "SPANMIX_CACHE" in message


def _set_last_cell(text: str, row: int, value: str) -> str:
    lines = text.splitlines()
    lines[row + 1] = lines[row + 1][: lines[row + 1].rindex(",") + 1] + value
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "edit,match",
    [
        (lambda t: t.replace("date,HUFL", "time,HUFL", 1), "first column must be 'date'"),
        (
            lambda t: "\n".join(",".join(line.split(",")[:-1]) for line in t.splitlines()) + "\n",
            "expected 7 value columns",
        ),
        (lambda t: t.replace(",HULL,", ",HULLX,", 1), "expected columns"),
        (lambda t: t.replace("2016-07-01 05:00:00", "2016-07-01 25:00:00", 1), "not a date at data row 6"),
        (lambda t: _set_last_cell(t, 3, "oops"), "must be numeric.*'OT'"),
        (lambda t: _set_last_cell(t, 3, ""), "missing values in {'OT': 1}"),
        (lambda t: t.splitlines()[0] + "\n", "no data rows"),
    ],
)
def test_layout_errors_name_the_problem(tmp_path, edit, match):
    text = (FIXTURES / "ETTh1.csv").read_text()
    (tmp_path / "ETTh1.csv").write_text(edit(text))
    with pytest.raises(ValueError, match=match):
        load_dataset("ETTh1", cache_dir=tmp_path)


# --------------------------------------------------------------------------------------- download


class _FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _serve(monkeypatch, payload: bytes, calls: list):
    def fake_urlopen(url, timeout=None):
        calls.append(url)
        return _FakeResponse(payload)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)


def test_download_verifies_checksum_and_renames_atomically(tmp_path, monkeypatch):
    payload = (FIXTURES / "ETTh1.csv").read_bytes()
    digest = hashlib.sha256(payload).hexdigest()
    monkeypatch.setitem(SPECS, "ETTh1", dataclasses.replace(SPECS["ETTh1"], sha256=digest))
    calls: list = []
    _serve(monkeypatch, payload, calls)
    df = load_dataset("ETTh1", cache_dir=tmp_path / "cache", download=True)
    assert calls == [SPECS["ETTh1"].url] and len(df) == 48
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["ETTh1.csv"]  # no temp file left
    assert (tmp_path / "cache" / "ETTh1.csv").read_bytes() == payload
    assert ts.verify_file("ETTh1", tmp_path / "cache" / "ETTh1.csv") is True
    load_dataset("ETTh1", cache_dir=tmp_path / "cache", download=True)  # cached: no second request
    assert len(calls) == 1


def test_download_with_wrong_checksum_keeps_nothing(tmp_path, monkeypatch):
    payload = (FIXTURES / "ETTh1.csv").read_bytes()  # not the real ETTh1.csv: its SHA-256 differs
    _serve(monkeypatch, payload, [])
    with pytest.raises(ChecksumMismatch, match=f"expected {SPECS['ETTh1'].sha256}"):
        load_dataset("ETTh1", cache_dir=tmp_path, download=True)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ChecksumMismatch):
        ts.verify_file("ETTh1", FIXTURES / "ETTh1.csv")


def test_download_network_failure_is_dataset_not_available(tmp_path, monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DatasetNotAvailable, match="could not download ILI.*national_illness.csv"):
        load_dataset("ILI", cache_dir=tmp_path, download=True)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------- split rules


def test_ett_borders_are_tslib_numbers():
    seq = 96
    hour = split_borders("ett_hour", 17420, seq)
    assert hour == {"train": (0, 8640), "val": (8640 - seq, 11520), "test": (11520 - seq, 14400)}
    minute = split_borders("ett_minute", 69680, seq)
    assert minute == {"train": (0, 34560), "val": (34560 - seq, 46080), "test": (46080 - seq, 57600)}
    with pytest.raises(ValueError, match="needs 14400 rows"):
        split_borders("ett_hour", 14399, seq)


def test_ratio_borders_are_tslib_70_10_20():
    n, seq = 17544, 96  # Traffic
    n_train, n_test = int(n * 0.7), int(n * 0.2)
    b = split_borders("ratio", n, seq)
    assert b == {"train": (0, n_train), "val": (n_train - seq, n - n_test), "test": (n - n_test - seq, n)}
    assert b["test"][1] - b["test"][0] == n_test + seq
    with pytest.raises(ValueError, match="unknown split rule"):
        split_borders("80/20", n, seq)


@pytest.mark.parametrize("seq_len,pred_len", [(96, 96), (36, 24), (10, 1), (512, 720)])
def test_min_rows_is_the_smallest_length_with_a_window_per_split(seq_len, pred_len):
    def ok(n):
        b = split_borders("ratio", n, seq_len)
        return all(a >= 0 and (e - a) - seq_len - pred_len + 1 >= 1 for a, e in b.values())

    n = min_rows("ratio", seq_len, pred_len)
    assert ok(n) and not ok(n - 1)
    assert min_rows("ett_hour", 96, 96) == 14400 and min_rows("ett_minute", 96, 96) == 57600


# --------------------------------------------------------------------------------------- shipped samples


def test_vic_elec_sample_is_real_hourly_demand():
    df = load_sample("vic_elec")
    assert list(df.columns) == ["date", "Temperature", "Holiday", "OT"]
    assert len(df) == 26304 and not df.isna().any().any()
    assert (df["date"].diff().dropna() == pd.Timedelta(hours=1)).all()
    assert df["date"].iloc[0] == pd.Timestamp("2011-12-31 23:00") and df["date"].iloc[-1] == pd.Timestamp(
        "2014-12-31 22:00"
    )
    assert 2000 < df["OT"].min() and df["OT"].max() < 15000  # MW, Victoria
    assert -5 < df["Temperature"].min() and df["Temperature"].max() < 50
    assert set(df["Holiday"].unique()) == {0.0, 1.0}
    # Real load: the evening peak is well above the small hours, and Christmas Day is a holiday.
    by_hour = df.groupby(df["date"].dt.hour)["OT"].mean()
    assert by_hour[18] > 1.3 * by_hour[4]
    assert df.loc[df["date"] == pd.Timestamp("2013-12-25 12:00"), "Holiday"].item() == 1


def test_epf_sample_is_hourly_prices_with_covariates():
    df = load_sample("epf_fr_be")
    assert list(df.columns) == ["date", "FR_generation_forecast", "FR_load_forecast", "FR_price", "OT"]
    assert len(df) == 16080 and not df.isna().any().any()
    assert (df["date"].diff().dropna() == pd.Timedelta(hours=1)).all()
    assert 20_000 < df["FR_load_forecast"].mean() < 100_000 and 10 < df["OT"].mean() < 100
    with pytest.raises(ValueError, match="unknown sample"):
        load_sample("ETTh1")


@pytest.mark.parametrize("name", ["vic_elec", "epf_fr_be"])
def test_shipped_samples_regenerate_identically(name):
    pytest.importorskip("tsdata")
    from spanmix.datasets import prepare_forecast_sample as prep

    assert gzip.decompress(prep.build(name)) == gzip.decompress(ts.sample_path(name).read_bytes())
