"""Prepare ``datasets/samples/points_frog.npz``: real anatomy point clouds from the frog tissue label volume
that ships inside the ``pyvista`` wheel (``pyvista/examples/frog_tissues.vti``, MIT; the Whole Frog Project,
Lawrence Berkeley Laboratory, as distributed with VTK's examples).

    pip download pyvista==0.49.1 --no-deps -d /tmp/pv            # 2.7 MB wheel; vtk is not needed
    python -m spanmix.datasets.prepare_medical_points_sample --wheel /tmp/pv/pyvista-0.49.1-py3-none-any.whl
    python -m spanmix.datasets.prepare_medical_points_sample --vti frog_tissues.vti        # or the file itself

The .vti (VTK XML ImageData, zlib-compressed, base64) is decoded here with the standard library, so
neither pyvista nor vtk has to be installed. The volume is 500 x 470 x 136 voxels, spacing (1, 1, 1.5),
labels 0..29; labels 1..15 are the 15 tissues of VTK's frog examples (``FROG_TISSUES`` in
``spanmix.datasets.medical_points``); labels 16..29 hold fewer than 300 voxels each and are dropped.

Surface points: the voxels of a tissue with a 6-neighbour of another label, at their physical position
plus a seeded uniform jitter inside the voxel. From them (all seeded):

- ``cls_*``: per tissue, ``CROPS_PER_TISSUE`` partial-organ clouds: a fraction drawn uniformly in
  ``CROP_FRACTION`` (40-70 %) of its surface nearest a seed (seeds spread by farthest point sampling over the
  tissue), ``CLS_POINTS`` points each, centred on their mean and divided by ONE frog-wide scale (the largest
  crop radius), so a crop keeps its physical size: organ size is a legitimate anatomical cue (spleen crops
  reach 0.05 of the scale, skeleton crops 0.7-1). Split by seed: 20 train / 6 val / 6 test per tissue
  (seeds interleaved along the FPS order, so val/test crops are centred elsewhere than any train crop;
  with 40-70 % crops of one organ they still overlap train crops' surface).
- ``seg_*``: ``SEG_CROPS`` whole-body crops: the ``SEG_FRACTION`` of the whole body's surface points
  nearest a seed, ``SEG_POINTS`` points each with their tissue label; split 20 / 6 / 6 by seed.
- completion uses the ``cls`` clouds as targets; the loader removes the 20% nearest a seeded random
  point (MedPointS's rule) to make the partial input.

There is a single specimen: train and test clouds are different views of the same organs, so the scores
on this set measure recognising and completing organ shapes of this frog, not generalising across
subjects. Classification clouds are scaled frog-wide (above); segmentation crops are centred and scaled to
the unit sphere each. Coordinates are stored as float16.

History: a first version scaled every classification crop to the unit sphere and used 16 crops of 50 % per
tissue; with that, no model learned (handcrafted shape features + logistic regression: 49 % test OA; the
trained nets near chance). With frog-wide scale, 40-70 % crops and 32 crops per tissue the same features
reach 61 % and DGCNN 92 % val OA after 6 epochs (see issue 15's report).
"""
from __future__ import annotations

import argparse
import base64
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np

from spanmix.datasets.medical_points import FROG_SAMPLE, FROG_TISSUES

CROPS_PER_TISSUE, CROP_FRACTION, CLS_POINTS = 32, (0.4, 0.7), 512
SEG_CROPS, SEG_FRACTION, SEG_POINTS = 32, 0.25, 2048
VTI_MEMBER = "pyvista/examples/frog_tissues.vti"


def read_vti(text: str) -> tuple[np.ndarray, tuple[float, float, float]]:
    """The label volume (z, y, x) uint8 and the (x, y, z) spacing of a zlib-compressed binary .vti."""
    ext = [int(v) for v in re.search(r'WholeExtent="([^"]+)"', text).group(1).split()]
    spacing = tuple(float(v) for v in re.search(r'Spacing="([^"]+)"', text).group(1).split())
    if 'compressor="vtkZLibDataCompressor"' not in text or 'header_type="UInt32"' not in text:
        raise ValueError("expected a .vti with UInt32 headers and zlib compression (as pyvista ships)")
    payload = re.search(r"<DataArray[^>]*>\s*([^<]+?)\s*</DataArray>", text).group(1).strip()
    nblocks = int(np.frombuffer(base64.b64decode(payload[:16])[:4], np.uint32)[0])
    head_len = -(-4 * (3 + nblocks) // 3) * 4                 # the header is base64-encoded on its own
    sizes = np.frombuffer(base64.b64decode(payload[:head_len]), np.uint32)[3:3 + nblocks]
    data, off, out = base64.b64decode(payload[head_len:]), 0, []
    for s in sizes:
        out.append(zlib.decompress(data[off:off + int(s)]))
        off += int(s)
    nx, ny, nz = ext[1] - ext[0] + 1, ext[3] - ext[2] + 1, ext[5] - ext[4] + 1
    return np.frombuffer(b"".join(out), np.uint8).reshape(nz, ny, nx), spacing


def surface_points(vol: np.ndarray, spacing, rng) -> tuple[np.ndarray, np.ndarray]:
    """Boundary voxels of labels 1..len(FROG_TISSUES): (P, 3) positions (x, y, z) and (P,) 0-based labels."""
    inside = (vol >= 1) & (vol <= len(FROG_TISSUES))
    pad = np.pad(vol, 1, constant_values=0)
    border = np.zeros_like(inside)
    for axis in range(3):
        for step in (-1, 1):
            border |= np.roll(pad, step, axis=axis)[1:-1, 1:-1, 1:-1] != vol
    z, y, x = np.nonzero(inside & border)
    pts = (np.stack([x, y, z], 1) + rng.uniform(-0.5, 0.5, (len(x), 3))) * np.asarray(spacing)
    return pts.astype(np.float32), vol[z, y, x].astype(np.int64) - 1


def unit_sphere(p: np.ndarray) -> np.ndarray:
    c = p - p.mean(0)
    return c / np.linalg.norm(c, axis=1).max()


def fps(points: np.ndarray, m: int, rng) -> np.ndarray:
    """Farthest point sampling: ``m`` indices of ``points`` (N, 3), the first drawn from ``rng`` (also used by
    the human anatomy sample's script)."""
    chosen = [int(rng.integers(len(points)))]
    d = np.full(len(points), np.inf)
    for _ in range(m - 1):
        d = np.minimum(d, ((points - points[chosen[-1]]) ** 2).sum(1))
        chosen.append(int(d.argmax()))
    return np.asarray(chosen)


def crops(points: np.ndarray, n_crops: int, fraction, n_points: int, rng) -> list[np.ndarray]:
    """Index sets: for seeds spread by FPS, the ``fraction`` of ``points`` nearest each (a number, or a
    (low, high) range drawn uniformly per crop), ``n_points`` of them."""
    out = []
    for s in fps(points, n_crops, rng):
        f = rng.uniform(*fraction) if isinstance(fraction, tuple) else fraction
        keep = max(n_points, int(round(f * len(points))))
        near = np.argsort(((points - points[s]) ** 2).sum(1), kind="stable")[:keep]
        out.append(rng.choice(near, n_points, replace=len(near) < n_points))
    return out


def split_names(n: int, counts: tuple[int, int, int]) -> np.ndarray:
    """Interleaved train/val/test by seed order (FPS seeds: neighbours in the order are far apart)."""
    names = np.array(["train"] * n, dtype="<U5")
    every = n // (counts[1] + counts[2])
    slots = list(range(0, n, every))[: counts[1] + counts[2]]
    for j, i in enumerate(slots):
        names[i] = "val" if j % 2 == 0 else "test"
    return names


def prepare(text: str, out: Path, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    vol, spacing = read_vti(text)
    pts, lab = surface_points(vol, spacing, rng)
    cls_points, cls_label, cls_split = [], [], []
    for t in range(len(FROG_TISSUES)):
        p = pts[lab == t]
        for idx in crops(p, CROPS_PER_TISSUE, CROP_FRACTION, CLS_POINTS, rng):
            cls_points.append(p[idx] - p[idx].mean(0))
        cls_label += [t] * CROPS_PER_TISSUE
        cls_split += list(split_names(CROPS_PER_TISSUE, (20, 6, 6)))
    cls_points = np.stack(cls_points)
    cls_points /= np.linalg.norm(cls_points, axis=2).max()          # one frog-wide scale: sizes are kept
    seg_points, seg_labels = [], []
    for idx in crops(pts, SEG_CROPS, SEG_FRACTION, SEG_POINTS, rng):
        seg_points.append(unit_sphere(pts[idx]))
        seg_labels.append(lab[idx])
    arrays = dict(
        tissues=np.array(FROG_TISSUES), cls_points=cls_points.astype(np.float16),
        cls_label=np.array(cls_label, np.int8), cls_split=np.array(cls_split),
        seg_points=np.stack(seg_points).astype(np.float16), seg_labels=np.stack(seg_labels).astype(np.int8),
        seg_split=split_names(SEG_CROPS, (20, 6, 6)),
        provenance=np.array("pyvista 0.49.1 wheel (MIT): pyvista/examples/frog_tissues.vti; surface voxels of "
                            "tissue labels 1-15; datasets/prepare_medical_points_sample.py (cls crops 40-70 %, frog-wide scale)"),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    return {k: v.shape for k, v in arrays.items()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--wheel", help="a pyvista wheel (.whl) holding " + VTI_MEMBER)
    src.add_argument("--vti", help="frog_tissues.vti itself")
    ap.add_argument("--out", default=str(FROG_SAMPLE))
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    if a.wheel:
        with zipfile.ZipFile(a.wheel) as z:
            text = z.read(VTI_MEMBER).decode()
    else:
        text = Path(a.vti).read_text()
    print(prepare(text, Path(a.out), a.seed))


if __name__ == "__main__":
    main()
