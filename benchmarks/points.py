"""Points app benchmarks -> ``benchmarks/results/points.md`` (``--ops``) and ``points_models.md`` (``--models``).

    python benchmarks/points.py --ops                 # operator timings at N = 1k, 8k, 64k (minutes)
    python benchmarks/points.py --models --epochs 20  # GPSFormer vs DGCNN vs GPSFormer(local/mamba) on the KiCad set
    python benchmarks/points.py --medical             # point SSM (mamba/full/hyena) vs GPSFormer, DGCNN on frog anatomy

``--ops``: median seconds (one cloud, CPU) of each operator in ``spanmix.apps.points.ops`` on its torch path
(``SPANMIX_POINTS_TORCH_OPS=1``) beside what a user would otherwise call: farthest point sampling of N/4
points (``fpsample.fps_sampling``, open3d's ``farthest_point_down_sample``), kNN with k = 16 of every point
(SciPy ``cKDTree``, open3d's ``core.nns.NearestNeighborSearch``), ball query r = 0.1, 32 neighbours of N/4
centres (``cKDTree.query_ball_point``). Points uniform in the unit cube. Timings depend on the machine's
load: the header records the load average before and after.

``--models``: each config trained with the same epochs and data (the shipped KiCad set, 256 points), then
tested (OA, mAcc), with parameters and ms per cloud at 1,024 points (batch 16, eval, no voting).

``--medical`` (-> ``benchmarks/results/points_medical.md``): the point SSM's frog configs
(``point_ssm_{cls,seg,completion}_frog.yaml``) with their SSM as ``mamba``, ``full`` attention or ``hyena``
at the config's budget (epochs, data, recipe; ``--medical-epochs`` overrides), and for classification
GPSFormer (tiny) and DGCNN trained on the same frog clouds with the same recipe: test OA / mAcc, ms per
cloud (batch 16, eval) and, for ``mamba``, the share of the forward time inside the selective scans
(``kernels.selective_scan``, group and vanilla blocks); segmentation mIoU beside the majority-tissue
baseline; completion CD-L1 / CD-L2 / F-score@1 % beside returning the partial input unchanged.
``--tasks`` and ``--only`` pick tables and rows (``--out`` another file, to run parts in parallel).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _measure import measure

OUT = ROOT / "benchmarks" / "results" / "points.md"
OUT_MODELS = ROOT / "benchmarks" / "results" / "points_models.md"


def _load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


#: above this N the torch paths are not timed (measured O(N^2) growth: ~8 s FPS / ~23 s kNN already at 8k on
#: the shared machine, so minutes to an hour at 64k); their cells say "not run"
TORCH_MAX_N = 8192


def bench_ops(sizes=(1024, 8192, 65536)) -> list[str]:
    from scipy.spatial import cKDTree
    from spanmix.apps.points import ops

    os.environ["SPANMIX_POINTS_TORCH_OPS"] = "1"
    rows = ["| operator | N | spanmix (torch) | fpsample | open3d | SciPy cKDTree |", "|---|---|---|---|---|---|"]
    fmt = lambda r: "not run" if r == "skip" else (f"{1e3 * r['seconds']:.1f} ms" if r else "–")  # noqa: E731
    for n in sizes:
        pts = torch.rand(1, n, 3, generator=torch.Generator().manual_seed(0))
        p = pts[0].numpy().astype(np.float64)
        m = n // 4
        budget = dict(repeats=3, budget_s=20)
        torch_ok = n <= TORCH_MAX_N
        res = {"torch": measure(lambda: ops.farthest_point_sample(pts, m), **budget) if torch_ok else "skip"}
        try:
            import fpsample

            res["fpsample"] = measure(lambda: fpsample.fps_sampling(p, m, start_idx=0), **budget)
        except ImportError:
            res["fpsample"] = None
        try:
            import open3d as o3d

            pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(p))
            res["open3d"] = measure(lambda: pcd.farthest_point_down_sample(m), **budget)
        except ImportError:
            res["open3d"] = None
        rows.append(f"| FPS (N/4 points) | {n:,} | {fmt(res['torch'])} | {fmt(res['fpsample'])} | "
                    f"{fmt(res['open3d'])} | – |")
        k = 16
        res = {"torch": measure(lambda: ops.knn(pts, pts, k), **budget) if torch_ok else "skip",
               "ckdtree": measure(lambda: cKDTree(p).query(p, k=k, workers=-1), **budget)}
        try:
            import open3d as o3d

            t = o3d.core.Tensor(p.astype(np.float32))

            def o3d_knn():
                nns = o3d.core.nns.NearestNeighborSearch(t)
                nns.knn_index()
                return nns.knn_search(t, k)

            res["open3d"] = measure(o3d_knn, **budget)
        except ImportError:
            res["open3d"] = None
        rows.append(f"| kNN (k = 16, all N points) | {n:,} | {fmt(res['torch'])} | – | {fmt(res['open3d'])} | "
                    f"{fmt(res['ckdtree'])} |")
        centres = pts[:, :m]
        c = p[:m]
        res = {"torch": measure(lambda: ops.ball_query(centres, pts, 0.1, 32), **budget) if torch_ok else "skip",
               "ckdtree": measure(lambda: cKDTree(p).query_ball_point(c, 0.1, workers=-1), **budget)}
        rows.append(f"| ball query (r = 0.1, 32, N/4 centres) | {n:,} | {fmt(res['torch'])} | – | – | "
                    f"{fmt(res['ckdtree'])} |")
        print(rows[-3:], flush=True)
    return rows


def _fit_and_test(task, dm, epochs: int) -> tuple[float, dict]:
    """Train ``task`` on ``dm`` for ``epochs`` (no logging, no checkpoints), test it; returns (train seconds,
    test metrics) with the task left in eval mode."""
    import lightning as L

    trainer = L.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    start = time.time()
    trainer.fit(task, dm)
    seconds = time.time() - start
    test = trainer.test(task, datamodule=dm, verbose=False)[0]
    task.eval()
    return seconds, test


def bench_models(epochs: int) -> list[str]:
    import lightning as L
    import yaml
    from spanmix.apps.points.data import PointDataModule
    from spanmix.apps.points.task import PointsTask

    configs = [("GPSFormer (full)", "gpsformer_kicad.yaml", {}),
               ("GPSFormer (local, w=16)", "gpsformer_kicad.yaml", {"mixer": "local", "mixer_options": {"window": 16}}),
               ("GPSFormer (mamba)", "gpsformer_kicad.yaml", {"mixer": "mamba"}),
               ("DGCNN (k=20)", "dgcnn_kicad.yaml", {})]
    rows = ["| model | parameters | test OA | test mAcc | ms / cloud (1,024 pts) | train s |", "|---|---|---|---|---|---|"]
    for label, cfg, extra in configs:
        c = yaml.safe_load((ROOT / "apps/points/configs" / cfg).read_text())
        L.seed_everything(0)
        dm = PointDataModule(**c["data"])
        task = PointsTask(c["model"]["model"], {**c["model"].get("model_options", {}), **extra},
                          num_classes=dm.num_classes, lr=c["model"]["lr"], weight_decay=c["model"]["weight_decay"])
        seconds, test = _fit_and_test(task, dm, epochs)
        x = torch.rand(16, 1024, 3) * 2 - 1
        with torch.no_grad():
            speed = measure(lambda: task.net(x), repeats=3, budget_s=60)["seconds"] / 16
        params = sum(p.numel() for p in task.net.parameters())
        rows.append(f"| {label} | {params:,} | {100 * test['test/oa']:.1f} | {100 * test['test/macc']:.1f} | "
                    f"{1e3 * speed:.0f} | {seconds:.0f} |")
        print(rows[-1], flush=True)
    return rows


def _scan_share(net, x) -> float:
    """Fraction of ``net(x)``'s wall time inside ``selective_scan`` (the vanilla blocks' and the mamba mixer's)."""
    from spanmix.apps.points.models import point_ssm
    from spanmix.backbone.mixers import mamba as mamba_mod

    spent = [0.0]
    originals = (point_ssm.selective_scan, mamba_mod.selective_scan)

    def timed(fn):
        def wrapper(*a, **k):
            t = time.perf_counter()
            out = fn(*a, **k)
            spent[0] += time.perf_counter() - t
            return out
        return wrapper

    point_ssm.selective_scan, mamba_mod.selective_scan = timed(originals[0]), timed(originals[1])
    try:
        with torch.no_grad():
            net(x)                                  # warm-up (numba compile)
            spent[0] = 0.0
            start = time.perf_counter()
            net(x)
            total = time.perf_counter() - start
    finally:
        point_ssm.selective_scan, mamba_mod.selective_scan = originals
    return spent[0] / total


MEDICAL_MIXERS = (("point SSM (mamba)", "mamba"), ("point SSM (full attention)", "full"), ("point SSM (hyena)", "hyena"))


def _medical_task(config: dict, model: str, options: dict, dm):
    from spanmix.apps.points.task import PointsTask

    m = config["model"]
    extra = {k: m[k] for k in ("label_smoothing", "dcd_alpha", "dcd_lambda", "cd_weight") if k in m}
    return PointsTask(model, options, task=config["data"]["task"], num_classes=dm.num_classes, classes=dm.classes,
                      lr=m["lr"], weight_decay=m["weight_decay"], optimizer=m["optimizer"], schedule=m["schedule"],
                      **extra)


def bench_medical(epochs: int | None, models: list[str] | None = None) -> list[str]:
    """Classification rows: the shipped config's budget unless ``epochs``; ``models`` filters the labels."""
    import lightning as L
    import yaml
    from spanmix.apps.points.data import PointDataModule

    base = yaml.safe_load((ROOT / "apps/points/configs/point_ssm_cls_frog.yaml").read_text())
    epochs = epochs or base["trainer"]["max_epochs"]
    ssm, n = base["model"]["model_options"], base["data"]["n_points"]
    configs = [*((label, "point_ssm", {**ssm, "mixer": mixer}) for label, mixer in MEDICAL_MIXERS),
               ("GPSFormer (tiny)", "gpsformer", {"size": "tiny", "npoints": [n // 2, n // 4, n // 8, n // 16],
                                                  "scales": [1.0], "neighbors": 16, "radii": [0.2, 0.4, 0.8, 1.6]}),
               ("DGCNN (k=20)", "dgcnn", {})]
    rows = [f"## Frog anatomy classification ({epochs} epochs, {n} points, batch {base['data']['batch_size']}, "
            "15 tissues, 90 test clouds, ONE specimen; chance 6.7 %)", "",
            f"| model | parameters | test OA | test mAcc | ms / cloud ({n} pts) | scan share | train s |",
            "|---|---|---|---|---|---|---|"]
    for label, model, options in configs:
        if models and not any(m.lower() in label.lower() for m in models):
            continue
        L.seed_everything(0)
        dm = PointDataModule(**base["data"])
        task = _medical_task(base, model, options, dm)
        seconds, test = _fit_and_test(task, dm, epochs)
        x = next(iter(dm.test_dataloader()))["points"][:16]
        with torch.no_grad():
            speed = measure(lambda: task.net(x), repeats=3, budget_s=60)["seconds"] / len(x)
        share = f"{100 * _scan_share(task.net, x):.0f} %" if options.get("mixer") == "mamba" else "–"
        params = sum(p.numel() for p in task.net.parameters())
        rows.append(f"| {label} | {params:,} | {100 * test['test/oa']:.1f} | {100 * test['test/macc']:.1f} | "
                    f"{1e3 * speed:.0f} | {share} | {seconds:.0f} |")
        print(rows[-1], flush=True)
    return rows


def bench_medical_dense(kind: str, epochs: int | None, models: list[str] | None = None) -> list[str]:
    """Segmentation (``seg``) or completion rows: mamba vs full vs hyena with the shipped config's recipe, beside
    the baseline (majority tissue everywhere / the partial input returned unchanged)."""
    import lightning as L
    import yaml
    from spanmix.apps.points import chamfer
    from spanmix.apps.points.data import PointDataModule
    from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

    name = {"seg": "point_ssm_seg_frog.yaml", "completion": "point_ssm_completion_frog.yaml"}[kind]
    base = yaml.safe_load((ROOT / "apps/points/configs" / name).read_text())
    epochs = epochs or base["trainer"]["max_epochs"]
    d, opts = base["data"], base["model"]["model_options"]
    dm = PointDataModule(**d)
    if kind == "seg":
        train = torch.cat([b["parts"].flatten() for b in dm.train_dataloader()])
        majority = int(torch.bincount(train, minlength=dm.num_classes).argmax())
        iou, acc = MulticlassJaccardIndex(dm.num_classes, average="macro"), MulticlassAccuracy(dm.num_classes, average="micro")
        for b in dm.test_dataloader():
            t = b["parts"].flatten()
            iou.update(torch.full_like(t, majority), t)
            acc.update(torch.full_like(t, majority), t)
        rows = [f"## Frog tissue segmentation ({epochs} epochs, {d['n_points']} points, batch {d['batch_size']}, "
                "6 test crops)", "", "| model | parameters | test mIoU | point acc. | train s |", "|---|---|---|---|---|",
                f"| baseline: majority tissue ({dm.classes[majority]}) everywhere | – | {100 * iou.compute():.1f} | "
                f"{100 * acc.compute():.1f} | – |"]
    else:
        l1, l2, fs = [], [], []
        for b in dm.test_dataloader():
            x, t = b["points"], b["target"]
            l1.append(chamfer.chamfer_distance(x, t, squared=False))
            l2.append(chamfer.chamfer_distance(x, t))
            fs.append(chamfer.f_score(x, t, threshold=0.01))
        rows = [f"## Frog organ completion ({epochs} epochs, {d['n_points']} input points, {d['n_target']} target "
                f"points, batch {d['batch_size']}, 90 test clouds, 20 % removed)", "",
                "| model | parameters | test CD-L1 | test CD-L2 | F-score@1 % | train s |", "|---|---|---|---|---|---|",
                f"| baseline: the partial input returned unchanged | – | {torch.cat(l1).mean():.4f} | "
                f"{torch.cat(l2).mean():.4f} | {100 * torch.cat(fs).mean():.1f} | – |"]
    print("\n".join(rows), flush=True)
    for label, mixer in MEDICAL_MIXERS:
        if models and not any(m.lower() in label.lower() for m in models):
            continue
        L.seed_everything(0)
        dm = PointDataModule(**d)
        task = _medical_task(base, base["model"]["model"], {**opts, "mixer": mixer}, dm)
        seconds, test = _fit_and_test(task, dm, epochs)
        params = sum(p.numel() for p in task.net.parameters())
        if kind == "seg":
            rows.append(f"| {label} | {params:,} | {100 * test['test/miou']:.1f} | {100 * test['test/point_acc']:.1f} | "
                        f"{seconds:.0f} |")
        else:
            rows.append(f"| {label} | {params:,} | {test['test/cd_l1']:.4f} | {test['test/cd_l2']:.4f} | "
                        f"{100 * test['test/fscore']:.1f} | {seconds:.0f} |")
        print(rows[-1], flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ops", action="store_true")
    ap.add_argument("--models", action="store_true")
    ap.add_argument("--medical", action="store_true")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--medical-epochs", type=int, default=None, help="--medical: epochs (default: each config's)")
    ap.add_argument("--tasks", nargs="+", default=["cls", "seg", "completion"], choices=["cls", "seg", "completion"],
                    help="--medical: which tables")
    ap.add_argument("--only", nargs="+", default=None, help="--medical: rows whose label contains one of these")
    ap.add_argument("--out", default=None, help="--medical: output file (default benchmarks/results/points_medical.md)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 8192, 65536], help="N for --ops")
    ns = ap.parse_args()
    if ns.medical:
        parts = ["# Points benchmarks: point SSM on frog anatomy", "",
                 f"`python benchmarks/points.py {' '.join(sys.argv[1:])}` on {os.cpu_count()} CPU cores "
                 f"(torch threads {torch.get_num_threads()}), load average before: {_load()}.", ""]
        for kind in ns.tasks:
            parts += [*(bench_medical(ns.medical_epochs, ns.only) if kind == "cls" else
                        bench_medical_dense(kind, ns.medical_epochs, ns.only)), ""]
        parts.append(f"Load average after: {_load()}.")
        out = ns.out or OUT.with_name("points_medical.md")
        Path(out).write_text("\n".join(parts) + "\n")
        print(Path(out).read_text())
        return 0
    if not (ns.ops or ns.models):
        ns.ops = True
    for wanted, out, title, rows in (
            (ns.ops, OUT, "Point operators (one cloud, median of 3)", lambda: bench_ops(tuple(ns.sizes))),
            (ns.models, OUT_MODELS, f"Models on the shipped KiCad set ({ns.epochs} epochs, 256 points, same budget)",
             lambda: bench_models(ns.epochs))):
        if not wanted:
            continue
        parts = ["# Points benchmarks", "",
                 f"`python benchmarks/points.py {' '.join(sys.argv[1:])}` on {os.cpu_count()} CPU cores "
                 f"(torch threads {torch.get_num_threads()}), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
                 f"load average before: {_load()}.", "", f"## {title}", "", *rows(), "",
                 f"Load average after: {_load()}."]
        out.write_text("\n".join(parts) + "\n")
        print(out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
