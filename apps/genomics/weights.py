"""The genomics app's shipped weights (``pretrained/genomics/``, the hub's Genomics tab) and the Oct4-vs-Mafk
comparison, as entries for the builder.

    spanmix weights build genomics --all                      # ~30 min on 2 shared CPU cores
    spanmix weights build genomics hyenadna_tiny_oct4_mafk    # reuses the exported LM if present

1. ``hyenadna_tiny_ecoli``: HyenaDNA tiny-1k pretrained on E. coli MG1655 (warm-up 256 -> 1024); its record
   holds the held-out **test** bits/nt;
2. ``hyenadna_tiny_oct4_mafk``: fine-tuned from the export of (1) (built first if it is missing);
3. ``scratch_oct4_mafk`` (same config, no pretrained weights) and ``cnn_oct4_mafk``: trained and scored for
   the comparison, not shipped.

Every record is also kept in ``pretrained/genomics/results.json`` (read by ``benchmarks/genomics.py``).
"""
from __future__ import annotations

from typing import Any

from spanmix.apps.harness.weights import Built, Entry, WeightsTable, markdown_table

__all__ = ["GENOMICS", "WEIGHTS"]

CONFIGS = "apps/genomics/configs"
LM = "hyenadna_tiny_ecoli"


def _datamodule(config: dict[str, Any]):
    from spanmix.apps.genomics import data as genomics_data

    data = config["data"]
    module, _, name = data["class_path"].rpartition(".")
    if module != genomics_data.__name__ or not hasattr(genomics_data, name):
        raise ValueError(f"data.class_path must name a data module of {genomics_data.__name__}, "
                         f"got {data['class_path']!r}")
    return getattr(genomics_data, name)(**data.get("init_args", {}))


def _describe(b: Built) -> dict[str, Any]:
    record = {"command": b.command, "train_seconds": b.train_seconds, "test": b.test}
    if b.entry.name == LM:
        return {"task": "pretrain",
                "data": "E. coli MG1655 test region (last 5% of the genome), 64 evenly spaced 1,024-bp windows",
                **record}
    return {"task": "classify", "classes": ["Oct4", "Mafk"], **record}


def _metrics(records: dict[str, dict[str, Any]], out_dir) -> str:
    lm = records.get(LM)
    rows = [(f"`{n}`", f"{r['test']['test/accuracy']:.4f}", f"{r['test']['test/mcc']:.4f}", f"{r['train_seconds']:.0f}",
             f"`{r['command']}`") for n, r in records.items() if n != LM]
    lm_text = (
        f"`{lm['command']}` ({lm['train_seconds']:.0f} s). Held-out test region (last 5% of the genome, never in a "
        f"training window), 64 evenly spaced 1,024-bp windows: **{lm['test']['test/bits_per_nt']:.4f} bits/nt** "
        f"(uniform over A/C/G/T = 2.0), next-base accuracy {lm['test']['test/accuracy']:.4f}."
        if lm else "Not built yet."
    )
    return (
        "# Shipped genomics weights\n\n"
        "Trained on this machine's CPU (2 cores shared with other jobs) by `spanmix weights build genomics --all`.\n\n"
        f"## `{LM}`: HyenaDNA tiny-1k LM on E. coli MG1655\n\n"
        f"{lm_text}\n\n"
        "## Oct4 vs Mafk ChIP-seq peaks (200 bp; seeded stratified 80/10/10 split; test split)\n\n"
        "`hyenadna_tiny_oct4_mafk` is shipped (fine-tuned from the LM above); the other rows are the comparison "
        "(same split, same 40 optimiser steps of 64 peaks).\n\n"
        + markdown_table(("run", "test accuracy", "test MCC", "train s", "command"), rows)
        + _verdict(records)
    )


def _verdict(records: dict[str, dict[str, Any]]) -> str:
    runs = {n: r["test"]["test/mcc"] for n, r in records.items() if n != LM}
    if not runs:
        return ""
    best = max(runs, key=runs.get)
    return (f"\nHighest test MCC at this budget: `{best}` ({runs[best]:.4f}); reported as measured, one seed, "
            "40 optimiser steps (the paper fine-tunes far longer).\n")


GENOMICS = WeightsTable(
    app="genomics",
    entries=(
        Entry(LM, f"{CONFIGS}/pretrain_ecoli_tiny1k.yaml", label="HyenaDNA tiny-1k LM, E. coli"),
        Entry("hyenadna_tiny_oct4_mafk", f"{CONFIGS}/finetune_oct4_mafk.yaml",
              ("--model.init_args.pretrained", "{" + LM + "}"), label="HyenaDNA tiny, pretrained + fine-tuned"),
        Entry("scratch_oct4_mafk", f"{CONFIGS}/finetune_oct4_mafk.yaml", label="HyenaDNA tiny, from scratch",
              ship=False),
        Entry("cnn_oct4_mafk", f"{CONFIGS}/cnn_oct4_mafk.yaml", label="CNN baseline", ship=False),
    ),
    datamodule=_datamodule,
    describe=_describe,
    metrics_md=_metrics,
    results_json=True,
)

WEIGHTS = {"genomics": GENOMICS}
