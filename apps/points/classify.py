"""``spanmix points classify``: a mesh or point-cloud file -> the top classes (and per-point parts).

    spanmix points classify --weights pretrained/points/gpsformer_kicad --input part.stl
    spanmix points classify --weights DIR --input scan.ply --json            # {"classes": [...], "probs": [...]}
    spanmix points classify --weights DIR_partseg --input part.obj --parts out.ply   # points coloured by part

The file is read with :func:`spanmix.datasets.points.read_point_file` (sampled to the model's number of
points, seeded, normalised to the unit sphere). A classification export gives class probabilities; a
part-segmentation export (``task: partseg``) gives per-point parts, written with ``--parts`` as a PLY
whose colours are the parts (``PART_COLORS``) and, on the command line, the share of points per part;
its object category is ``--category NAME`` (default: its first category).
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

__all__ = ["PART_COLORS", "classify_cloud", "load_points_model", "main", "write_parts_ply"]

#: RGB in [0, 1] per part index (body grey, pins gold, marking red, then more)
PART_COLORS = np.array([[0.55, 0.55, 0.6], [0.95, 0.7, 0.1], [0.85, 0.15, 0.15], [0.2, 0.5, 0.9],
                        [0.3, 0.75, 0.35], [0.6, 0.3, 0.8]], dtype=np.float64)


def load_points_model(weights: str | Path):
    """The exported ``PointsTask`` at ``weights`` (eval mode) and its hyper-parameters."""
    from spanmix.apps.harness import load_pretrained
    from spanmix.apps.points.task import PointsTask

    task = load_pretrained(weights)
    if not isinstance(task, PointsTask):
        raise ValueError(f"--weights {weights}: not a points model export (found {type(task).__name__})")
    return task, task.hparams


def n_points_of(weights: str | Path, default: int = 1024) -> int:
    """The points per cloud the export was trained with (its training config's ``data.n_points``)."""
    from spanmix.apps.harness import read_pretrained_config

    cfg = read_pretrained_config(weights)
    training = (cfg.get("metadata") or {}).get("training_config") or cfg.get("training_config") or {}
    data = training.get("data") or {}
    if not isinstance(data, dict):
        return default
    return int(data.get("n_points", (data.get("init_args") or {}).get("n_points", default)))


@torch.no_grad()
def classify_cloud(task, points: np.ndarray, normals: np.ndarray | None = None, *, category: int = 0,
                   votes: int = 1) -> dict:
    """Run ``task`` on one cloud ``points`` (N, 3). Returns ``{"probs": (C,)}`` (cls) or
    ``{"parts": (N,), "part_probs": (N, P)}`` (partseg)."""
    hp = task.hparams
    x = torch.as_tensor(points, dtype=torch.float32)
    if hp.in_channels == 6:
        if normals is None:
            raise ValueError("this model takes normals, and the input has none; use a mesh or a cloud with normals")
        x = torch.cat([x, torch.as_tensor(normals, dtype=torch.float32)], -1)
    x = x.unsqueeze(0)
    if hp.task == "partseg":
        probs = torch.softmax(task(x, torch.tensor([category])), -1)[0]
        return {"parts": probs.argmax(-1).numpy(), "part_probs": probs.numpy()}
    from spanmix.apps.points.task import vote_probabilities

    return {"probs": vote_probabilities(task.net, x, votes)[0].numpy()}


def write_parts_ply(path: str | Path, points: np.ndarray, parts: np.ndarray) -> None:
    """Write ``points`` (N, 3) as a PLY point cloud coloured by ``parts`` (N,) (``PART_COLORS``), via open3d."""
    import open3d as o3d

    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(points, np.float64)))
    pcd.colors = o3d.utility.Vector3dVector(PART_COLORS[np.asarray(parts) % len(PART_COLORS)])
    if not o3d.io.write_point_cloud(str(path), pcd):
        raise OSError(f"could not write {path}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="spanmix points classify", description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", required=True, help="an exported points model (pretrained/points/<entry>)")
    p.add_argument("--input", required=True, help="mesh or cloud: .ply .pcd .xyz .off .stl .obj .wrl")
    p.add_argument("--json", action="store_true", help='print {"classes": [...], "probs": [...]} only')
    p.add_argument("--top", type=int, default=5, help="classes to list (default 5)")
    p.add_argument("--parts", default=None, help="write the per-point parts as a coloured PLY (partseg models)")
    p.add_argument("--category", default=None, help="object category for a partseg model (default: its first)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    ns = p.parse_args(list(argv))
    from spanmix.datasets.points import read_point_file

    # Errors (bad file, bad weights) reach the `spanmix` dispatcher, which prints them on one line (exit 2).
    task, hp = load_points_model(ns.weights)
    cloud = read_point_file(ns.input, n_points_of(ns.weights), seed=ns.seed)
    classes = list(hp.classes or [str(i) for i in range(hp.num_classes)])
    if hp.task == "partseg":
        if ns.category is not None and ns.category not in classes:
            raise ValueError(f"--category {ns.category!r} is not one of {classes}")
        cat = classes.index(ns.category) if ns.category else 0
        out = classify_cloud(task, cloud.points, cloud.normals, category=cat)
        names = list(hp.part_names or [str(i) for i in range(hp.num_parts)])
        share = np.bincount(out["parts"], minlength=len(names)) / len(out["parts"])
        if ns.parts:
            write_parts_ply(ns.parts, cloud.points, out["parts"])
        result = {"category": classes[cat], "parts": names, "share": [round(float(s), 4) for s in share]}
        print(json.dumps(result) if ns.json else "\n".join(f"{n:<12} {s:6.1%}" for n, s in zip(names, share)))
        return 0
    if ns.parts:
        raise ValueError("--parts needs a part-segmentation export (task: partseg); these weights classify")
    probs = classify_cloud(task, cloud.points, cloud.normals, votes=1)["probs"]
    order = np.argsort(-probs)[: max(1, ns.top)]
    if ns.json:
        print(json.dumps({"classes": [classes[i] for i in order], "probs": [round(float(probs[i]), 6) for i in order]}))
    else:
        for i in order:
            print(f"{classes[i]:<32} {probs[i]:.3f}")
    return 0
