"""The N-way K-shot few-shot protocol of the point-cloud literature (Sharma & Kaul 2020; the ModelNet40
folds of Point-BERT/Point-MAE/PointGPT): for each of ``folds`` seeded episodes pick ``way`` classes, ``shot``
support clouds per class from the training split and ``query`` test clouds per class (fewer if a class has
fewer), train a fresh model on the support set, score it on the queries, and report mean ± std over folds.

    from spanmix.apps.points.fewshot import episodes, run_few_shot, format_few_shot
    res = run_few_shot("gpsformer", {"size": "tiny"}, dataset="kicad", way=5, shot=10, folds=10, epochs=30)
    print(format_few_shot(res))

The official ModelNet40 fold files are pickles (``ModelNetFewshot/<way>way_<shot>shot/<fold>.pkl``); spanmix does
not unpickle downloaded files, so the folds are drawn here (seeded) instead; on ModelNet40 they are therefore
not the published folds. Support and query clouds never share a model (they come from different splits).
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["episodes", "format_few_shot", "run_few_shot"]


def episodes(train_labels, test_labels, *, way: int, shot: int, query: int = 20, folds: int = 10, seed: int = 0):
    """``folds`` episodes, each ``(classes, support_idx, query_idx)``: indices into the train / test split,
    labels remapped by position in ``classes``. Raises ValueError when the data cannot give ``way`` classes
    with ``shot`` training clouds each."""
    train_labels, test_labels = np.asarray(train_labels), np.asarray(test_labels)
    eligible = [c for c in np.unique(train_labels)
                if (train_labels == c).sum() >= shot and (test_labels == c).sum() >= 1]
    if len(eligible) < way:
        raise ValueError(f"few-shot: only {len(eligible)} classes have {shot} training clouds and a test cloud; "
                         f"--way {way} needs {way}")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(folds):
        classes = rng.choice(eligible, way, replace=False)
        support = np.concatenate([rng.choice(np.flatnonzero(train_labels == c), shot, replace=False) for c in classes])
        queries = []
        for c in classes:
            pool = np.flatnonzero(test_labels == c)
            queries.append(rng.choice(pool, min(query, len(pool)), replace=False))
        out.append((classes, support, np.concatenate(queries)))
    return out


def run_few_shot(model: str, model_options: dict[str, Any] | None = None, *, dataset: str = "kicad", way: int = 5,
                 shot: int = 10, query: int = 20, folds: int = 10, epochs: int = 30, n_points: int = 256,
                 lr: float = 2e-3, batch_size: int = 16, seed: int = 0) -> dict[str, Any]:
    """Train and score one fresh model per episode; returns ``{"acc": [per fold], "mean", "std", ...}``."""
    import lightning as L
    import torch
    from spanmix.apps.points.data import PointDataModule, PointSetDataset
    from spanmix.apps.points.task import PointsTask
    from torch.utils.data import DataLoader

    dm = PointDataModule(dataset, n_points=n_points)
    tr, te = dm.splits["train"], dm.splits["test"]
    accs = []
    for fold, (classes, sup, qry) in enumerate(episodes(tr["label"], te["label"], way=way, shot=shot, query=query,
                                                        folds=folds, seed=seed)):
        remap = {int(c): i for i, c in enumerate(classes)}
        L.seed_everything(seed + fold)
        train = PointSetDataset(tr["points"][sup], [remap[int(v)] for v in tr["label"][sup]], n_points=n_points,
                                train=True, seed=seed + fold)
        test = PointSetDataset(te["points"][qry], [remap[int(v)] for v in te["label"][qry]], n_points=n_points)
        task = PointsTask(model, model_options, num_classes=way, lr=lr)
        trainer = L.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False)
        trainer.fit(task, DataLoader(train, batch_size=batch_size, shuffle=True,
                                     generator=torch.Generator().manual_seed(seed + fold)))
        result = trainer.test(task, DataLoader(test, batch_size=batch_size), verbose=False)[0]
        accs.append(float(result["test/oa"]))
    return {"dataset": dataset, "way": way, "shot": shot, "folds": folds, "acc": accs,
            "mean": float(np.mean(accs)), "std": float(np.std(accs))}


def format_few_shot(res: dict[str, Any]) -> str:
    return (f"{res['dataset']} {res['way']}-way {res['shot']}-shot, {res['folds']} folds: "
            f"{100 * res['mean']:.1f} ± {100 * res['std']:.1f} %")
