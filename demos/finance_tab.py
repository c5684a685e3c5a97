"""The Finance tab of the demo hub (``python demos/hub.py``): TT2VFin next-day predictions against the truth.

Pick the data -- a shipped real snapshot (offline: ``wiki``, Quandl WIKI prices of AAPL, GOOG, IBM, MSFT
2000-2013; ``gafa``, Yahoo prices of AAPL, AMZN, FB, GOOG 2014-2018) or live prices from yfinance (needs the
internet; cached on disk after the first download) -- a target ticker and a universe of candidate tickers.
The page shows the return-correlation matrix of the training window and the tickers it selects, the model's
next-day prediction against the truth over the test period (closes and returns), and the test metrics next
to the random walk (zero return = yesterday's close).

The weights (``pretrained/finance/``, built by ``spanmix weights build finance`` on the ``wiki``
snapshot, target AAPL) read 30 days of 4 features per ticker: the ``k2`` weights need exactly two
correlated tickers, ``k0`` the target alone. On any other target or data they are applied zero-shot (the
features are standardised with the new data's training split), and the page says so. Offline, the live
mode fails into a message on the page.

Functions (the unit tests call them directly): :func:`list_models`, :func:`prepare_data`, :func:`evaluate`,
:func:`run` (what the button runs: never raises) and :func:`build_tab`.
"""
from __future__ import annotations

import logging
import traceback
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
from tab_common import LABEL_FONTSIZE, DemoError, demo_exports, legend, listen, load_weights
from tab_common import error_box as _error_box

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS_DIR = ROOT / "pretrained" / "finance"
LIVE = "Live prices (yfinance, needs the internet)"
MAX_UNIVERSE = 12
BATCH = 512

log = logging.getLogger(__name__)

__all__ = ["DemoError", "ShippedModel", "build_tab", "evaluate", "list_models", "prepare_data", "run"]


def error_box(message: str) -> str:
    """``message`` in the page's error box: "Cannot predict: ..."."""
    return _error_box(message, "predict")


def sources() -> dict[str, str]:
    """Radio label -> data-module source."""
    from spanmix.datasets.finance import SNAPSHOTS

    out = {f"Shipped snapshot {s.name}: {', '.join(s.tickers)} ({s.period})": f"snapshot:{s.name}"
           for s in SNAPSHOTS.values()}
    out[LIVE] = "yfinance"
    return out


@dataclass(frozen=True)
class ShippedModel:
    name: str
    path: Path
    label: str
    k: int
    features: tuple[str, ...]
    seq_len: int
    selected: tuple[str, ...]
    command: str
    test_metrics: dict[str, float]
    test_period: tuple[str, str]
    parameters: int

    @property
    def choice(self) -> str:
        return f"{self.label} (k={self.k})"


def list_models(weights_dir: Path = WEIGHTS_DIR) -> list[ShippedModel]:
    models = []
    for folder, metadata in demo_exports(weights_dir):
        demo = metadata["demo"]
        models.append(ShippedModel(
            folder.name, folder, demo["label"], demo["k"], tuple(demo["features"]),
            demo["seq_len"], tuple(demo["selected"]), demo["command"], demo["test_metrics"],
            tuple(demo["test_period"]), demo["parameters"]))
    return sorted(models, key=lambda m: -m.k)


def _find_model(choice: str, weights_dir: Path = WEIGHTS_DIR) -> ShippedModel:
    for m in list_models(weights_dir):
        if choice in (m.choice, m.name):
            return m
    raise DemoError(f"Unknown model {choice!r}; pick one of the shipped weights in {weights_dir}.")


def _tickers(text: str | None) -> list[str]:
    return [t.strip().upper() for t in (text or "").replace(";", ",").replace(" ", ",").split(",") if t.strip()]


def prepare_data(m: ShippedModel, source: str, target: str, universe: str | None = None,
                 start: str | None = None, end: str | None = None, cache_dir: str | None = None):
    """The finance data module for ``m``'s inputs (k correlated tickers, its features and window)."""
    from spanmix.apps.forecast.finance_data import FinanceDataModule
    from spanmix.datasets.finance import NetworkUnavailable

    src = sources().get(source, source)
    target = (target or "").strip().upper()
    if not target:
        raise DemoError("Enter a target ticker, e.g. AAPL.")
    names = [t for t in _tickers(universe) if t != target]
    if len(names) > MAX_UNIVERSE:
        raise DemoError(f"At most {MAX_UNIVERSE} universe tickers, got {len(names)}.")
    if m.k > len(names) and (src == "yfinance" or names):
        raise DemoError(f"{m.choice} reads {m.k} correlated tickers: give a universe of at least {m.k} other "
                        f"tickers (comma separated), or pick the single-stock (k=0) weights.")
    try:
        dm = FinanceDataModule(src, target=target, universe=names or None, k=m.k, features=list(m.features),
                               seq_len=m.seq_len, start=(start or None) if src == "yfinance" else None,
                               end=(end or None) if src == "yfinance" else None, cache_dir=cache_dir,
                               batch_size=BATCH, verbose=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dm.setup()
    except NetworkUnavailable as err:  # its text carries yfinance/curl internals and the cache path: log only
        log.info("live prices unavailable: %s", err)
        raise DemoError("Live data needs the internet, and this machine cannot reach Yahoo Finance (nothing is "
                        "cached for these tickers and dates). Pick a shipped snapshot above: real prices that work "
                        "offline.") from None
    except ValueError as err:  # FinanceDataError is a ValueError too
        raise DemoError(str(err)) from None
    return dm


@torch.no_grad()
def evaluate(task, dm) -> dict[str, Any]:
    """Next-day predictions over every test window, in data units, and the metrics beside the random walk."""
    from torchmetrics.functional import (
        mean_absolute_error,
        mean_absolute_percentage_error,
        mean_squared_error,
    )
    from torchmetrics.functional.classification import binary_accuracy

    r_hat, p_hat, p_true, last = [], [], [], []
    for batch in torch.utils.data.DataLoader(dm.datasets["test"], batch_size=BATCH, shuffle=False):
        pred = task(batch["x_enc"], batch["x_mark_enc"], batch["x_dec"], batch["x_mark_dec"])
        r, p = task.returns_and_prices(pred, batch["last_close"], dm.target_mean, dm.target_std)
        r_hat.append(r[:, 0])
        p_hat.append(p[:, 0])
        p_true.append(batch["close"][:, 0].double())
        last.append(batch["last_close"].double())
    r_hat, p_hat, p_true, last = (torch.cat(v) for v in (r_hat, p_hat, p_true, last))
    r_true = torch.log(p_true / last)
    up = (r_true > 0).long()

    def scores(r, p, direction):
        return {"mse": float(mean_squared_error(r, r_true)), "mae": float(mean_absolute_error(r, r_true)),
                "rmse": float(mean_squared_error(r, r_true, squared=False)),
                "diracc": float(binary_accuracy(direction, up)),
                "mape": float(mean_absolute_percentage_error(p, p_true))}

    a = dm.borders["test"][0] + dm.seq_len
    return {"dates": dm.dates[a:a + len(r_true)], "r_hat": r_hat.numpy(), "r_true": r_true.numpy(),
            "p_hat": p_hat.numpy(), "p_true": p_true.numpy(), "last": last.numpy(),
            "model": scores(r_hat, p_hat, (r_hat > 0).double()),
            "random walk": scores(torch.zeros_like(r_true), last, torch.ones_like(r_true))}


def make_figure(result: dict[str, Any], target: str, label: str):
    """Two panels over the test period: closes (truth, prediction) and daily log returns (truth, prediction)."""
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 6.4), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    d = result["dates"]
    top.plot(d, result["p_true"], color="black", lw=1.3, label="true close")
    top.plot(d, result["p_hat"], color="tab:red", lw=1.0, alpha=0.85, label=f"{label}: predicted close")
    top.set_ylabel(f"{target} adjusted close", fontsize=LABEL_FONTSIZE)
    top.set_title("Test period: next-day close, predicted from the previous 30 days "
                  "(the random walk's prediction is yesterday's close)", loc="left", fontsize=LABEL_FONTSIZE)
    bottom.plot(d, result["r_true"] * 100, color="0.45", lw=0.8, label="true log return")
    bottom.plot(d, result["r_hat"] * 100, color="tab:red", lw=1.2, label="predicted log return")
    bottom.axhline(0, color="black", lw=0.8, ls="--", label="random walk (zero return)")
    bottom.set_ylabel("daily log return (%)", fontsize=LABEL_FONTSIZE)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
        legend(ax, loc="upper left")
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    return fig


def _data_text(dm, m: ShippedModel, source: str) -> str:
    from spanmix.datasets.finance import SNAPSHOTS

    src = sources().get(source, source)
    if src.startswith("snapshot:"):
        spec = SNAPSHOTS[src.split(":", 1)[1]]
        what = (f"**Shipped snapshot `{spec.name}`** (offline, real data): {spec.description}; period "
                f"{spec.period}.")
    else:
        what = (f"**Live yfinance prices**, {dm.start} .. {dm.end} (cached in the parquet cache after the first "
                "download).")
    a, b = dm.dates[0], dm.dates[-1]
    train_end, test_start = dm.split_dates
    chosen = ", ".join(f"**{t}**" for t in dm.selected) or "none (single stock)"
    zero_shot = dm.target != "AAPL" or src != "snapshot:wiki" or tuple(dm.selected) != m.selected
    lines = [
        what,
        f"Common trading days of the target and the universe: {a:%Y-%m-%d} → {b:%Y-%m-%d} ({len(dm.dates):,}); "
        f"train before {train_end:%Y-%m-%d}, test from {test_start:%Y-%m-%d}.",
        f"Correlation-selected tickers for **{dm.target}** (training window only): {chosen}. Inputs "
        f"({dm.n_features}): {', '.join(f'`{c}`' for c in dm.columns)}.",
    ]
    if zero_shot:
        lines.append(f"*Zero-shot: these weights were trained on AAPL in the wiki snapshot (with "
                     f"{', '.join(m.selected) or 'no other ticker'}); here they read other series.*")
    return "\n\n".join(lines)


def _metrics_text(result: dict[str, Any], dm, m: ShippedModel) -> str:
    rows = ["| forecaster | MSE ×10⁴ | MAE ×10² | RMSE ×10² | directional acc. | MAPE % (close) |",
            "|---|---|---|---|---|---|"]
    for name, s in (("**" + m.choice + "**", result["model"]), ("random walk (zero return)", result["random walk"])):
        rows.append(f"| {name} | {s['mse'] * 1e4:.4f} | {s['mae'] * 1e2:.4f} | {s['rmse'] * 1e2:.4f} | "
                    f"{s['diracc']:.3f} | {s['mape'] * 1e2:.3f} |")
    gain = 1 - result["model"]["mse"] / result["random walk"]["mse"]
    if gain >= 0.01:
        verdict = f"The model's return MSE is {gain:.1%} below the random walk's."
    elif gain > 0:
        verdict = (f"**The model does not beat the random walk meaningfully** (return MSE only {gain:.2%} lower) — "
                   "the usual truth for daily returns.")
    else:
        verdict = (f"**The model does not beat the random walk** (return MSE {-gain:.2%} higher) — the usual truth "
                   "for daily returns.")
    return (f"### Test metrics — {dm.target}, {len(result['dates']):,} test days\n" + "\n".join(rows) +
            f"\n\n{verdict} The random walk has no direction: its accuracy is the always-up forecast's (the share of "
            "up days).")


def model_card(choice: str, weights_dir: Path = WEIGHTS_DIR) -> str:
    try:
        m = _find_model(choice, weights_dir)
    except DemoError as err:
        return error_box(str(err))
    t = m.test_metrics
    return (f"#### Model card: {m.choice}\n`pretrained/finance/{m.name}`, {m.parameters:,} parameters; "
            f"{m.seq_len} days of {', '.join(m.features)} per ticker in, next-day log return out. Trained on the "
            f"wiki snapshot, target AAPL (correlated: {', '.join(m.selected) or 'none'}):\n```\n{m.command}\n```\n"
            f"Recorded test ({m.test_period[0]}..{m.test_period[1]}): MSE ×10⁴ {t['mse'] * 1e4:.4f} "
            f"(random walk {t['rw_mse'] * 1e4:.4f}), directional accuracy {t['diracc']:.3f}, MAPE "
            f"{t['mape'] * 1e2:.3f} %. Regenerate with `spanmix weights build finance {m.name}`.")


def run(source: str, target: str, universe: str, choice: str, start: str | None = None, end: str | None = None,
        weights_dir: Path = WEIGHTS_DIR, cache_dir: str | None = None):
    """What the Predict button runs: ``(correlation figure, prediction figure, data md, metrics md)``.

    Never raises: a bad choice or unavailable data gives ``(None, None, error box, "")``.
    """
    try:
        m = _find_model(choice, weights_dir)
        dm = prepare_data(m, source, target, universe, start, end, cache_dir)
        result = evaluate(load_weights(str(m.path)), dm)
        from spanmix.apps.forecast.finance_select import plot_correlation

        return (plot_correlation(dm.correlation, dm.target, dm.selected), make_figure(result, dm.target, m.choice),
                _data_text(dm, m, source), _metrics_text(result, dm, m))
    except DemoError as err:
        message = str(err)
    except Exception as err:  # a bug, not the user's input: log it, show one line
        log.error("finance prediction failed:\n%s", traceback.format_exc())
        message = f"unexpected {type(err).__name__}: {err}"
    return None, None, error_box(message), ""


def on_source(source: str):
    """Show the date fields for live data; fill the universe with the snapshot's other tickers."""
    import gradio as gr
    from spanmix.datasets.finance import SNAPSHOTS

    src = sources().get(source, source)
    if src == "yfinance":
        return gr.update(visible=True), gr.update(value="MSFT, GOOGL, IBM, ORCL, INTC"), gr.update(value="AAPL")
    spec = SNAPSHOTS[src.split(":", 1)[1]]
    return (gr.update(visible=False), gr.update(value=", ".join(t for t in spec.tickers if t != "AAPL")),
            gr.update(value="AAPL"))


def build_tab(weights_dir: Path = WEIGHTS_DIR) -> None:
    """Lay out the Finance tab inside the current ``gr.Blocks`` / ``gr.Tab`` context."""
    import gradio as gr

    models = list_models(weights_dir)
    if not models:
        gr.Markdown(error_box(f"No shipped finance weights in {weights_dir}. Run "
                              "`spanmix weights build finance --all` to make them."))
        return
    labels = list(sources())
    gr.Markdown(
        "Predict a stock's **next-day log return** with TT2VFin (multi-feature Time2Vec + Transformer encoder, "
        "Bui et al. 2025) from 30 days of returns, range, open-to-close return and log volume of the target and "
        "its most return-correlated tickers. The default data is a **shipped real snapshot** (works offline); "
        "live prices come from yfinance when this machine is online.")
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            source = gr.Radio(labels, value=labels[0], label="Data")
            target = gr.Textbox("AAPL", label="Target ticker", elem_id="finance-target")
            universe = gr.Textbox("GOOG, IBM, MSFT", label="Universe (candidate tickers, comma separated)",
                                  elem_id="finance-universe")
            with gr.Group(visible=False) as dates:
                start = gr.Textbox("2015-01-01", label="Start date (live data)")
                end = gr.Textbox("2024-01-01", label="End date (live data, exclusive)")
            choice = gr.Dropdown([m.choice for m in models], value=models[0].choice, label="Model (shipped weights)")
            button = gr.Button("Predict", variant="primary")
        with gr.Column(scale=2):
            data_md = gr.Markdown(elem_id="finance-data")
            metrics = gr.Markdown(elem_id="finance-metrics")
            plot = gr.Plot(label="Prediction", show_label=False, format="png", elem_id="finance-plot")
            corr = gr.Plot(label="Correlation", show_label=False, format="png", elem_id="finance-corr")
            card = gr.Markdown(model_card(models[0].choice, weights_dir), elem_id="finance-card")
    listen(source.change, on_source, [source], [dates, universe, target], api_name="finance_source_changed",
           compute=False)
    listen(choice.change, lambda c: model_card(c, weights_dir), [choice], [card], api_name="finance_model_card",
           compute=False)
    listen(button.click, partial(run, weights_dir=weights_dir),
           [source, target, universe, choice, start, end], [corr, plot, data_md, metrics], api_name="finance_predict")
