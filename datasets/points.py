"""Point clouds: file IO (open3d), mesh sampling, normalisation, the shipped KiCad shape set, and the
standard benchmark loaders.

    from spanmix.datasets.points import read_point_file, load_kicad_sample

    cloud = read_point_file("part.stl", n_points=1024, seed=0)  # PointCloud(points (1024, 3), normals (1024, 3))
    data = load_kicad_sample()                                   # dict: points (M, 1024, 3), normals, label, parts, ...

Reading (``read_point_file``): PLY, PCD, XYZ (also ``.xyzn``/``.pts``/``.txt``: 3 or 6 columns), OFF, STL,
OBJ through open3d, and KiCad's VRML 2.0 (``.wrl``, IndexedFaceSets) through :func:`read_vrml`. A mesh is
sampled to ``n_points`` uniformly by area (seeded; per-point normals are the face normals) or by Poisson
disk (``method="poisson"``, open3d's sampler with open3d's seeded RNG). A cloud with more points than
``n_points`` is reduced by a seeded random choice, one with fewer is padded by repeating seeded random
points (the usual ModelNet convention). Each of these gets one :class:`PointDataError` (a ``ValueError``)
naming the problem and the expected form: an unsupported extension, a file that is not a mesh or cloud,
an empty cloud, NaN/inf coordinates, 2-D points, more than ``max_points`` points.

Shipped real set (``load_kicad_sample``): ``datasets/samples/points_kicad.npz``, prepared from Debian's
``kicad-packages3d`` CAD models by ``python -m spanmix.datasets.prepare_points_sample`` (README in
``datasets/samples/``; CC-BY-SA-4.0 with the KiCad library exception). Each model's VRML shapes carry
their own material, which gives real per-point part labels (``PART_NAMES``: body, pins/metal, marking).

Standard sets (``load_modelnet40_h5``, ``load_scanobjectnn``, ``load_shapenetpart``, ``load_fewshot_folds``)
read the official layouts from ``$SPANMIX_CACHE/points`` (see :mod:`spanmix.datasets.cache`); offline they
raise :class:`DatasetNotAvailable` saying where to put the files.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "CLOUD_EXTENSIONS", "MESH_EXTENSIONS", "PART_NAMES", "SAMPLES_DIR", "DatasetNotAvailable",
    "PointCloud", "PointDataError", "check_points", "fit_to_n", "load_kicad_sample", "material_part",
    "normalize_unit_sphere", "open_shipped_sample", "read_point_file", "read_vrml", "sample_mesh",
]

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
KICAD_SAMPLE = SAMPLES_DIR / "points_kicad.npz"
CLOUD_EXTENSIONS = (".ply", ".pcd", ".xyz", ".xyzn", ".xyzrgb", ".pts", ".txt")
MESH_EXTENSIONS = (".ply", ".off", ".stl", ".obj", ".wrl")
#: Part labels of the KiCad set, from each VRML shape's material (see :func:`material_part`).
PART_NAMES = ("body", "pins", "marking")
DEFAULT_MAX_POINTS = 2_000_000


class PointDataError(ValueError):
    """Bad point-cloud input: the message names the problem and the expected form."""


class DatasetNotAvailable(FileNotFoundError):
    """A standard set is not in the cache and was not (or could not be) downloaded."""


@dataclass
class PointCloud:
    """``points`` (N, 3) float32; ``normals`` (N, 3) float32 or None; ``labels`` (N,) int64 or None."""

    points: np.ndarray
    normals: np.ndarray | None = None
    labels: np.ndarray | None = None


def check_points(points, *, name: str = "points", max_points: int = DEFAULT_MAX_POINTS) -> np.ndarray:
    """``points`` as a float32 (N, 3) array, or a :class:`PointDataError` for 2-D points, another shape,
    an empty cloud, NaN/inf coordinates or more than ``max_points`` points."""
    arr = np.asarray(points)
    if arr.ndim != 2 or arr.shape[-1] not in (2, 3):
        raise PointDataError(f"{name}: expected an (N, 3) array of x, y, z coordinates, got shape {arr.shape}")
    if arr.shape[-1] == 2:
        raise PointDataError(f"{name}: the points are 2-D (N, 2); expected 3-D points (N, 3) with x, y, z")
    if len(arr) == 0:
        raise PointDataError(f"{name}: the point cloud is empty; expected at least one (x, y, z) point")
    if len(arr) > max_points:
        raise PointDataError(f"{name}: {len(arr):,} points is more than the cap of {max_points:,} "
                             f"(raise max_points, or subsample the cloud first)")
    if not np.issubdtype(arr.dtype, np.number):
        raise PointDataError(f"{name}: expected numeric coordinates, got dtype {arr.dtype}")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise PointDataError(f"{name}: {int(bad.sum())} point(s) have NaN or infinite coordinates "
                             f"(first at row {int(np.flatnonzero(bad)[0])}); expected finite x, y, z")
    return arr.astype(np.float32, copy=False)


def normalize_unit_sphere(points: np.ndarray) -> np.ndarray:
    """Centre on the centroid and scale so the farthest point lies on the unit sphere (ModelNet's
    convention, as in PointNet++'s ``pc_normalize``). A single point maps to the origin."""
    centred = points - points.mean(axis=0, keepdims=True)
    radius = float(np.linalg.norm(centred, axis=1).max())
    return (centred / radius if radius > 0 else centred).astype(np.float32)


def fit_to_n(cloud: PointCloud, n_points: int, seed: int = 0) -> PointCloud:
    """``n_points`` of ``cloud``: a seeded random subset without replacement, or all points padded with
    seeded random repeats."""
    n = len(cloud.points)
    rng = np.random.default_rng(seed)
    idx = rng.choice(n, n_points, replace=False) if n >= n_points else \
        np.concatenate([np.arange(n), rng.choice(n, n_points - n, replace=True)])
    pick = (lambda a: None if a is None else a[idx])
    return PointCloud(cloud.points[idx], pick(cloud.normals), pick(cloud.labels))


def sample_mesh(vertices: np.ndarray, faces: np.ndarray, n_points: int, *, seed: int = 0,
                face_labels: np.ndarray | None = None) -> PointCloud:
    """``n_points`` uniformly by area on the triangles ``faces`` (F, 3) of ``vertices`` (V, 3), seeded.

    Normals are the unit face normals (by the face's winding); ``face_labels`` (F,) become per-point labels.
    Written here rather than with open3d's ``sample_points_uniformly`` because that one cannot carry a
    per-face label to the sampled points (the KiCad part labels need it); ``method="poisson"`` in
    :func:`read_point_file` uses open3d's Poisson-disk sampler.
    """
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    if f.ndim != 2 or f.shape[1] != 3 or len(f) == 0:
        raise PointDataError(f"mesh: expected triangles as an (F, 3) index array with F >= 1, got shape {f.shape}")
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    cross = np.cross(b - a, c - a)
    area = np.linalg.norm(cross, axis=1)
    if not np.isfinite(area).all() or area.sum() <= 0:
        raise PointDataError("mesh: the triangles have zero total area (or non-finite vertices); "
                             "expected a surface mesh with finite x, y, z vertices")
    rng = np.random.default_rng(seed)
    tri = rng.choice(len(f), n_points, p=area / area.sum())
    r1, r2 = rng.random(n_points), rng.random(n_points)
    s = np.sqrt(r1)  # uniform barycentric coordinates (Osada et al. 2002)
    pts = (1 - s)[:, None] * a[tri] + (s * (1 - r2))[:, None] * b[tri] + (s * r2)[:, None] * c[tri]
    normals = cross[tri] / np.maximum(area[tri], 1e-30)[:, None]
    labels = None if face_labels is None else np.asarray(face_labels, dtype=np.int64)[tri]
    return PointCloud(pts.astype(np.float32), normals.astype(np.float32), labels)


# ------------------------------------------------------------------ VRML (KiCad)
_SHAPE = re.compile(r"Shape\s*\{")
_MATERIAL = re.compile(r"material\s+(?:DEF|USE)\s+([A-Za-z0-9_.\-]+)")
_COORD_INDEX = re.compile(r"coordIndex\s*\[([^\]]*)\]")
_POINT = re.compile(r"point\s*\[([^\]]*)\]")


def material_part(material: str) -> int:
    """KiCad material name -> index into ``PART_NAMES``: ``PIN-*``/``MET-*`` (leads, pads, metal) are
    pins, ``IC-LABEL-*`` (printed markings) marking, every other material (epoxy, plastic, ceramic,
    glass, board) body."""
    m = material.upper()
    if m.startswith(("PIN-", "MET-")):
        return 1
    if "LABEL" in m:
        return 2
    return 0


def read_vrml(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Triangles of a VRML 2.0 file made of ``Shape { IndexedFaceSet }`` nodes (as KiCad's StepUp
    exporter writes them): ``vertices`` (V, 3), ``faces`` (F, 3), and each face's material name.

    Polygons are fan-triangulated. Transforms, PROTOs and other geometry nodes are not supported
    (KiCad's files have none); a file with no IndexedFaceSet is a :class:`PointDataError`.
    """
    text = Path(path).read_text(errors="replace")
    if not text.lstrip().startswith("#VRML"):
        raise PointDataError(f"{path}: not a VRML file (no '#VRML' header); expected VRML 2.0 with IndexedFaceSets")
    starts = [m.start() for m in _SHAPE.finditer(text)] + [len(text)]
    verts, faces, materials = [], [], []
    offset = 0
    for lo, hi in zip(starts[:-1], starts[1:]):
        block = text[lo:hi]
        ci, pt, mat = _COORD_INDEX.search(block), _POINT.search(block), _MATERIAL.search(block)
        if ci is None or pt is None:
            continue  # a material-only Shape (KiCad defines the materials first)
        v = np.array(pt.group(1).replace(",", " ").split(), dtype=np.float64).reshape(-1, 3)
        idx = np.array(ci.group(1).replace(",", " ").split(), dtype=np.int64)
        for poly in np.split(idx, np.flatnonzero(idx == -1)):
            poly = poly[poly >= 0]
            for k in range(1, len(poly) - 1):
                faces.append((poly[0] + offset, poly[k] + offset, poly[k + 1] + offset))
                materials.append(mat.group(1) if mat else "")
        verts.append(v)
        offset += len(v)
    if not faces:
        raise PointDataError(f"{path}: no IndexedFaceSet triangles found; expected a VRML mesh")
    return np.concatenate(verts), np.asarray(faces, dtype=np.int64), materials


# ------------------------------------------------------------------ files
def _read_text_cloud(path: Path) -> PointCloud:
    try:
        arr = np.loadtxt(path, dtype=np.float64, ndmin=2, comments=("#", "//"))
    except ValueError as e:
        raise PointDataError(f"{path.name}: not a point-cloud text file ({e}); expected one point per line "
                             "as 'x y z' or 'x y z nx ny nz'") from None
    if arr.size == 0:
        raise PointDataError(f"{path.name}: the point cloud is empty; expected one 'x y z' point per line")
    if arr.shape[1] == 2:
        raise PointDataError(f"{path.name}: the points are 2-D (2 columns); expected 3-D points 'x y z'")
    if arr.shape[1] < 3:
        raise PointDataError(f"{path.name}: {arr.shape[1]} column(s); expected 'x y z' or 'x y z nx ny nz'")
    return PointCloud(arr[:, :3], arr[:, 3:6] if arr.shape[1] >= 6 else None)


def _ply_vertex_count(path: Path) -> int | None:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if not head.startswith(b"ply"):
        return None
    m = re.search(rb"element\s+vertex\s+(\d+)", head)
    return int(m.group(1)) if m else None


def read_point_file(path: str | os.PathLike, n_points: int | None = 1024, *, seed: int = 0,
                    method: str = "uniform", max_points: int = DEFAULT_MAX_POINTS,
                    normalize: bool = True) -> PointCloud:
    """Read a mesh or point-cloud file as ``n_points`` points with normals (see the module docstring).

    Args:
        path: ``.ply .pcd .xyz .xyzn .xyzrgb .pts .txt .off .stl .obj .wrl``.
        n_points: points returned (sampled from a mesh, subsampled/padded for a cloud); ``None`` keeps
            a cloud's points as they are (meshes need a number).
        seed: the sampling seed. method: ``uniform`` (by area) or ``poisson`` (open3d's Poisson disk).
        max_points: cap on the points (or mesh vertices) in the file.
        normalize: centre and scale to the unit sphere.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in CLOUD_EXTENSIONS + MESH_EXTENSIONS:
        raise PointDataError(f"{path.name}: unsupported file type {ext or '(none)'}; expected one of "
                             f"{', '.join(sorted(set(CLOUD_EXTENSIONS + MESH_EXTENSIONS)))}")
    if method not in ("uniform", "poisson"):
        raise PointDataError(f"method must be 'uniform' or 'poisson', got {method!r}")
    if n_points is not None and (not isinstance(n_points, int) or n_points < 1):
        raise PointDataError(f"n_points must be a positive integer or None, got {n_points!r}")
    if not path.is_file():
        raise PointDataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise PointDataError(f"{path.name}: the file is empty; expected a mesh or point cloud")
    if ext == ".wrl":
        v, f, _ = read_vrml(path)
        check_points(v, name=path.name, max_points=max_points)
        cloud = _sample(v, f, n_points, seed, method, path)
    elif ext in (".xyz", ".xyzn", ".pts", ".txt"):
        cloud = _read_text_cloud(path)
    else:
        cloud = _read_open3d(path, ext, n_points, seed, method, max_points)
    check_points(cloud.points, name=path.name, max_points=max_points)
    if n_points is not None and len(cloud.points) != n_points:
        cloud = fit_to_n(cloud, n_points, seed)
    points = normalize_unit_sphere(cloud.points) if normalize else cloud.points.astype(np.float32)
    normals = None if cloud.normals is None else cloud.normals.astype(np.float32)
    return PointCloud(points, normals, cloud.labels)


def _sample(v, f, n_points, seed, method, path) -> PointCloud:
    if n_points is None:
        raise PointDataError(f"{path.name} is a mesh: give n_points (how many surface points to sample)")
    if method == "uniform":
        return sample_mesh(v, f, n_points, seed=seed)
    import open3d as o3d

    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(np.asarray(v, np.float64)),
                                     o3d.utility.Vector3iVector(np.asarray(f, np.int32)))
    mesh.compute_triangle_normals()
    o3d.utility.random.seed(seed)
    pcd = mesh.sample_points_poisson_disk(n_points)
    return PointCloud(np.asarray(pcd.points), np.asarray(pcd.normals) if pcd.has_normals() else None)


def _read_open3d(path: Path, ext: str, n_points, seed, method, max_points) -> PointCloud:
    import open3d as o3d

    if ext == ".ply" and _ply_vertex_count(path) == 0:
        raise PointDataError(f"{path.name}: the point cloud is empty (0 vertices); expected at least one point")
    if ext in MESH_EXTENSIONS:
        mesh = o3d.io.read_triangle_mesh(str(path))
        if len(mesh.triangles) > 0:
            v = np.asarray(mesh.vertices)
            check_points(v, name=path.name, max_points=max_points)
            return _sample(v, np.asarray(mesh.triangles), n_points, seed, method, path)
        if ext != ".ply":
            if len(mesh.vertices) > 0:
                raise PointDataError(f"{path.name}: the mesh has vertices but no triangles; expected a "
                                     "triangle mesh (or save the points as .ply/.pcd/.xyz)")
            raise PointDataError(f"{path.name}: could not read a mesh from this file; expected a valid "
                                 f"{ext[1:].upper()} triangle mesh")
    pcd = o3d.io.read_point_cloud(str(path), remove_nan_points=False, remove_infinite_points=False)
    if len(pcd.points) == 0:
        raise PointDataError(f"{path.name}: could not read any point from this file; expected a valid "
                             f"{ext[1:].upper()} point cloud or mesh")
    return PointCloud(np.asarray(pcd.points), np.asarray(pcd.normals) if pcd.has_normals() else None)


# ------------------------------------------------------------------ shipped set
def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-6)


def open_shipped_sample(path: str | os.PathLike | None, default: Path, regenerate: str):
    """``np.load`` of a shipped point sample (``path``, or ``default`` when None); a missing file is one
    ``DatasetNotAvailable`` naming it and ``regenerate``, the command that makes it."""
    path = Path(path) if path is not None else default
    if not path.is_file():
        raise DatasetNotAvailable(f"{path} is missing; regenerate it with {regenerate}")
    return np.load(path, allow_pickle=False)


def load_kicad_sample(path: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """The shipped KiCad shape set: ``points`` (M, N, 3) float32 on the unit sphere, ``normals`` (M, N, 3)
    float32, ``label`` (M,) int64 category, ``parts`` (M, N) int64 part labels (``PART_NAMES``), ``split``
    (M,) str (``train``/``val``/``test``, by model), ``classes`` (C,) str, ``names`` (M,) str (model files)."""
    with open_shipped_sample(path, KICAD_SAMPLE,
                             "`python -m spanmix.datasets.prepare_points_sample` (needs kicad-packages3d)") as z:
        return {
            "points": z["points"].astype(np.float32),
            "normals": _unit(z["normals"].astype(np.float32)),
            "label": z["label"].astype(np.int64),
            "parts": z["parts"].astype(np.int64),
            "split": z["split"].astype(str),
            "classes": z["classes"].astype(str),
            "names": z["names"].astype(str),
        }
