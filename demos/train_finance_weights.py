"""Regenerate the small finance weights shipped in ``pretrained/finance/`` (used by the hub's Finance tab).

    python demos/train_finance_weights.py                 # both entries (a few minutes on 2 CPU cores)
    python demos/train_finance_weights.py t2v_wiki_aapl_k2

Each entry is ``apps/forecast/configs/finance_t2v.yaml`` or ``finance_single.yaml`` trained unchanged on the
shipped ``wiki`` snapshot (target AAPL, seed 0) with ``spanmix finance fit``; the best checkpoint (lowest
val/loss) is exported to ``pretrained/finance/<name>/`` (``model.safetensors`` + ``config.json``), loaded
back with ``load_pretrained`` and tested with Lightning's test loop. ``config.json``'s ``metadata.demo``
records the command, the data options, the selected tickers and the test metrics beside the random walk's;
``pretrained/finance/METRICS.md`` is rewritten from them.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "pretrained" / "finance"
CONFIGS = "apps/forecast/configs"
#: name -> (config file, label)
ENTRIES = {
    "t2v_wiki_aapl_k2": ("finance_t2v.yaml", "TT2VFin (Time2Vec + Transformer), target + 2 correlated tickers"),
    "t2v_wiki_aapl_k0": ("finance_single.yaml", "TT2VFin (Time2Vec + Transformer), single stock"),
}


def _command(name: str) -> list[str]:
    return ["spanmix", "finance", "fit", "--config", f"{CONFIGS}/{ENTRIES[name][0]}", "--experiment", name]


def train(name: str) -> Path:
    import lightning as L
    from spanmix.apps.forecast.finance_cli import main as finance_main
    from spanmix.apps.harness.checkpoint import find_best_checkpoint
    from spanmix.apps.harness.export import export_checkpoint, load_pretrained, update_pretrained_metadata

    config_file, label = ENTRIES[name]
    run_dir = ROOT / "runs" / "finance" / name
    shutil.rmtree(run_dir, ignore_errors=True)
    started = time.time()
    command = _command(name)
    print("$", " ".join(command), flush=True)
    cli = finance_main([*command[2:], "--trainer.default_root_dir", str(run_dir),
                        "--trainer.enable_progress_bar", "false"])
    out = OUT_DIR / name
    export_checkpoint(find_best_checkpoint(str(run_dir / "checkpoints")), out)
    seconds = round(time.time() - started, 1)

    dm = cli.datamodule
    task = load_pretrained(out)
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    result = {k.split("/", 1)[1]: float(v) for k, v in trainer.test(task, datamodule=dm, verbose=False)[0].items()}
    data_cfg = yaml.safe_load((ROOT / CONFIGS / config_file).read_text(encoding="utf-8"))["data"]
    update_pretrained_metadata(out, demo={
        "label": label, "model": task.model_name, "config_file": f"{CONFIGS}/{config_file}",
        "command": " ".join(command), "regenerate": f"python demos/train_finance_weights.py {name}",
        "data": data_cfg, "k": dm.k, "selected": dm.selected, "columns": list(dm.columns),
        "features": list(dm.feature_names), "seq_len": dm.seq_len, "pred_len": dm.pred_len,
        "target_kind": dm.target_kind,
        "test_period": [f"{dm.dates[dm.borders['test'][0] + dm.seq_len]:%Y-%m-%d}", f"{dm.dates[-1]:%Y-%m-%d}"],
        "test_windows": len(dm.datasets["test"]), "test_metrics": result,
        "parameters": sum(p.numel() for p in task.net.parameters()), "train_seconds": seconds, "trained_on": "cpu",
    })
    print(f"{name}: {result}", flush=True)
    return out


def write_metrics_table() -> Path:
    from tab_common import demo_exports

    rows = []
    for folder, metadata in demo_exports(OUT_DIR):
        demo = metadata["demo"]
        t = demo["test_metrics"]
        rows.append(
            f"| `{folder.name}` | {demo['label']} | {', '.join(demo['selected']) or '—'} | "
            f"{demo['parameters']:,} | {t['mse'] * 1e4:.4f} / {t['rw_mse'] * 1e4:.4f} | "
            f"{t['mae'] * 1e2:.4f} / {t['rw_mae'] * 1e2:.4f} | {t['diracc']:.3f} / {t['rw_diracc']:.3f} | "
            f"{t['mape'] * 1e2:.3f} / {t['rw_mape'] * 1e2:.3f} | `{demo['command']}` |")
    text = (
        "# Shipped finance weights\n\n"
        "Small TT2VFin models trained by our configs on the shipped `wiki` snapshot (AAPL next-day log return from "
        "30 trading days; common days of AAPL, GOOG, IBM, MSFT 2004-08..2013-03, chronological 70/10/20 split, "
        "seed 0), for the hub's Finance tab. Test metrics over every test window, computed by loading the export "
        "with `load_pretrained` and Lightning's test loop; each cell is *model / random walk* (zero return). "
        "MSE ×10⁴ and MAE ×10² of daily log returns; directional accuracy (the random walk's is the always-up "
        "forecast's); MAPE (%) of the implied next-day close. Neither beats the random walk by a meaningful "
        "margin: the usual truth for daily returns.\n\n"
        "Regenerate with `python demos/train_finance_weights.py`.\n\n"
        "| weights | model | correlated tickers | params | MSE | MAE | dir. acc. | MAPE | command |\n"
        "|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    path = OUT_DIR / "METRICS.md"
    path.write_text(text, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"entries (default: all): {', '.join(ENTRIES)}")
    ns = parser.parse_args(argv)
    unknown = sorted(set(ns.names) - set(ENTRIES))
    if unknown:
        parser.error(f"unknown entries {unknown}; choose from {list(ENTRIES)}")
    for name in ns.names or list(ENTRIES):
        train(name)
    print(f"wrote {write_metrics_table()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
