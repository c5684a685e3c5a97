"""The Forecast tab of the demo hub (``python demos/hub.py``): shipped weights on shipped data or your CSV.

Pick a series -- the shipped ``vic_elec`` (hourly Victorian electricity demand, its temperature and
holidays) or ``epf_fr_be`` (hourly Belgian day-ahead prices), or upload a CSV -- and one of the small
models in ``pretrained/forecast/`` (built by ``spanmix weights build forecast`` from our configs on
vic_elec). The page shows the test error on the series' test split next to the naive baselines, one
backtest window plotted against the truth, the forecast past the last row, and which command and
config trained the weights, with their recorded test error.

Channels: every model comes in two versions.

- **MS** (multivariate in, target out): ``Temperature, Holiday, OT -> OT``. It needs exactly these
  input columns, so it runs on vic_elec (or a CSV with these three numeric columns);
- **S** (univariate): one column in, the same column out. It runs on any series, so it is what an upload
  (or epf_fr_be) uses; the target column is chosen on the page. Applied to other data than vic_elec it
  forecasts zero-shot (it was trained on electricity demand only), and the page says so.

Uploads follow the same protocol as the shipped data (``ForecastDataModule(csv=...)``): normalised with
the mean/std of its first 70 % rows, and backtested on its last 20 % (at most :data:`MAX_UPLOAD_WINDOWS`
windows, the latest). Calendar features use the weights' frequency (hourly) whatever the upload's step,
so the shapes always match. Bad input (not UTF-8, no date or numeric column, unparsable dates, too few
rows, wrong columns for an MS model, over :data:`MAX_UPLOAD_MB` MB) becomes a message on the page.

Functions (the unit tests call them directly): :func:`list_models`, :func:`prepare_data`,
:func:`evaluate`, :func:`predict` (what the button runs: never raises) and :func:`build_tab`.
"""

from __future__ import annotations

import logging
import traceback
import warnings
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tab_common import (
    LABEL_FONTSIZE,
    MAX_UPLOAD_MB,
    DemoError,
    clean_message,
    demo_exports,
    legend,
    listen,
    load_weights,
    toast,
)
from tab_common import error_box as _error_box

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS_DIR = ROOT / "pretrained" / "forecast"
SHIPPED_DATASETS = {
    "vic_elec": "vic_elec — hourly electricity demand, Victoria (shipped)",
    "epf_fr_be": "epf_fr_be — hourly day-ahead price, Belgium (shipped)",
}
UNITS = {"vic_elec": "MW", "epf_fr_be": "EUR/MWh"}
UPLOAD = "Upload a CSV"
SOURCES = [*SHIPPED_DATASETS.values(), UPLOAD]
MAX_UPLOAD_WINDOWS = 2000
BATCH = 256

log = logging.getLogger(__name__)

__all__ = ["DemoError", "ShippedModel", "build_tab", "evaluate", "list_models", "predict", "prepare_data"]


def error_box(message: str) -> str:
    """``message`` in the page's error box: "Cannot forecast: ..."."""
    return _error_box(message, "forecast")


# ------------------------------------------------------------------------------------------ weights
@dataclass(frozen=True)
class ShippedModel:
    """One export of ``pretrained/forecast/`` and what its ``config.json`` (``metadata.demo``) records."""

    name: str
    path: Path
    label: str
    model: str
    features: str
    dataset: str
    input_columns: tuple[str, ...]
    target: str
    seq_len: int
    label_len: int
    pred_len: int
    freq: str
    config_file: str
    command: str
    test_metrics: dict[str, float]
    baselines: dict[str, dict[str, float]]
    epoch: int | None

    @property
    def choice(self) -> str:
        """The model dropdown's text for these weights."""
        if self.features == "S":
            return f"{self.label} · S (univariate)"
        return f"{self.label} · MS ({', '.join(self.input_columns)} → {self.target})"


def list_models(weights_dir: Path = WEIGHTS_DIR) -> list[ShippedModel]:
    """The exports under ``weights_dir`` written by ``spanmix weights build forecast``, MS before S."""
    models = []
    for folder, meta in demo_exports(weights_dir):
        demo = meta["demo"]
        models.append(
            ShippedModel(
                name=folder.name,
                path=folder,
                label=demo["label"],
                model=demo["model"],
                features=demo["features"],
                dataset=demo["dataset"],
                input_columns=tuple(demo["input_columns"]),
                target=demo["target"],
                seq_len=demo["seq_len"],
                label_len=demo["label_len"],
                pred_len=demo["pred_len"],
                freq=demo["freq"],
                config_file=demo["config_file"],
                command=demo["command"],
                test_metrics=demo["test_metrics"],
                baselines=demo["baselines"],
                epoch=meta.get("epoch"),
            )
        )
    order = {"naive": 0, "linear": 1}
    return sorted(models, key=lambda m: (m.features != "MS", order.get(m.model, 2), m.label))


def _find_model(choice: str, weights_dir: Path = WEIGHTS_DIR) -> ShippedModel:
    for m in list_models(weights_dir):
        if choice in (m.choice, m.name):
            return m
    raise DemoError(f"Unknown model {choice!r}; pick one of the shipped weights in {weights_dir}.")


# ------------------------------------------------------------------------------------------ data
def _dataset_of(source: str) -> str | None:
    for name, text in SHIPPED_DATASETS.items():
        if source in (name, text):
            return name
    if source == UPLOAD:
        return None
    raise DemoError(f"Unknown data source {source!r}; choose one of {SOURCES}.")


def read_upload(path: str) -> tuple[list[str], list[str]]:
    """Numeric columns of an uploaded CSV and any notes (dropped columns); bad files raise DemoError."""
    file = Path(path)
    if not file.is_file():
        raise DemoError(f"The uploaded file {file.name} is no longer on the server; upload it again.")
    size = file.stat().st_size
    if size > MAX_UPLOAD_MB * 1024 * 1024:
        raise DemoError(
            f"{file.name} is {size / 2**20:.1f} MB; uploads are limited to {MAX_UPLOAD_MB} MB. "
            "Upload fewer rows (the models read 96 rows at a time)."
        )
    numeric, notes = _read_upload(str(file), file.stat().st_mtime_ns, size)
    return list(numeric), list(notes)


@lru_cache(maxsize=8)
def _read_upload(path: str, mtime_ns: int, size: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``read_upload`` once per file version (the upload handler, the button and the data module all ask)."""
    from spanmix.apps.forecast.data import read_series_csv

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame = read_series_csv(path)
        except (ValueError, OSError) as err:
            raise DemoError(clean_message(str(err), path)) from None
    notes = tuple(clean_message(str(w.message), path) for w in caught if issubclass(w.category, UserWarning))
    return tuple(c for c in frame.columns if c != "date"), notes


@lru_cache(maxsize=8)
def _shipped_module(dataset: str, features: str, seq_len: int, label_len: int, pred_len: int):
    from spanmix.apps.forecast.data import ForecastDataModule

    dm = ForecastDataModule(
        dataset,
        features=features,
        target="OT",
        seq_len=seq_len,
        label_len=label_len,
        pred_len=pred_len,
        batch_size=BATCH,
    )
    dm.setup()
    return dm


def prepare_data(model: ShippedModel, source: str, upload: str | None = None, target: str | None = None):
    """The data module of ``source`` in ``model``'s channel layout and window lengths.

    Raises:
        DemoError: no file uploaded, a bad file, an unknown target, or columns an MS model cannot take.
    """
    from spanmix.apps.forecast.data import ForecastDataModule

    dataset = _dataset_of(source)
    if dataset is not None:
        if model.features != "S":
            columns = _shipped_module(dataset, "M", model.seq_len, model.label_len, model.pred_len).columns
            _check_columns(model, list(columns), dataset)
        return _shipped_module(dataset, model.features, model.seq_len, model.label_len, model.pred_len)

    if not upload:
        raise DemoError(
            "No CSV uploaded yet. Upload a UTF-8 CSV with a date column and at least one numeric "
            "column (hourly data, e.g. `date,load`), or pick a shipped dataset."
        )
    numeric, _ = read_upload(upload)
    target = target or ("OT" if "OT" in numeric else numeric[-1])
    if target not in numeric:
        raise DemoError(
            f"Target column {target!r} is not a numeric column of {Path(upload).name}; "
            f"its numeric columns are {numeric}."
        )
    if model.features != "S":
        _check_columns(model, numeric, Path(upload).name, target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the dropped-column note was already collected by read_upload
        try:
            dm = ForecastDataModule(
                csv=upload,
                target=target,
                features=model.features,
                seq_len=model.seq_len,
                label_len=model.label_len,
                pred_len=model.pred_len,
                freq=model.freq,
                batch_size=BATCH,
            )
            dm.setup()
        except (ValueError, OSError) as err:
            raise DemoError(clean_message(str(err), upload)) from None
    return dm


def _check_columns(model: ShippedModel, numeric: list[str], where: str, target: str | None = None) -> None:
    expected = set(model.input_columns)
    if set(numeric) != expected or (target is not None and target != model.target):
        raise DemoError(
            f"{model.label} (MS) was trained on exactly the input columns {list(model.input_columns)} with "
            f"target {model.target!r}; {where} has numeric columns {numeric}. Pick the univariate (S) "
            "version of a model, which forecasts any one column, or use data with exactly these columns."
        )


# ------------------------------------------------------------------------------------------ evaluation
def _forecast(task, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The task's normalised forecast ``(B, pred_len, C_out)`` of a data-module batch."""
    return task(batch["x_enc"], batch["x_mark_enc"], batch["x_dec"], batch["x_mark_dec"])


def _batches(dm, split: str, last: int | None):
    from torch.utils.data import DataLoader, Subset

    data = dm.datasets[split]
    if last is not None and len(data) > last:
        data = Subset(data, range(len(data) - last, len(data)))
    return DataLoader(data, batch_size=BATCH, shuffle=False), len(data)


@torch.no_grad()
def evaluate(task, dm, split: str = "test", last: int | None = None) -> dict[str, float]:
    """MSE/MAE of ``task`` over the windows of ``split`` (the ``last`` ones only, if given).

    ``mse``/``mae`` are on the normalised scale over every forecast step and target channel (as
    ``ForecastTask``'s test metrics and TSLib's tables); ``mae_units`` is the MAE of the target (last
    channel) in data units. Also returns ``windows``, the number of windows scored.
    """
    loader, n = _batches(dm, split, last)
    sq = ab = ab_units = 0.0
    count = count_units = 0
    for batch in loader:
        pred = _forecast(task, batch).double()
        true = batch["y"][:, -dm.pred_len :].double()
        sq += float(((pred - true) ** 2).sum())
        ab += float((pred - true).abs().sum())
        count += true.numel()
        err = dm.inverse_transform(pred)[..., -1] - dm.inverse_transform(true)[..., -1]
        ab_units += float(err.abs().sum())
        count_units += err.numel()
    return {"mse": sq / count, "mae": ab / count, "mae_units": ab_units / count_units, "windows": n}


@lru_cache(maxsize=64)
def _naive(
    n_features: int, n_targets: int, seq_len: int, label_len: int, pred_len: int, n_time: int, season: int
):
    from spanmix.apps.forecast.task import ForecastTask

    return ForecastTask(
        "naive",
        {"season": season},
        n_features=n_features,
        n_targets=n_targets,
        seq_len=seq_len,
        label_len=label_len,
        pred_len=pred_len,
        n_time_features=n_time,
    ).eval()


def _baselines(dm) -> dict[str, Any]:
    shape = (dm.n_features, dm.n_targets, dm.seq_len, dm.label_len, dm.pred_len, dm.n_time_features)
    seasons = [s for s in (24,) if s <= dm.seq_len]
    out = {f"seasonal naive (the value {s} steps earlier)": _naive(*shape, s) for s in seasons}
    out["naive (last value)"] = _naive(*shape, 1)
    return out


_SHIPPED_SCORES: dict[tuple[str, str], dict[str, dict[str, float]]] = {}


def _scores(model: ShippedModel, task, dm, dataset: str | None) -> dict[str, dict[str, float]]:
    """Test scores of the model and the baselines; cached for the shipped data sets."""
    key = (dataset or "", model.name)
    if dataset and key in _SHIPPED_SCORES:
        return _SHIPPED_SCORES[key]
    last = None if dataset else MAX_UPLOAD_WINDOWS
    scores = {f"**{model.label} ({model.features})**": evaluate(task, dm, "test", last)}
    for name, baseline in _baselines(dm).items():
        if model.model == "naive" and baseline.net.season == task.net.season:
            continue  # the shipped seasonal-naive weights are this baseline: one row is enough
        scores[name] = evaluate(baseline, dm, "test", last)
    if dataset:
        _SHIPPED_SCORES[key] = scores
    return scores


@torch.no_grad()
def _window(task, dm, position: float) -> dict[str, Any]:
    """One test window at ``position`` (0..100 % of the test split), in data units."""
    data = dm.datasets["test"]
    index = int(round(np.clip(position, 0, 100) / 100 * (len(data) - 1)))
    sample = data[index]
    batch = {k: v.unsqueeze(0) for k, v in sample.items()}
    pred_n, truth_n = _forecast(task, batch)[0], sample["y"][-dm.pred_len :]  # normalised (pred_len, C_out)
    pred = dm.inverse_transform(pred_n)[:, -1].numpy()
    naive = dm.inverse_transform(_forecast(next(iter(_baselines(dm).values())), batch)[0])[:, -1].numpy()
    start = dm.borders["test"][0] + index  # first row of the model's input
    target_col = dm.columns.index(dm.target_columns[-1])
    history = dm.inverse_transform(sample["x_enc"][:, target_col : target_col + 1])[:, 0].numpy()
    truth = dm.inverse_transform(truth_n)[:, -1].numpy()
    return {
        "index": index,
        "windows": len(data),
        "history_dates": dm.dates[start : start + dm.seq_len],
        "history": history,
        "dates": dm.window_dates("test", index),
        "truth": truth,
        "pred": pred,
        "naive": naive,
        "mse": float(((pred_n[:, -1] - truth_n[:, -1]) ** 2).mean()),
        "mae_units": float(np.mean(np.abs(pred - truth))),
    }


@torch.no_grad()
def _future(task, dm) -> dict[str, Any]:
    """The forecast of the ``pred_len`` steps after the last row, with the last rows of history."""
    batch = {k: v.unsqueeze(0) for k, v in dm.predict_sample().items()}
    pred = dm.inverse_transform(_forecast(task, batch)[0])[:, -1].numpy()
    target_col = dm.columns.index(dm.target_columns[-1])
    history = dm.inverse_transform(batch["x_enc"][0, :, target_col : target_col + 1])[:, 0].numpy()
    return {
        "history_dates": dm.dates[len(dm.dates) - dm.seq_len :],
        "history": history,
        "dates": dm.future_dates(),
        "pred": pred,
    }


def make_figure(window: dict[str, Any], future: dict[str, Any], model_label: str, target: str, units: str):
    """Two panels: the backtest window against the truth, and the forecast past the last row."""
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure  # no pyplot: no global state, safe in Gradio's worker threads

    fig = Figure(figsize=(12, 6.4), layout="constrained")
    top, bottom = fig.subplots(2, 1)
    n_in = len(window["history"])
    top.plot(window["history_dates"], window["history"], color="0.35", lw=1.2, label=f"input ({n_in} steps)")
    top.plot(window["dates"], window["truth"], color="black", lw=1.6, label="truth")
    top.plot(window["dates"], window["naive"], color="0.55", lw=1.2, ls="--", label="seasonal naive")
    top.plot(window["dates"], window["pred"], color="tab:red", lw=2.0, label=model_label)
    top.set_title(
        f"Backtest: test window {window['index'] + 1:,} of {window['windows']:,} "
        f"(MAE {_fmt_units(window['mae_units'])} {units})",
        loc="left",
        fontsize=LABEL_FONTSIZE,
    )
    bottom.plot(
        future["history_dates"],
        future["history"],
        color="0.35",
        lw=1.2,
        label=f"input: the last {len(future['history'])} rows",
    )
    bottom.plot(future["dates"], future["pred"], color="tab:red", lw=2.0, label=model_label)
    bottom.set_title(
        f"Forecast past the last row ({future['dates'][0]:%Y-%m-%d %H:%M} onwards)", loc="left", fontsize=LABEL_FONTSIZE
    )
    for ax in (top, bottom):
        ax.set_ylabel(f"{target} ({units})", fontsize=LABEL_FONTSIZE)
        ax.grid(alpha=0.3)
        legend(ax, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    return fig


# ------------------------------------------------------------------------------------------ page text
def _fmt(x: float) -> str:
    return f"{x:.4f}"


def _fmt_units(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.2f}" if abs(x) >= 1 else f"{x:.4g}"


def _parameters(path: Path) -> int:
    from safetensors import safe_open

    with safe_open(str(path / "model.safetensors"), framework="pt") as f:
        return sum(int(np.prod(f.get_slice(k).get_shape())) for k in f.keys())


def model_card(choice: str, weights_dir: Path = WEIGHTS_DIR) -> str:
    """Markdown: which weights, which command and config trained them, their recorded test error."""
    try:
        m = _find_model(choice, weights_dir)
    except DemoError as err:
        return error_box(str(err))
    t, n24 = m.test_metrics, m.baselines.get("naive_season24", {})
    channels = (
        "one column in, the same column out"
        if m.features == "S"
        else f"{', '.join(m.input_columns)} in, {m.target} out"
    )
    n = _parameters(m.path)
    size = (
        f"{n:,} parameters, {(m.path / 'model.safetensors').stat().st_size / 1024:.0f} KiB"
        if n
        else "no parameters"
    )
    how = "Trained" if n else "Built (nothing to train) and tested"
    epoch = f", best epoch {m.epoch + 1}" if m.epoch is not None else ""
    naive = (
        f" — seasonal naive: MSE {_fmt(n24['mse'])}, MAE {_fmt(n24['mae'])}"
        if n24 and m.model != "naive"
        else ""
    )
    return (
        f"#### Model card: {m.label} ({m.features})\n"
        f"Weights `pretrained/forecast/{m.name}` ({size}); {channels}; {m.seq_len} steps in, "
        f"{m.pred_len} out.\n\n"
        f"{how} on **{m.dataset}** with config `{m.config_file}` (seed 0{epoch}):\n"
        f"```\n{m.command}\n```\n"
        f"**Recorded test error** ({m.dataset} test split, normalised): **MSE {_fmt(t['mse'])}, "
        f"MAE {_fmt(t['mae'])}**{naive}. Regenerate with `spanmix weights build forecast {m.name}`."
    )


def _metrics_markdown(
    scores, window, m: ShippedModel, dm, dataset: str | None, upload: str | None, notes: list[str]
) -> str:
    units = UNITS.get(dataset or "", "data units")
    target = dm.target_columns[-1]
    test_dates = dm.dates[dm.borders["test"][0] + dm.seq_len], dm.dates[-1]
    n = next(iter(scores.values()))["windows"]
    where = f"{dataset}, test split" if dataset else f"{Path(upload).name}, backtest on its last 20 %"
    if not dataset and len(dm.datasets["test"]) > n:
        where += f" (the latest {n:,} of {len(dm.datasets['test']):,} windows)"
    lines = [
        f"### Test error — {where}",
        f"{n:,} windows of {dm.pred_len} steps forecasting `{target}`, {test_dates[0]:%Y-%m-%d} → "
        f"{test_dates[1]:%Y-%m-%d}. MSE/MAE on the normalised scale (mean/std of the first 70 % rows), as "
        f"the papers' tables; MAE also in {units}.",
        "",
        f"| forecaster | MSE | MAE | MAE ({units}) |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {_fmt(s['mse'])} | {_fmt(s['mae'])} | {_fmt_units(s['mae_units'])} |"
        for name, s in scores.items()
    ]
    lines.append(
        f"\nPlotted window: MSE {_fmt(window['mse'])}, MAE {_fmt_units(window['mae_units'])} {units}."
    )
    if dataset != m.dataset:
        lines.append(f"\n*Zero-shot: these weights were trained on {m.dataset} only.*")
    lines += [f"\n*Note: {note}*" for note in notes]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ actions
def predict(
    source: str,
    upload: str | None,
    choice: str,
    target: str | None = None,
    position: float = 100.0,
    weights_dir: Path = WEIGHTS_DIR,
):
    """What the Forecast button runs: ``(figure or None, metrics markdown, model card markdown)``.

    Never raises: a bad choice or file gives ``(None, error box, card)`` (and a toast in the browser).
    """
    card = model_card(choice, weights_dir)
    try:
        m = _find_model(choice, weights_dir)
        dataset = _dataset_of(source)
        dm = prepare_data(m, source, upload, target or None)
        notes = read_upload(upload)[1] if dataset is None else []
        task = load_weights(str(m.path))
        scores = _scores(m, task, dm, dataset)
        window = _window(task, dm, position)
        units = UNITS.get(dataset or "", "data units")
        fig = make_figure(
            window, _future(task, dm), f"{m.label} ({m.features})", dm.target_columns[-1], units
        )
        return fig, _metrics_markdown(scores, window, m, dm, dataset, upload, notes), card
    except DemoError as err:
        message = str(err)
    except Exception as err:  # a bug, not the user's input: log it, show one line
        log.error("forecast failed:\n%s", traceback.format_exc())
        message = f"unexpected {type(err).__name__}: {clean_message(str(err), upload)}"
    toast(message)
    return None, error_box(message), card


def _univariate(m: ShippedModel, weights_dir: Path = WEIGHTS_DIR) -> ShippedModel:
    """``m`` if it is univariate, else its S twin (same model, features S), else ``m``."""
    if m.features == "S":
        return m
    return next((o for o in list_models(weights_dir) if o.model == m.model and o.features == "S"), m)


def on_upload(upload: str | None, choice: str | None = None, weights_dir: Path = WEIGHTS_DIR):
    """Upload handler: fill the target dropdown with the numeric columns, or show what is wrong with the file
    (checked with the univariate version of the chosen model, so only the file's own problems show here)."""
    import gradio as gr

    if not upload:
        return gr.update(choices=[], value=None), ""
    try:
        numeric, notes = read_upload(upload)
        models = list_models(weights_dir)
        m = _univariate(_find_model(choice, weights_dir) if choice else models[0], weights_dir)
        prepare_data(m, UPLOAD, upload, "OT" if "OT" in numeric else numeric[-1])
    except DemoError as err:
        toast(str(err))
        return gr.update(choices=[], value=None), error_box(str(err))
    default = "OT" if "OT" in numeric else numeric[-1]
    text = f"`{Path(upload).name}`: numeric columns {', '.join(f'`{c}`' for c in numeric)}."
    text += "".join(f"\n\n*Note: {n}*" for n in notes)
    return gr.update(choices=numeric, value=default), text


def on_source(source: str, choice: str, weights_dir: Path = WEIGHTS_DIR):
    """Show the upload row for uploads; on data other than vic_elec, switch an MS model to its S twin."""
    import gradio as gr

    value = choice
    try:
        m = _find_model(choice, weights_dir)
        if _dataset_of(source) != m.dataset:
            value = _univariate(m, weights_dir).choice
    except DemoError:
        pass
    return gr.update(visible=source == UPLOAD), gr.update(value=value)


def build_tab(weights_dir: Path = WEIGHTS_DIR) -> None:
    """Lay out the Forecast tab inside the current ``gr.Blocks`` / ``gr.Tab`` context."""
    import gradio as gr

    models = list_models(weights_dir)
    if not models:
        gr.Markdown(
            error_box(
                f"No shipped forecast weights in {weights_dir}. Run "
                "`spanmix weights build forecast --all` to make them."
            )
        )
        return
    default = next((m for m in models if m.model == "smamba" and m.features == "MS"), models[0]).choice
    gr.Markdown(
        "Forecast the next 24 hours from the last 96 with small models trained by our configs on the shipped "
        "**vic_elec** sample. *MS* weights read demand, temperature and the holiday flag; *S* weights read "
        "one column and also forecast an uploaded CSV (UTF-8, a date column, numeric columns, at least ~240 "
        "rows, "
        f"≤ {MAX_UPLOAD_MB} MB; hourly data suits them best)."
    )
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            source = gr.Radio(SOURCES, value=SOURCES[0], label="Data")
            with gr.Group(visible=False) as upload_group:
                upload = gr.File(
                    label="CSV file", file_types=[".csv"], type="filepath", elem_id="forecast-upload"
                )
                target = gr.Dropdown(choices=[], value=None, label="Target column", allow_custom_value=False)
                upload_info = gr.Markdown(elem_id="forecast-upload-info")
            choice = gr.Dropdown([m.choice for m in models], value=default, label="Model (shipped weights)")
            position = gr.Slider(
                0, 100, value=100, step=1, label="Backtest window: position in the test split (%)"
            )
            button = gr.Button("Forecast", variant="primary")
        with gr.Column(scale=2):
            plot = gr.Plot(label="Forecast", show_label=False, format="png", elem_id="forecast-plot")
            metrics = gr.Markdown(elem_id="forecast-metrics")
            card = gr.Markdown(model_card(default, weights_dir), elem_id="forecast-card")
    listen(source.change, lambda s, c: on_source(s, c, weights_dir), [source, choice], [upload_group, choice],
           api_name="forecast_source_changed", compute=False)
    listen(upload.change, lambda u, c: on_upload(u, c, weights_dir), [upload, choice], [target, upload_info],
           api_name="forecast_upload_changed", compute=False)
    listen(choice.change, lambda c: model_card(c, weights_dir), [choice], [card],
           api_name="forecast_model_card", compute=False)
    listen(
        button.click,
        partial(predict, weights_dir=weights_dir),  # not a lambda: the API page shows the parameters' names
        [source, upload, choice, target, position],
        [plot, metrics, card],
        api_name="forecast_predict",
    )
