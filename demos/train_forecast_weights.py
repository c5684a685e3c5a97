"""Regenerate the small forecast weights shipped in ``pretrained/forecast/`` (used by the demo hub).

    python demos/train_forecast_weights.py                      # every entry (about 30 min on 2 CPU cores)
    python demos/train_forecast_weights.py linear_vic_elec_s    # only these entries
    python demos/train_forecast_weights.py --list

Every entry is one of our configs (``apps/forecast/configs/<model>_vic_elec.yaml``) trained unchanged on
the shipped vic_elec sample (96 hours in, 24 out, seed 0), once with the config's ``features: MS``
(Temperature, Holiday and demand OT in, OT out) and once with ``--data.features S`` (OT in, OT out): the
univariate weights forecast any single column, so they serve uploaded CSVs. For each entry:

1. ``spanmix forecast fit --config CFG [--data.features S] --experiment NAME`` (run in ``runs/forecast/NAME``,
   which is removed first);
2. ``spanmix export``'s ``export_checkpoint`` of the best checkpoint (lowest ``val/loss``) to
   ``pretrained/forecast/NAME/`` (``model.safetensors`` + ``config.json``);
3. the export is loaded back with ``load_pretrained`` and tested with Lightning's test loop on the test
   split; ``config.json``'s ``metadata.demo`` records the command, config file, data, columns, the test
   MSE/MAE/RMSE (normalised scale, as TSLib reports them) and the naive baselines on the same windows.

The naive entry has no parameters: it is built and saved with ``save_pretrained`` (no fit), and tested the
same way. ``pretrained/forecast/METRICS.md`` is rewritten from the ``config.json`` files at the end.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "pretrained" / "forecast"
CONFIGS = "apps/forecast/configs"
LABELS = {
    "naive": "Seasonal naive (24 h)",
    "linear": "DLinear",
    "smamba": "S-Mamba",
    "gateformer": "Gateformer",
    "informer": "Informer",
}

#: name -> (config file, features, extra CLI overrides). Order: cheapest first. DLinear ships in S only: it
#: maps each target series on its own and never reads the covariates, so its MS weights equal its S weights.
ENTRIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "naive_vic_elec_s": ("naive_vic_elec.yaml", "S", ("--model.model_options.season", "24")),
    "linear_vic_elec_s": ("linear_vic_elec.yaml", "S", ()),
    "gateformer_vic_elec_s": ("gateformer_vic_elec.yaml", "S", ()),
    "smamba_vic_elec_s": ("smamba_vic_elec.yaml", "S", ()),
    "gateformer_vic_elec_ms": ("gateformer_vic_elec.yaml", "MS", ()),
    "smamba_vic_elec_ms": ("smamba_vic_elec.yaml", "MS", ()),
}


def _command(subcommand: str, name: str) -> list[str]:
    config, features, extra = ENTRIES[name]
    args = ["spanmix", "forecast", subcommand, "--config", f"{CONFIGS}/{config}"]
    if features != _config(name)["data"].get("features", "M"):
        args += ["--data.features", features]
    return args + list(extra) + ["--experiment", name]


def _config(name: str) -> dict:
    return yaml.safe_load((ROOT / CONFIGS / ENTRIES[name][0]).read_text(encoding="utf-8"))


def _data_module(name: str):
    from spanmix.apps.forecast.data import ForecastDataModule

    data = dict(_config(name)["data"], features=ENTRIES[name][1])
    dm = ForecastDataModule(**data)
    dm.setup()
    return dm, data


def _test(task, dm) -> dict[str, float]:
    import lightning as L

    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    result = trainer.test(task, datamodule=dm, verbose=False)[0]
    return {
        k.split("/", 1)[1]: float(v)
        for k, v in result.items()
        if k.split("/", 1)[1] in ("mse", "mae", "rmse")
    }


def _naive(dm, season: int):
    from spanmix.apps.forecast.task import ForecastTask

    return ForecastTask(
        "naive",
        {"season": season},
        n_features=dm.n_features,
        n_targets=dm.n_targets,
        seq_len=dm.seq_len,
        label_len=dm.label_len,
        pred_len=dm.pred_len,
        n_time_features=dm.n_time_features,
    )


def train(name: str) -> Path:
    """Fit (or build, for naive), export, test and annotate entry ``name``; return its export directory."""
    from spanmix.apps.harness.checkpoint import find_best_checkpoint
    from spanmix.apps.harness.export import (
        export_checkpoint,
        load_pretrained,
        save_pretrained,
        update_pretrained_metadata,
    )

    config_file, features, extra = ENTRIES[name]
    model = _config(name)["model"]["model"]
    out = OUT_DIR / name
    dm, data = _data_module(name)
    started = time.time()
    if model == "naive":
        season = int(extra[extra.index("--model.model_options.season") + 1])
        save_pretrained(_naive(dm, season), out, metadata={"app": "forecast"})
        command = _command("test", name)
    else:
        run_dir = ROOT / "runs" / "forecast" / name
        shutil.rmtree(run_dir, ignore_errors=True)
        command = _command("fit", name)
        print("$", " ".join(command), flush=True)
        subprocess.run([sys.executable, "-m", "spanmix.apps.cli", *command[1:]], cwd=ROOT, check=True)
        best = find_best_checkpoint(str(run_dir / "checkpoints"))
        export_checkpoint(best, out)
    train_seconds = round(time.time() - started, 1)

    task = load_pretrained(out)
    test = _test(task, dm)
    baselines = {f"naive_season{s}": _test(_naive(dm, s), dm) for s in (1, 24)}
    update_pretrained_metadata(out, demo={
        "label": LABELS.get(model, model),
        "model": model,
        "dataset": data["dataset"],
        "features": features,
        "input_columns": list(dm.columns),
        "target": dm.target_columns[-1],
        "seq_len": dm.seq_len,
        "label_len": dm.label_len,
        "pred_len": dm.pred_len,
        "freq": dm.freq,
        "config_file": f"{CONFIGS}/{config_file}",
        "command": " ".join(command),
        "regenerate": f"python demos/train_forecast_weights.py {name}",
        "test_windows": len(dm.datasets["test"]),
        "test_metrics": test,
        "baselines": baselines,
        "metric_scale": "normalised (train-split mean/std of each column), as TSLib reports",
        "train_seconds": train_seconds,
        "trained_on": "cpu",
    })
    print(f"{name}: test {test}  naive(24) {baselines['naive_season24']}", flush=True)
    return out


def write_metrics_table() -> Path:
    """``pretrained/forecast/METRICS.md`` from every export's ``metadata.demo``."""
    from tab_common import demo_exports

    rows = []
    for folder, metadata in demo_exports(OUT_DIR):
        demo = metadata["demo"]
        size = (folder / "model.safetensors").stat().st_size
        t, n1, n24 = (
            demo["test_metrics"],
            demo["baselines"]["naive_season1"],
            demo["baselines"]["naive_season24"],
        )
        rows.append(
            f"| `{folder.name}` | {demo['label']} | {demo['features']} | "
            f"{t['mse']:.4f} | {t['mae']:.4f} | {n24['mse']:.4f} / {n24['mae']:.4f} | "
            f"{n1['mse']:.4f} / {n1['mae']:.4f} | {size / 1024:.0f} KiB | `{demo['command']}` |"
        )
    text = (
        "# Shipped forecast weights\n\n"
        "Small models trained by our configs on the shipped `vic_elec` sample (hourly Victorian electricity "
        "demand `OT`, 96 h in, 24 h out, chronological 70/10/20 split, seed 0), for the demo hub. "
        "Test MSE/MAE are over every window of the test split on the normalised scale (train-split mean/std, "
        "as TSLib reports), computed by loading the export with `load_pretrained` and Lightning's test loop. "
        "MS: Temperature, Holiday and OT in, OT out; S: OT in, OT out (these serve uploaded CSVs).\n\n"
        "Regenerate all of them (about 30 min on 2 CPU cores) with `python demos/train_forecast_weights.py`; "
        "each export's `config.json` holds the full training config (`metadata.training_config`) and these "
        "numbers (`metadata.demo`).\n\n"
        "| weights | model | features | test MSE | test MAE | seasonal naive (24 h) MSE / MAE | "
        "last-value naive MSE / MAE | size | command |\n|---|---|---|---|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n"
    )
    path = OUT_DIR / "METRICS.md"
    path.write_text(text, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "names", nargs="*", help=f"entries to regenerate (default: all): {', '.join(ENTRIES)}"
    )
    parser.add_argument("--list", action="store_true", help="print the entries and their commands")
    ns = parser.parse_args(argv)
    if ns.list:
        for name in ENTRIES:
            print(f"{name:24s} {' '.join(_command('fit' if 'naive' not in name else 'test', name))}")
        return 0
    unknown = sorted(set(ns.names) - set(ENTRIES))
    if unknown:
        parser.error(f"unknown entries {unknown}; choose from {list(ENTRIES)}")
    for name in ns.names or list(ENTRIES):
        train(name)
    print(f"wrote {write_metrics_table()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
