"""Finance ablation table: TT2VFin (Time2Vec) vs. positional encoding vs. single-stock input, with the baselines.

    python benchmarks/finance.py                         # AAPL on the shipped wiki snapshot, 3 seeds (~5 min)
    python benchmarks/finance.py --targets AAPL MSFT --seeds 0 1 2

For each target and seed, every config below is trained with ``spanmix finance fit`` (its own settings:
15 epochs at most, early stopping on val/loss, best checkpoint) and scored on the test split with
``trainer.test(ckpt_path="best")``; the random walk (zero return = yesterday's price) is scored by the same
task on the same test windows. Writes ``benchmarks/results/finance.md``: mean ± std over the seeds.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "finance.md"
CONFIGS = {
    "TT2VFin: multi-feature Time2Vec + Transformer, k=2 correlated tickers": "finance_t2v.yaml",
    "Transformer + sinusoidal positional encoding, k=2": "finance_pe.yaml",
    "TT2VFin, single stock (k=0)": "finance_single.yaml",
    "LSTM (64), k=2": "finance_lstm.yaml",
}
METRICS = ("mse", "mae", "rmse", "diracc", "mape")


def run(config: str, target: str, seed: int, root: str) -> tuple[dict[str, float], int, int, list[str], float]:
    """Fit one config and test its best checkpoint; returns (test metrics, parameters, epochs, selected, seconds)."""
    started = time.time()
    from spanmix.apps.forecast.finance_cli import main
    from spanmix.apps.forecast.models import count_parameters

    name = f"{Path(config).stem}_{target}_{seed}"
    args = ["fit", "--config", str(ROOT / "apps/forecast/configs" / config), "--seed_everything", str(seed),
            "--data.target", target, "--data.verbose", "false", "--experiment", name,
            "--trainer.default_root_dir", os.path.join(root, name), "--trainer.enable_progress_bar", "false",
            "--trainer.enable_model_summary", "false"]
    cli = main(args)
    result = cli.trainer.test(cli.model, datamodule=cli.datamodule, ckpt_path="best", verbose=False)[0]
    metrics = {k.split("/", 1)[1]: float(v) for k, v in result.items()}
    return (metrics, count_parameters(cli.model.net), cli.trainer.current_epoch, cli.datamodule.selected,
            time.time() - started)


def _cell(values: list[float], scale: float = 1.0, digits: int = 3) -> str:
    values = [v * scale for v in values]
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {sd:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", nargs="+", default=["AAPL"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--resume", default=str(ROOT / "runs" / "finance" / "benchmark_runs.json"),
                        help="JSON file of finished runs, reused on a rerun (delete it to start afresh)")
    ns = parser.parse_args(argv)
    done = json.loads(Path(ns.resume).read_text()) if Path(ns.resume).is_file() else {}
    import torch

    total = 0.0
    sections = []
    with tempfile.TemporaryDirectory() as root:
        for target in ns.targets:
            rows, rw, selected = {}, None, {}
            for label, config in CONFIGS.items():
                runs = []
                for seed in ns.seeds:
                    key = f"{config}|{target}|{seed}"
                    if key not in done:
                        done[key] = run(config, target, seed, root)
                        Path(ns.resume).parent.mkdir(parents=True, exist_ok=True)
                        Path(ns.resume).write_text(json.dumps(done, indent=1))
                    metrics, params, _, chosen, seconds = done[key]
                    total += seconds
                    runs.append(metrics)
                    print(f"{target} {config} seed {seed}: {metrics}", flush=True)
                rows[label] = (runs, params)
                selected[label] = chosen
                rw = rw or runs[0]
            sections.append(_table(target, rows, rw, selected))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    header = (
        "# Finance: Time2Vec vs. positional encoding vs. single stock (shipped `wiki` snapshot)\n\n"
        "`python benchmarks/finance.py` — next-day log return of the target from 30 trading days of OHLCV-derived "
        "features (ret, range, oc, logvol) of the target and its k=2 most return-correlated tickers (chosen on the "
        "training window only), common trading days of AAPL, GOOG, IBM, MSFT 2004-08-20..2013-03-01, chronological "
        "70/10/20 split, scaler on train. Each config is its YAML unchanged (at most 15 epochs, early stopping on "
        f"val/loss, best checkpoint), seeds {ns.seeds}: mean ± std. MSE/MAE/RMSE on daily log returns "
        "(MSE ×10⁴, MAE/RMSE ×10²), directional accuracy, MAPE (%) of the implied next-day close. "
        "The random walk predicts a zero return (tomorrow's close = today's); it has no direction, so its "
        "accuracy column is the always-up forecast's (the share of up days).\n\n"
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU threads, torch {torch.__version__}, shared with "
        f"other jobs (load average {load:.1f} at the end; runs are 2-10x slower than alone); "
        f"{total:.0f} s of fit+test in all.\n"
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(header + "\n" + "\n".join(sections), encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


def _table(target: str, rows: dict, rw: dict[str, float], selected: dict) -> str:
    lines = [f"## Target {target}\n",
             "| model | params | MSE ×10⁴ | MAE ×10² | RMSE ×10² | dir. acc. | MAPE % | beats random walk (MSE)? |",
             "|---|---|---|---|---|---|---|---|"]
    rw_mse = rw["rw_mse"]
    for label, (runs, params) in rows.items():
        mse = [r["mse"] for r in runs]
        wins = sum(m < rw_mse for m in mse)
        lines.append(
            f"| {label} | {params:,} | {_cell(mse, 1e4, 4)} | {_cell([r['mae'] for r in runs], 1e2)} | "
            f"{_cell([r['rmse'] for r in runs], 1e2)} | {_cell([r['diracc'] for r in runs])} | "
            f"{_cell([r['mape'] for r in runs], 1e2)} | {wins}/{len(runs)} seeds |")
    lines.append(f"| random walk (zero return) | 0 | {rw_mse * 1e4:.4f} | {rw['rw_mae'] * 1e2:.3f} | "
                 f"{rw['rw_rmse'] * 1e2:.3f} | {rw['rw_diracc']:.3f} (always up) | {rw['rw_mape'] * 1e2:.3f} | — |")
    chosen = selected[next(iter(selected))]
    lines.append(f"\nCorrelation-selected tickers for {target}: {', '.join(chosen) or 'none'}.")
    best = min(rows, key=lambda k: statistics.mean(r["mse"] for r in rows[k][0]))
    best_mse = statistics.mean(r["mse"] for r in rows[best][0])
    gain = 1 - best_mse / rw_mse
    if gain <= 0:
        verdict = "**No model beats the random walk** on mean test MSE"
    elif gain < 0.01:
        verdict = (f"**No model beats the random walk meaningfully**: the best mean test MSE ({best}) is only "
                   f"{gain:.2%} below the random walk's")
    else:
        verdict = f"Best mean test MSE: {best}, {gain:.1%} below the random walk's"
    lines.append(f"{verdict} — the usual truth for daily returns. Directional accuracies near 0.5 say the same.\n")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
