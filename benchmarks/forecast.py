"""Forecast accuracy and training cost of every forecaster on the shipped vic_elec sample, one budget.

    python benchmarks/forecast.py                              # H in {24, 96}, 2 whole epochs
    python benchmarks/forecast.py --epochs 2 --max-steps 400   # 400 optimiser steps, 200 per epoch
    python benchmarks/forecast.py --models naive smamba --horizons 24
    python benchmarks/forecast.py --quick                      # smoke run: H=24, 1 epoch of 20 steps
    python benchmarks/forecast.py --protocol tslib --itr 3     # the standard sweep: H in {96, 192, 336, 720}
                                                               # x 3 seeds, mean ± std (forecast_tslib.md)
    python benchmarks/forecast.py --protocol tslib --dataset ETTh1 --models informer smamba  # paper configs
    python benchmarks/forecast.py --tslib ~/Time-Series-Library   # training step vs TSLib's, side by side
                                                                  # (forecast_tslib_speed.md; _tslib_speed.py)

Each (model, horizon) runs in a fresh subprocess through the real command line
(``spanmix forecast fit`` then ``spanmix forecast test --ckpt_path best``, in-process in that subprocess)
with the model's own ``apps/forecast/configs/<config>_vic_elec.yaml`` (features MS, seq_len 96; its sizes,
learning rate and schedule), overriding only the horizon, the budget (the same epochs, optimiser steps
per epoch and batch size for every trained model; no early stopping) and the run directory (a temp dir).
The naive baselines have nothing to train and run ``test`` only.

Test MSE / MAE are TSLib's: normalised scale, every test window, the checkpoint with the best validation
loss (validated over every validation window after each epoch); read from the test run's CSV log, with
the same errors in data units (``test/mse_original``, ``test/mae_original``) beside them.

``--protocol tslib`` is the official scripts' sweep: horizons 96/192/336/720 (unless ``--horizons``),
``--itr`` repeated runs with seeds 0..itr-1 (their ``--itr``), the data module's ``protocol: tslib`` (4
hourly time features), and a table of mean ± std over the runs (``results/forecast_tslib.md``). With
``--dataset ETTh1`` each model's ``<model>_ett_h1.yaml`` (paper sizes) is used where it exists; other
datasets run the ``_vic_elec`` configs with ``--data.dataset`` replaced. Unlike Informer2020, whose test
loader drops the last incomplete batch, every test window is scored (as current TSLib).
Seconds per epoch is the measured training wall time (epoch time minus the validation inside it) / epochs,
beside the median step time x steps per epoch, which bursts of load from other jobs barely move.
Writes ``benchmarks/results/forecast.md`` (or ``--out``). The default run takes about 8 min on 2 idle
CPU cores (most of it Informer), several times that when other jobs share the cores; ``--quick`` 1-4 min.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback

sys.path.insert(0, str(Path(__file__).parent))
from _measure import markdown_table

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "apps" / "forecast" / "configs"
BATCH_SIZE = 32
SEQ_LEN = 96
#: model key -> (label, config stem, extra CLI overrides)
MODELS = {
    "naive": ("naive (last value)", "naive", ["--model.model_options.season", "1"]),
    "snaive": ("seasonal naive (24)", "naive", ["--model.model_options.season", "24"]),
    "linear": ("DLinear", "linear", []),
    "informer": ("Informer (ProbSparse)", "informer", []),
    "gateformer": ("Gateformer", "gateformer", []),
    "smamba": ("S-Mamba", "smamba", []),
    "itransformer": ("S-Mamba, mixer: full (iTransformer)", "itransformer", []),
}
UNTRAINED = ("naive", "snaive")
DEFAULT_OUT = Path(__file__).parent / "results" / "forecast.md"


class TrainTimer(Callback):
    """Training wall time of each epoch (epoch start to end, minus the validation run inside it) and of
    each step (from the previous step's end, so data loading counts; validation never falls inside one)."""

    def __init__(self):
        self.epoch_seconds: list[float] = []
        self.step_seconds: list[float] = []
        self._epoch_start = self._val_start = self._step_start = 0.0
        self._val_seconds = 0.0

    def on_train_epoch_start(self, trainer, pl_module):
        self._epoch_start, self._val_seconds = time.perf_counter(), 0.0
        self._step_start = self._epoch_start

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        now = time.perf_counter()
        self.step_seconds.append(now - self._step_start)
        self._step_start = now

    def on_validation_start(self, trainer, pl_module):
        self._val_start = time.perf_counter()

    def on_validation_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self._val_seconds += time.perf_counter() - self._val_start

    def on_train_epoch_end(self, trainer, pl_module):
        self.epoch_seconds.append(time.perf_counter() - self._epoch_start - self._val_seconds)


# ----------------------------------------------------------------------------- worker (--one)
def _test_metrics(cli) -> dict:
    """test/mse and test/mae from the test run's CSV log (cross-checked with the trainer's metrics)."""
    logger = next(lg for lg in cli.trainer.loggers if type(lg).__name__ == "CSVLogger")
    logger.save()
    with open(os.path.join(logger.log_dir, "metrics.csv"), newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("test/mse")]
    if len(rows) != 1:
        raise RuntimeError(f"expected one row of test metrics in {logger.log_dir}/metrics.csv, got {len(rows)}")
    out = {k: float(rows[0][f"test/{k}"]) for k in ("mse", "mae", "mse_original", "mae_original")
           if rows[0].get(f"test/{k}")}
    live = {k: float(cli.trainer.callback_metrics[f"test/{k}"]) for k in out}
    if any(abs(out[k] - live[k]) > 1e-6 * max(1.0, abs(live[k])) for k in out):
        raise RuntimeError(f"CSV log {out} and trainer metrics {live} disagree")
    return out


def run_one(model: str, horizon: int, epochs: int, steps_per_epoch: int | None, seed: int = 0,
            protocol: str | None = None, dataset: str = "vic_elec") -> dict:
    """``spanmix forecast fit`` (trained models) then ``test``, in this process; the run dir is temporary."""
    with tempfile.TemporaryDirectory(prefix=f"forecast-bench-{model}-{horizon}-") as root:
        return _fit_and_test(model, horizon, epochs, steps_per_epoch, root, seed, protocol, dataset)


def config_args(model: str, dataset: str, protocol: str | None) -> list[str]:
    """The config (and data overrides) a (model, dataset) runs with: the paper-size ``_ett_h1`` config for
    ETTh1 where one exists, else the ``_vic_elec`` one with the dataset swapped in."""
    _, stem, extra = MODELS[model]
    paper = CONFIGS / f"{stem}_ett_h1.yaml"
    if dataset == "ETTh1" and paper.is_file():
        args = ["--config", str(paper)]
    else:
        args = ["--config", str(CONFIGS / f"{stem}_vic_elec.yaml")]
        if dataset != "vic_elec":
            args += ["--data.dataset", dataset, "--data.download", "true"]
    if protocol:
        args += ["--data.protocol", protocol]
    return args + list(extra)


def _fit_and_test(model: str, horizon: int, epochs: int, steps_per_epoch: int | None, root: str, seed: int = 0,
                  protocol: str | None = None, dataset: str = "vic_elec") -> dict:
    from spanmix.apps.forecast.cli import main as forecast
    from spanmix.apps.forecast.models import count_parameters

    common = [*config_args(model, dataset, protocol),
              "--data.seq_len", str(SEQ_LEN), "--data.pred_len", str(horizon),
              "--data.batch_size", str(BATCH_SIZE), "--trainer.default_root_dir", root,
              "--seed_everything", str(seed),
              "--trainer.deterministic", "false", "--trainer.enable_progress_bar", "false",
              "--trainer.enable_model_summary", "false"]
    result: dict = {"model": model, "horizon": horizon, "seed": seed}
    if model in UNTRAINED:
        start = time.perf_counter()
        cli = forecast(["test", *common])
        result.update(params=count_parameters(cli.model.net), epochs=0, steps=0, best_epoch=None,
                      sec_per_epoch=None, median_sec_per_epoch=None, test_seconds=time.perf_counter() - start)
    else:
        budget = ["--trainer.max_epochs", str(epochs), "--trainer.num_sanity_val_steps", "0",
                  # Only the timer (importable as `forecast`: this file's folder is sys.path[0] in the
                  # worker): no early stopping, so every model gets exactly the same budget.
                  "--trainer.callbacks", json.dumps([{"class_path": "forecast.TrainTimer"}])]
        if steps_per_epoch is not None:
            budget += ["--trainer.limit_train_batches", str(steps_per_epoch)]
        cli = forecast(["fit", *common, *budget])
        timer = next(c for c in cli.trainer.callbacks if type(c).__name__ == "TrainTimer")
        best = cli.trainer.checkpoint_callback.best_model_path
        match = re.search(r"epoch=(\d+)", os.path.basename(best))
        result.update(params=count_parameters(cli.model.net), epochs=cli.trainer.current_epoch,
                      steps=cli.trainer.global_step, best_epoch=int(match.group(1)) + 1 if match else None,
                      sec_per_epoch=sum(timer.epoch_seconds) / max(len(timer.epoch_seconds), 1),
                      median_sec_per_epoch=statistics.median(timer.step_seconds) * len(timer.step_seconds)
                      / max(len(timer.epoch_seconds), 1))
        start = time.perf_counter()
        cli = forecast(["test", *common, "--ckpt_path", "best"])
        result["test_seconds"] = time.perf_counter() - start
    result.update(_test_metrics(cli))
    return result


# ----------------------------------------------------------------------------- driver
def run_in_subprocess(model: str, horizon: int, epochs: int, steps_per_epoch: int | None,
                      log_dir: Path, timeout: float, seed: int = 0, protocol: str | None = None,
                      dataset: str = "vic_elec") -> dict:
    """One (model, horizon, seed) in a fresh interpreter; its output goes to ``log_dir``, its JSON comes back."""
    job = {"model": model, "horizon": horizon, "epochs": epochs, "steps_per_epoch": steps_per_epoch,
           "seed": seed, "protocol": protocol, "dataset": dataset}
    cmd = [sys.executable, __file__, "--one", json.dumps(job)]
    log = log_dir / f"{model}-H{horizon}-seed{seed}.log"
    start = time.perf_counter()
    try:
        with open(log, "w") as f:
            done = subprocess.run(cmd, check=False, stdout=subprocess.PIPE, stderr=f, text=True,
                                  timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"model": model, "horizon": horizon, "error": f"timed out after {timeout:.0f} s (log: {log})"}
    wall = time.perf_counter() - start
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines or not lines[-1].startswith("{"):
        errors = [ln for ln in log.read_text().splitlines() if "Error" in ln] or ["?"]
        return {"model": model, "horizon": horizon, "error": f"{errors[-1][:160]} (log: {log})"}
    return {**json.loads(lines[-1]), "wall_seconds": wall}


#: A run whose measured epoch time exceeds its median-step estimate by this factor (and by more than a
#: second: the first steps' warm-up alone shows in tiny budgets) was slowed by other jobs.
SLOWED = 1.5


def _fmt(value, spec: str, empty: str = "—") -> str:
    return empty if value is None else format(value, spec)


def _slowed(r: dict) -> bool:
    measured, median = r.get("sec_per_epoch"), r.get("median_sec_per_epoch")
    return measured is not None and measured > max(SLOWED * median, median + 1.0)


def _units(r: dict) -> str:
    if "mse_original" not in r:
        return "—"
    return f"{r['mse_original']:.4g} / {r['mae_original']:.4g}"


def _mean_std(values: list[float], spec: str = ".4f") -> str:
    if len(values) < 2:
        return format(values[0], spec) if values else "—"
    return f"{format(statistics.mean(values), spec)} ± {format(statistics.stdev(values), spec)}"


def sweep_table(results: list[dict]) -> str:
    """One row per (horizon, model): mean ± std over the seeds of every metric, and the runs that failed."""
    cells: dict[tuple[int, str], list[dict]] = {}
    for r in results:
        cells.setdefault((r["horizon"], r["model"]), []).append(r)
    rows = []
    for (horizon, model), runs in sorted(cells.items(), key=lambda kv: (kv[0][0], statistics.mean(
            [r["mse"] for r in kv[1] if "mse" in r] or [float("inf")]))):
        ok = [r for r in runs if "error" not in r]
        metrics = [_mean_std([r[k] for r in ok if k in r], spec)
                   for k, spec in (("mse", ".4f"), ("mae", ".4f"), ("mse_original", ".4g"), ("mae_original", ".4g"))]
        failed = "; ".join(r["error"] for r in runs if "error" in r)
        params = f"{ok[0]['params']:,}" if ok else "—"
        rows.append([horizon, MODELS[model][0], *metrics, len(ok), params, failed or ""])
    return markdown_table(["H", "model", "test MSE", "test MAE", "MSE (data units)", "MAE (data units)", "runs",
                           "params", "failed runs"], rows)


def table(results: list[dict]) -> str:
    def key(r):
        return (r["horizon"], r.get("mse", float("inf")))

    rows = []
    for r in sorted(results, key=key):
        label = MODELS[r["model"]][0]
        if "error" in r:
            rows.append([r["horizon"], label, "error", r["error"], "", "", "", "", "", "", ""])
            continue
        rows.append([r["horizon"], label, f"**{r['mse']:.4f}**" if r is min(
            (x for x in results if x["horizon"] == r["horizon"] and "mse" in x), key=key) else f"{r['mse']:.4f}",
            f"{r['mae']:.4f}", _units(r), f"{r['params']:,}", r["steps"], _fmt(r["best_epoch"], "d"),
            _fmt(r["sec_per_epoch"], ".1f") + (" †" if _slowed(r) else ""),
            _fmt(r["median_sec_per_epoch"], ".1f"), f"{r['test_seconds']:.1f}"])
    return markdown_table(["H", "model", "test MSE", "test MAE", "MSE / MAE (data units)", "params",
                           "optimiser steps",
                           "best epoch (val)", "s / epoch (train)", "s / epoch (median step)", "test s"],
                          rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--horizons", type=int, nargs="+", default=[24, 96])
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--epochs", type=int, default=2, help="training epochs of every trained model")
    parser.add_argument("--max-steps", type=int, default=0,
                        help="optimiser steps in all, split evenly over the epochs (each epoch a random "
                             "subset of the shuffled training windows); 0: whole epochs")
    parser.add_argument("--quick", action="store_true", help="smoke run: H=24, 1 epoch of 20 steps")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--protocol", choices=["tslib"], default=None,
                        help="the official sweep: H in {96, 192, 336, 720}, --itr seeds, mean ± std")
    parser.add_argument("--itr", type=int, default=None, help="repeated runs (seeds 0..itr-1); tslib: 3")
    parser.add_argument("--dataset", default="vic_elec", help="vic_elec (shipped) or a standard set (ETTh1, ...)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--tslib", metavar="PATH", nargs="?", const="", default=None,
                        help="a Time-Series-Library checkout: time our training step against TSLib's, interleaved "
                             "(benchmarks/_tslib_speed.py), and write results/forecast_tslib_speed.md")
    parser.add_argument("--tslib-steps", type=int, nargs=2, metavar=("ITRANSFORMER", "INFORMER"),
                        default=[200, 40], help="--tslib: training steps per run (the first 5 are warm-up)")
    parser.add_argument("--tslib-variants", nargs="+", default=None,
                        help="--tslib: variants of ours to run (default: all of _tslib_speed.VARIANTS)")
    args = parser.parse_args()
    if not args.tslib and not args.one:
        print("TSLib speed section skipped: no path to a Time-Series-Library checkout was given "
              "(git clone https://github.com/thuml/Time-Series-Library, then --tslib PATH)", flush=True)
        if args.tslib is not None:
            return
    if args.tslib:
        from _tslib_speed import run_all

        run_all(args.tslib, [m for m in args.models if m in ("itransformer", "informer")] or
                ["itransformer", "informer"], dict(zip(("itransformer", "informer"), args.tslib_steps)),
                args.tslib_variants)
        return

    if args.one:
        job = json.loads(args.one)
        print(json.dumps(run_one(job["model"], job["horizon"], job["epochs"], job["steps_per_epoch"],
                                 job["seed"], job["protocol"], job["dataset"])), flush=True)
        return
    if args.protocol == "tslib":
        if "--horizons" not in sys.argv:
            args.horizons = [96, 192, 336, 720]
        if args.out == DEFAULT_OUT:
            args.out = DEFAULT_OUT.with_name("forecast_tslib.md")
    itr = args.itr if args.itr is not None else (3 if args.protocol else 1)
    if itr < 1:
        parser.error("--itr must be >= 1")

    if args.quick:
        args.horizons, args.epochs, args.max_steps = args.horizons[:1], 1, 20
    if args.epochs < 1 or args.max_steps < 0 or (args.max_steps and args.max_steps % args.epochs):
        parser.error("--epochs must be >= 1 and --max-steps a multiple of --epochs (or 0 for whole epochs)")
    steps_per_epoch = args.max_steps // args.epochs if args.max_steps else None

    load = os.getloadavg()
    env = (f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs "
           f"({platform.processor() or platform.machine()}), Python {platform.python_version()}")
    budget = (f"{args.epochs} epoch(s) x {steps_per_epoch} optimiser steps" if steps_per_epoch
              else f"{args.epochs} whole epoch(s)") + f", batch {BATCH_SIZE}"
    command = "python benchmarks/forecast.py " + " ".join(a for a in sys.argv[1:] if a)
    print(f"Forecast benchmark: {budget}; {env}; load average {load[0]:.2f}", flush=True)

    log_dir = Path(tempfile.mkdtemp(prefix="forecast-bench-logs-"))
    print(f"worker logs: {log_dir}", flush=True)
    results, start = [], time.perf_counter()
    def report(results: list[dict], planned: int | None = None) -> None:
        """Write the table of ``results``; ``planned``: a partial write after each run (so an interrupted
        benchmark keeps what it measured), saying how many of the planned runs it holds."""
        total = time.perf_counter() - start
        end_load = os.getloadavg()
        partial = (f"\n\n**Partial: {len(results)} of {planned} planned runs** (written after each run; the "
                   "benchmark was stopped or is still running)." if planned and len(results) < planned else "")
        noisy = (f"\n\n**Timings are noisy:** the machine is shared with other jobs; the 1-minute load average "
                 f"was {load[0]:.2f} at the start (above 2 means other work competed for the "
                 f"{os.cpu_count()} cores)." if load[0] > 2 else "")
        slowed = [r for r in results if _slowed(r)]
        if slowed:
            noisy += (f"\n\n**† {len(slowed)} of {len(results)} runs were slowed by other jobs** (measured epoch "
                      f"time above {SLOWED}x the median-step estimate): while another process holds a core, a "
                      "2-thread PyTorch process waits on its descheduled thread in every parallel op. Compare "
                      "models by the median-step column.")
        if args.dataset == "vic_elec":
            data = ("the shipped `vic_elec` sample (hourly Victoria electricity demand `OT` from demand, temperature "
                    "and\nthe holiday flag), features `MS`")
        else:
            data = f"`{args.dataset}` (features as in each config)"
        protocol = ("\n\nProtocol `tslib` (the official scripts' sweep): the data module's `protocol: tslib` (4 hourly "
                    f"time features), {itr} runs per cell with seeds 0..{itr - 1} (their `--itr`), **mean ± std** "
                    "(sample std over the runs) of each metric. Unlike Informer2020, whose test loader drops the last "
                    "incomplete batch, every test window is scored (as current TSLib), so numbers on a standard set "
                    "are not on exactly the windows of the Informer paper's tables." if args.protocol else "")
        text = f"""# Forecasting on {args.dataset}

`{command}` — {env}; {total / 60:.1f} min in all.{partial}

Data: {data}, input `seq_len` {SEQ_LEN}, chronological split (ETT: 12/4/4 months, else 70/10/20),
normalised with the training split's statistics.{protocol}

Budget, the same for every trained model: **{budget}**, validation over every validation window after each
epoch, no early stopping; test on **every test window** with the best-by-validation-loss checkpoint
(`spanmix forecast test --ckpt_path best`). Everything else (sizes, learning rate, its per-epoch halving)
is each model's `apps/forecast/configs/<model>_vic_elec.yaml`. MSE / MAE on the normalised scale (as
TSLib reports them); the best MSE of each horizon in bold. Seconds per epoch (train): measured training
wall time (validation excluded) / epochs; (median step): the median step time (data loading included) x
steps per epoch, which bursts of load from other jobs barely move; "test s" is the whole `test` command in
the worker (data loading included). Timings are single runs on a shared machine.
Each run is a fresh subprocess, seeded (`seed_everything`: the run's seed), `trainer.deterministic: false`.
"MSE / MAE (data units)": the same errors after mapping forecast and target back with the training split's
mean/std (`test/mse_original`, `test/mae_original`).
Load average (1 / 5 / 15 min) at the start: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}; at the end:
{end_load[0]:.2f} / {end_load[1]:.2f} / {end_load[2]:.2f} (this benchmark's own run adds about 1).{noisy}

{sweep_table(results) if itr > 1 else table(results)}
"""
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)

    for horizon in args.horizons:
        for model in args.models:
            for seed in range(itr):
                r = run_in_subprocess(model, horizon, args.epochs, steps_per_epoch, log_dir, timeout=3600,
                                      seed=seed, protocol=args.protocol, dataset=args.dataset)
                results.append(r)
                summary = r["error"] if "error" in r else (
                    f"MSE {r['mse']:.4f} MAE {r['mae']:.4f} params {r['params']:,} steps {r['steps']} "
                    f"s/epoch {_fmt(r['sec_per_epoch'], '.1f')} (median step: "
                    f"{_fmt(r['median_sec_per_epoch'], '.1f')}) wall {r['wall_seconds']:.0f}s")
                print(f"  H={horizon:3d} {model:12s} seed {seed} {summary}", flush=True)
                report(results, planned=len(args.horizons) * len(args.models) * itr)
    report(results)
    print(args.out.read_text())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
