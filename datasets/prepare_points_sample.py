"""Prepare ``datasets/samples/points_kicad.npz`` from Debian's ``kicad-packages3d`` VRML models.

    mkdir /tmp/kicad && cd /tmp/kicad && apt-get download kicad-packages3d
    dpkg-deb --fsys-tarfile kicad-packages3d_*.deb | tar x --wildcards '*.wrl'
    python -m spanmix.datasets.prepare_points_sample --root /tmp/kicad/usr/share/kicad/3dmodels

Never extract the .deb into the repository. ``CATEGORIES`` are ten KiCad library folders of clearly
different shapes; ``PER_CLASS`` models are taken evenly spaced from each folder's sorted file list (the
folders hold long series of the same part at growing sizes or pin counts), split by model 24/4/8 into
train/val/test with a seeded shuffle. Each model: ``N_POINTS`` points sampled uniformly by area (seed =
the model's index), centred and scaled to the unit sphere, face normals, and per-point part labels from
the VRML shape materials (``spanmix.datasets.points.material_part``). Stored compactly: points float16,
normals int8 (x127), labels uint8.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from spanmix.datasets.points import (
    KICAD_SAMPLE,
    PART_NAMES,
    material_part,
    normalize_unit_sphere,
    read_vrml,
    sample_mesh,
)

CATEGORIES = ("Capacitor_THT", "Connector_PinHeader_2.54mm", "Package_DIP", "Package_QFP", "Package_BGA",
              "Connector_Dsub", "Resistor_THT", "Crystal", "LED_THT", "Relay_THT")
PER_CLASS = 36
SPLIT = (24, 4, 8)
N_POINTS = 1024


def prepare(root: Path, out: Path, n_points: int = N_POINTS, per_class: int = PER_CLASS) -> dict:
    points, normals, labels, parts, names, splits = [], [], [], [], [], []
    rng = np.random.default_rng(0)
    for c, cat in enumerate(CATEGORIES):
        files = sorted((root / f"{cat}.3dshapes").glob("*.wrl"))
        if len(files) < per_class:
            raise SystemExit(f"{cat}: {len(files)} models, need {per_class} (is --root the 3dmodels folder?)")
        chosen = [files[i] for i in np.linspace(0, len(files) - 1, per_class).round().astype(int)]
        split = np.array(["train"] * SPLIT[0] + ["val"] * SPLIT[1] + ["test"] * SPLIT[2])
        split = split[rng.permutation(len(split))] if per_class == sum(SPLIT) else \
            np.where(rng.random(per_class) < 0.7, "train", np.where(rng.random(per_class) < 0.33, "val", "test"))
        for f, s in zip(chosen, split):
            v, faces, mats = read_vrml(f)
            face_part = np.array([material_part(m) for m in mats])
            cloud = sample_mesh(v, faces, n_points, seed=len(names), face_labels=face_part)
            points.append(normalize_unit_sphere(cloud.points))
            normals.append(np.clip(np.round(cloud.normals * 127), -127, 127).astype(np.int8))
            parts.append(cloud.labels.astype(np.uint8))
            labels.append(c)
            names.append(f"{cat}/{f.name}")
            splits.append(s)
        print(f"{cat}: {per_class} models", file=sys.stderr)
    arrays = dict(points=np.stack(points).astype(np.float16), normals=np.stack(normals),
                  label=np.array(labels, np.uint8), parts=np.stack(parts), split=np.array(splits),
                  classes=np.array(CATEGORIES), names=np.array(names), part_names=np.array(PART_NAMES))
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    return arrays


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", required=True, type=Path, help="the extracted .../share/kicad/3dmodels folder")
    p.add_argument("--out", type=Path, default=KICAD_SAMPLE)
    p.add_argument("--n-points", type=int, default=N_POINTS)
    ns = p.parse_args(argv)
    a = prepare(ns.root, ns.out, ns.n_points)
    frac = np.bincount(a["parts"].ravel(), minlength=len(PART_NAMES)) / a["parts"].size
    print(f"wrote {ns.out}: {len(a['label'])} models, parts " +
          ", ".join(f"{n} {f:.1%}" for n, f in zip(PART_NAMES, frac)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
