"""Correlation feature selection of the finance system (Bui et al. 2025, "correlation feature selection").

Given a target ticker and a universe (a sector list, or any tickers), keep the ``k`` tickers whose daily log
returns correlate most with the target's, measured **on the training window only** (dates before the
training split's end; no look-ahead), and use their features as extra inputs.

    from spanmix.apps.forecast.finance_select import correlation_matrix, select_correlated, plot_correlation

    returns = log_returns(tidy_frame)                          # (dates, tickers) wide frame
    corr = correlation_matrix(returns, until=train_end)        # pairwise-complete, dates < train_end
    chosen = select_correlated(corr, "AAPL", k=2)              # ['MSFT', 'IBM'], strongest first
    fig = plot_correlation(corr, "AAPL", chosen)

The paper ranks by the (Pearson) correlation of prices within a sector; returns are used here because
price levels of any two trending stocks correlate spuriously (``method: "spearman"`` ranks instead).
Ranking is by the correlation value (not its absolute value), ties broken by ticker name.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["correlation_matrix", "format_correlation", "log_returns", "plot_correlation", "select_correlated"]

METHODS = ("pearson", "spearman")
MIN_OVERLAP = 30


def log_returns(frame: pd.DataFrame) -> pd.DataFrame:
    """Daily log returns of ``adj_close``, one column per ticker, indexed by date (NaN where a ticker is absent)."""
    prices = frame.pivot(index="date", columns="ticker", values="adj_close").sort_index()
    out = np.log(prices).diff()
    # the first row of each ticker has no return; a return across a missing day spans that gap (kept)
    return out.iloc[1:] if len(out) else out


def correlation_matrix(returns: pd.DataFrame, until: pd.Timestamp | None = None,
                       method: str = "pearson") -> pd.DataFrame:
    """Pairwise-complete correlation of the return columns over dates ``< until`` (all dates if None)."""
    if method not in METHODS:
        raise ValueError(f"correlation method must be one of {METHODS}, got {method!r}")
    window = returns if until is None else returns[returns.index < pd.Timestamp(until)]
    return window.corr(method=method, min_periods=MIN_OVERLAP)


def select_correlated(corr: pd.DataFrame, target: str, k: int, universe: list[str] | None = None) -> list[str]:
    """The ``k`` tickers of ``universe`` (default: every other column) most correlated with ``target``.

    Raises:
        ValueError: ``target`` not in the matrix, ``k`` negative or larger than the candidates with a
            defined correlation (fewer than ``MIN_OVERLAP`` common training days gives none).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"k (correlated tickers to add) must be an integer >= 0, got {k!r}")
    if target not in corr.columns:
        raise ValueError(f"target {target!r} is not among the tickers {list(corr.columns)}")
    candidates = [t for t in (universe if universe is not None else corr.columns) if t != target]
    unknown = [t for t in candidates if t not in corr.columns]
    if unknown:
        raise ValueError(f"universe tickers {unknown} have no data; available: {list(corr.columns)}")
    scores = corr.loc[candidates, target].dropna()
    if k > len(scores):
        raise ValueError(f"k={k} but only {len(scores)} universe ticker(s) {list(scores.index)} have at least "
                         f"{MIN_OVERLAP} training days in common with {target}; use k <= {len(scores)}")
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return [t for t, _ in ranked[:k]]


def format_correlation(corr: pd.DataFrame, target: str, selected: list[str]) -> str:
    """The matrix as text, with the selected tickers marked (what the CLI prints)."""
    lines = [f"correlation of daily log returns on the training window (target {target}; * = selected):",
             corr.round(3).to_string()]
    ranked = corr[target].drop(target).sort_values(ascending=False)
    lines.append("ranking: " + ", ".join(f"{t}{'*' if t in selected else ''} {v:.3f}" for t, v in ranked.items()))
    return "\n".join(lines)


def plot_correlation(corr: pd.DataFrame, target: str, selected: list[str]):
    """A matplotlib ``Figure``: the correlation heat map, selected tickers in bold, the target in red."""
    from matplotlib.figure import Figure

    n = len(corr)
    fig = Figure(figsize=(1.2 + 0.75 * n, 0.9 + 0.65 * n), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(corr.to_numpy(dtype=float), vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(n), corr.columns, rotation=45, ha="right")
    ax.set_yticks(range(n), corr.index)
    for i in range(n):
        for j in range(n):
            value = corr.iat[i, j]
            ax.text(j, i, "–" if pd.isna(value) else f"{value:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if abs(value if not pd.isna(value) else 0) > 0.6 else "black")
    for label in [*ax.get_xticklabels(), *ax.get_yticklabels()]:
        if label.get_text() == target:
            label.set_color("tab:red")
        if label.get_text() in selected:
            label.set_fontweight("bold")
    ax.set_title(f"Return correlation (training window); target {target}", fontsize=10)
    fig.colorbar(image, ax=ax, shrink=0.8, label="correlation of daily log returns")
    return fig
