"""``spanmix points fewshot``: the N-way K-shot protocol (``fewshot.run_few_shot``) from a classification config.

    spanmix points fewshot --config apps/points/configs/gpsformer_kicad.yaml --way 5 --shot 10 --folds 10
    spanmix points fewshot --config apps/points/configs/dgcnn_kicad.yaml --way 10 --shot 20 --epochs 30

The model (``model.model``, ``model.model_options``, ``model.lr``) and the data (``data.dataset``,
``data.n_points``, ``data.batch_size``) come from the config; every episode trains a fresh model for
``--epochs`` (default ``trainer.max_epochs``) on its support set and scores its queries. Prints the per-fold
accuracies and mean ± std, and writes them as JSON to ``--out`` (default
``runs/points/<config stem>/fewshot_<way>way_<shot>shot.json``).
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import yaml

from spanmix.apps.harness.errors import SpanmixError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spanmix points fewshot", description="N-way K-shot episodes of a points config.")
    p.add_argument("--config", required=True, help="a classification config of `spanmix points fit`")
    p.add_argument("--way", type=int, default=5)
    p.add_argument("--shot", type=int, default=10)
    p.add_argument("--query", type=int, default=20, help="query clouds per class (fewer if the test split has fewer)")
    p.add_argument("--folds", type=int, default=10)
    p.add_argument("--epochs", type=int, default=None, help="epochs per episode (default: trainer.max_epochs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    return p


def main(argv: Sequence[str]) -> int:
    ns = _parser().parse_args(list(argv))
    try:
        config = yaml.safe_load(Path(ns.config).read_text())
    except FileNotFoundError:
        raise SpanmixError(f"--config {ns.config}: no such file; expected a points classification config such as "
                           "apps/points/configs/gpsformer_kicad.yaml") from None
    model, data = (config or {}).get("model") or {}, (config or {}).get("data") or {}
    if "model" not in model or data.get("task", "cls") != "cls":
        raise SpanmixError(f"--config {ns.config}: expected a classification config (model.model, data.task cls)")
    for name in ("way", "shot", "query", "folds"):
        if getattr(ns, name) < 1:
            raise SpanmixError(f"--{name} must be >= 1, got {getattr(ns, name)}")
    if ns.way < 2:
        raise SpanmixError(f"--way must be >= 2 (a one-class episode has nothing to tell apart), got {ns.way}")
    from spanmix.apps.points.fewshot import format_few_shot, run_few_shot

    epochs = ns.epochs or (config.get("trainer") or {}).get("max_epochs") or 30
    res = run_few_shot(model["model"], model.get("model_options"), dataset=data.get("dataset", "kicad"), way=ns.way,
                       shot=ns.shot, query=ns.query, folds=ns.folds, epochs=epochs,
                       n_points=data.get("n_points", 256), lr=model.get("lr", 2e-3),
                       batch_size=data.get("batch_size", 16), seed=ns.seed)
    res.update(model=model["model"], config=ns.config, epochs=epochs, query=ns.query, seed=ns.seed)
    out = Path(ns.out) if ns.out else Path("runs/points") / Path(ns.config).stem / f"fewshot_{ns.way}way_{ns.shot}shot.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    print("per fold: " + ", ".join(f"{100 * a:.1f}" for a in res["acc"]))
    print(format_few_shot(res))
    print(f"written to {out}")
    return 0
