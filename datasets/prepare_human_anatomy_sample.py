"""Prepare ``datasets/samples/points_human.npz``: partial surface point clouds of six structures of the human
head, from the FreeSurfer **fsaverage** template shipped inside two Python packages (no download at run time).

    pip download nilearn==0.14.1 --no-deps -d /tmp/nl          # 11 MB wheel; nilearn need not be installed
    python -m spanmix.datasets.prepare_human_anatomy_sample \
        --nilearn-wheel /tmp/nl/nilearn-0.14.1-py3-none-any.whl

Sources (``HUMAN_STRUCTURES`` in ``spanmix.datasets.human_anatomy_points``):

- ``scalp``: ``mne/data/fsaverage/fsaverage-head.fif`` of the installed mne (BSD-3; 2,033 vertices);
- ``inner_skull``: ``mne/data/fsaverage/fsaverage-inner_skull-bem.fif`` (10,242 vertices);
- ``pial_left`` / ``pial_right`` / ``white_left`` / ``white_right``: the fsaverage5 cortical surfaces in the
  nilearn wheel (BSD-3), ``nilearn/datasets/data/fsaverage5/{pial,white}_{left,right}.gii.gz`` (10,242
  vertices per hemisphere). The GIFTI files are decoded here with the standard library (no nibabel).

All six are in fsaverage's surface RAS frame (mne stores metres, GIFTI millimetres; both are converted to
millimetres). fsaverage is FreeSurfer's average subject (surfaces averaged over subjects in Talairach space,
FreeSurfer wiki "GroupAverageSurface"; 40 brains per Feilong et al., Nat. Methods 2024): ONE average anatomy.

Crops (all seeded): each surface is sampled uniformly by area (``DENSE_POINTS`` points: triangles drawn in
proportion to their area, uniform barycentric points) and cut into three disjoint regions: **test** = the
``TEST_REGION`` (20 %) of its points nearest a random point, **val** = the ``VAL_REGION`` (20 %) of the rest
nearest the point of the rest farthest from it, **train** = the remaining 60 %. Inside each region,
``N_TRAIN`` / ``N_VAL`` / ``N_TEST`` seeds are spread by farthest point sampling; a crop is the points nearest
its seed, subsampled to ``CLS_POINTS``:

- ``--held-out seeds`` (shipped): the 25 % of the whole surface nearest the seed. Val/test crops are centred
  where no training crop is centred, but training crops reach into the held-out regions: on the shipped set
  every point of every test crop also lies in some training crop (``test_overlap`` 1.0). New crops (other
  centres, other extents), not new surface.
- ``--held-out surface``: the 15 % of the surface nearest the seed among its region's points only, so no test
  point lies in a training crop (``test_overlap`` 0). With it, no model we tried beat chance on the test
  crops (point SSM tiny 13.9 %, DGCNN 16.7 %; chance 16.7 %): that set asks for recognising surface never
  seen.

Each crop is centred on its own mean (position is dropped) but scaled by ONE set-wide factor (1 / the largest
scalp radius, ~0.01 per mm), so relative size — a real anatomical cue (scalp > inner skull > cortex) — and
orientation (left vs right hemisphere) are kept; ``cls_centre`` (float32) holds each crop's mean in the same
scaled template frame (``cls_points + cls_centre`` puts the crops back in place). Coordinates are float16.
"""
from __future__ import annotations

import argparse
import base64
import gzip
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np

from spanmix.datasets.human_anatomy_points import HUMAN_SAMPLE, HUMAN_STRUCTURES
from spanmix.datasets.prepare_medical_points_sample import fps

DENSE_POINTS, CLS_POINTS = 20000, 512
CROP_FRACTION = {"seeds": 0.25, "surface": 0.15}
N_TRAIN, N_VAL, N_TEST = 20, 6, 6
TEST_REGION, VAL_REGION = 0.2, 0.2
GII = "nilearn/datasets/data/fsaverage5/{}.gii.gz"


def read_gifti(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V, 3) float32 and triangles (T, 3) int of a GIFTI surface (GZipBase64Binary or
    Base64Binary)."""
    text = raw.decode()
    arrays = {}
    for head, payload in re.findall(r"<DataArray([^>]*)>.*?<Data>\s*([^<]*?)\s*</Data>", text, flags=re.S):
        attr = dict(re.findall(r'(\w+)="([^"]*)"', head))
        if (attr.get("Endian", "LittleEndian") != "LittleEndian"
                or attr.get("ArrayIndexingOrder") != "RowMajorOrder"):
            raise ValueError("expected little-endian, row-major GIFTI arrays (as nilearn ships)")
        data = base64.b64decode(payload)
        if attr["Encoding"] == "GZipBase64Binary":
            data = zlib.decompress(data)
        elif attr["Encoding"] != "Base64Binary":
            raise ValueError(f"unsupported GIFTI encoding {attr['Encoding']}")
        dtype = {"NIFTI_TYPE_FLOAT32": np.float32, "NIFTI_TYPE_INT32": np.int32}[attr["DataType"]]
        arrays[attr["Intent"]] = np.frombuffer(data, dtype).reshape(int(attr["Dim0"]), int(attr["Dim1"]))
    vertices, triangles = arrays["NIFTI_INTENT_POINTSET"], arrays["NIFTI_INTENT_TRIANGLE"]
    return vertices.astype(np.float32), triangles.astype(np.int64)


def read_mne_surface(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (mm) and triangles of ``mne/data/fsaverage/<name>`` (a BEM surface file)."""
    import mne

    path = Path(mne.__file__).parent / "data" / "fsaverage" / name
    (surf,) = mne.read_bem_surfaces(path, verbose=False)
    return (surf["rr"] * 1000.0).astype(np.float32), surf["tris"].astype(np.int64)


def sample_surface(v: np.ndarray, t: np.ndarray, n: int, rng) -> np.ndarray:
    """``n`` points uniform by area on the triangle mesh (v, t)."""
    a, b, c = v[t[:, 0]], v[t[:, 1]], v[t[:, 2]]
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    tri = rng.choice(len(t), n, p=area / area.sum())
    u, w = rng.random(n), rng.random(n)
    flip = u + w > 1
    u[flip], w[flip] = 1 - u[flip], 1 - w[flip]
    return (a[tri] + u[:, None] * (b[tri] - a[tri]) + w[:, None] * (c[tri] - a[tri])).astype(np.float32)


def regions(dense: np.ndarray, rng) -> np.ndarray:
    """train / val / test per dense point: test = the TEST_REGION share nearest a random point, val = the
    VAL_REGION share of the rest nearest the point of the rest farthest from it, train = the rest."""
    names = np.array(["train"] * len(dense), dtype="<U5")
    d0 = ((dense - dense[rng.integers(len(dense))]) ** 2).sum(1)
    names[np.argsort(d0, kind="stable")[:int(round(TEST_REGION * len(dense)))]] = "test"
    rest = np.flatnonzero(names == "train")
    dv = ((dense[rest] - dense[rest[np.argmax(d0[rest])]]) ** 2).sum(1)
    names[rest[np.argsort(dv, kind="stable")[:int(round(VAL_REGION * len(dense)))]]] = "val"
    return names


def surfaces(wheel: zipfile.ZipFile) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {"scalp": read_mne_surface("fsaverage-head.fif"),
           "inner_skull": read_mne_surface("fsaverage-inner_skull-bem.fif")}
    for kind in ("pial", "white"):
        for side in ("left", "right"):
            out[f"{kind}_{side}"] = read_gifti(gzip.decompress(wheel.read(GII.format(f"{kind}_{side}"))))
    return out


def prepare(wheel_path: str, out: Path, seed: int = 0, held_out: str = "seeds") -> dict:
    rng = np.random.default_rng(seed)
    with zipfile.ZipFile(wheel_path) as wheel:
        meshes = surfaces(wheel)
        nilearn_version = re.search(r"nilearn-([\w.]+)\.dist-info/", "\n".join(wheel.namelist())).group(1)
    import mne

    scalp = meshes["scalp"][0]
    scale = 1.0 / np.linalg.norm(scalp - scalp.mean(0), axis=1).max()
    cls_points, cls_centre, cls_label, cls_split, overlap = [], [], [], [], []
    for c, name in enumerate(HUMAN_STRUCTURES):
        dense = sample_surface(*meshes[name], DENSE_POINTS, rng)
        region = regions(dense, rng)
        seen, crops = np.zeros(DENSE_POINTS, bool), []
        for split, n_crops in (("train", N_TRAIN), ("val", N_VAL), ("test", N_TEST)):
            inside = np.flatnonzero(region == split)
            pool = inside if held_out == "surface" else np.arange(DENSE_POINTS)
            keep = int(round(CROP_FRACTION[held_out] * DENSE_POINTS))
            for s in inside[fps(dense[inside], n_crops, rng)]:
                near = pool[np.argsort(((dense[pool] - dense[s]) ** 2).sum(1), kind="stable")[:keep]]
                seen[near] |= split == "train"
                crops.append((split, near))
                p = dense[rng.choice(near, CLS_POINTS, replace=False)]
                cls_points.append((p - p.mean(0)) * scale)
                cls_centre.append(p.mean(0) * scale)
            cls_label += [c] * n_crops
            cls_split += [split] * n_crops
        overlap += [seen[near].mean() for split, near in crops if split == "test"]
    arrays = dict(
        structures=np.array(HUMAN_STRUCTURES), cls_points=np.stack(cls_points).astype(np.float16),
        cls_label=np.array(cls_label, np.int8), cls_split=np.array(cls_split), scale_per_mm=np.float32(scale),
        cls_centre=np.stack(cls_centre).astype(np.float32), held_out=np.array(held_out),
        test_overlap=np.float32(np.mean(overlap)),
        provenance=np.array(
            f"FreeSurfer fsaverage template: scalp and inner skull from mne {mne.__version__} "
            "(mne/data/fsaverage/fsaverage-head.fif, fsaverage-inner_skull-bem.fif; BSD-3 package), "
            f"pial/white surfaces of both hemispheres from the nilearn {nilearn_version} wheel "
            "(nilearn/datasets/data/fsaverage5/*.gii.gz; BSD-3 package); fsaverage itself under "
            "the FreeSurfer Software License; datasets/prepare_human_anatomy_sample.py"),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    print(f"held out {held_out}: mean share of a test crop's points inside some training crop "
          f"{np.mean(overlap):.3f}")
    return {k: v.shape for k, v in arrays.items()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nilearn-wheel", required=True,
                    help="a nilearn wheel (.whl) holding " + GII.format("*"))
    ap.add_argument("--out", default=str(HUMAN_SAMPLE))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--held-out", choices=("seeds", "surface"), default="seeds",
                    help="seeds (shipped): val/test crops seeded in held-out regions, cut from the whole "
                         "surface; "
                         "surface: val/test crops cut from held-out regions only (no shared surface)")
    a = ap.parse_args(argv)
    print(prepare(a.nilearn_wheel, Path(a.out), a.seed, a.held_out))


if __name__ == "__main__":
    main()
