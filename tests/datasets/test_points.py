"""Point-cloud IO (open3d formats, VRML), its one-error-per-problem contract, and the shipped KiCad set."""
from __future__ import annotations

import numpy as np
import pytest
from spanmix.datasets import points as P

o3d = pytest.importorskip("open3d")


def box_mesh():
    return o3d.geometry.TriangleMesh.create_box(1.0, 2.0, 3.0)


@pytest.mark.parametrize("ext", [".off", ".stl", ".obj", ".ply"])
def test_meshes_are_sampled_seeded_on_the_unit_sphere(tmp_path, ext):
    path = tmp_path / f"box{ext}"
    mesh = box_mesh()
    mesh.compute_triangle_normals()
    assert o3d.io.write_triangle_mesh(str(path), mesh)
    a = P.read_point_file(path, 500, seed=1)
    b = P.read_point_file(path, 500, seed=1)
    c = P.read_point_file(path, 500, seed=2)
    assert a.points.shape == (500, 3) and a.normals.shape == (500, 3)
    np.testing.assert_array_equal(a.points, b.points)
    assert not np.array_equal(a.points, c.points)
    np.testing.assert_allclose(np.linalg.norm(a.points, axis=1).max(), 1.0, rtol=1e-5)
    # every sampled point lies on the box surface: one coordinate at a face of the (normalised) box
    raw = P.read_point_file(path, 500, seed=1, normalize=False).points
    on_face = np.isclose(raw, 0, atol=1e-5) | np.isclose(raw, [1, 2, 3], atol=1e-5)
    assert on_face.any(axis=1).all()
    np.testing.assert_allclose(np.linalg.norm(a.normals, axis=1), 1.0, rtol=1e-5)


def test_poisson_disk_sampling_is_seeded(tmp_path):
    path = tmp_path / "box.stl"
    mesh = box_mesh()
    mesh.compute_triangle_normals()
    o3d.io.write_triangle_mesh(str(path), mesh)
    a = P.read_point_file(path, 200, seed=3, method="poisson")
    b = P.read_point_file(path, 200, seed=3, method="poisson")
    assert a.points.shape == (200, 3)
    np.testing.assert_array_equal(a.points, b.points)


@pytest.mark.parametrize("ext", [".ply", ".pcd", ".xyz"])
def test_clouds_keep_their_points(tmp_path, ext):
    pts = np.random.default_rng(0).normal(size=(300, 3))
    path = tmp_path / f"c{ext}"
    if ext == ".xyz":
        np.savetxt(path, pts)
    else:
        o3d.io.write_point_cloud(str(path), o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts)))
    got = P.read_point_file(path, None, normalize=False).points
    np.testing.assert_allclose(got, pts, rtol=1e-5, atol=1e-5)
    sub = P.read_point_file(path, 100).points  # a seeded subset of the same points
    assert sub.shape == (100, 3)
    pad = P.read_point_file(path, 1000).points  # padded by repeats
    assert pad.shape == (1000, 3) and len(np.unique(pad, axis=0)) == 300


def test_vrml_shapes_give_part_labels(tmp_path):
    wrl = tmp_path / "part.wrl"
    wrl.write_text("""#VRML V2.0 utf8
Shape { appearance Appearance {material DEF PIN-01 Material { diffuseColor 1 1 1 } } }
Shape { appearance Appearance {material DEF IC-BODY-EPOXY-04 Material { diffuseColor 0 0 0 } } }
Shape { geometry IndexedFaceSet
{ coordIndex [0,1,2,3,-1]
coord Coordinate { point [0 0 0,1 0 0,1 1 0,0 1 0] }
}
appearance Appearance{material USE IC-BODY-EPOXY-04 }
}
Shape { geometry IndexedFaceSet
{ coordIndex [0,1,2,-1]
coord Coordinate { point [0 0 1,1 0 1,1 1 1] }
}
appearance Appearance{material USE PIN-01 }
}
""")
    v, f, mats = P.read_vrml(wrl)
    assert v.shape == (7, 3) and f.tolist() == [[0, 1, 2], [0, 2, 3], [4, 5, 6]]
    assert mats == ["IC-BODY-EPOXY-04", "IC-BODY-EPOXY-04", "PIN-01"]
    parts = np.array([P.material_part(m) for m in mats])
    cloud = P.sample_mesh(v, f, 400, seed=0, face_labels=parts)
    assert set(np.unique(cloud.labels)) == {0, 1}
    np.testing.assert_array_equal(cloud.points[:, 2] == 1, cloud.labels == 1)  # pins at z = 1, body at z = 0
    assert P.read_point_file(wrl, 64).points.shape == (64, 3)


@pytest.mark.parametrize("name, content, match", [
    ("a.abc", "1 2 3\n", "unsupported file type .abc"),
    ("a.stl", "this is not an STL file at all\n", "could not read a mesh"),
    ("a.ply", "ply\nformat ascii 1.0\nelement vertex 0\nproperty float x\nproperty float y\n"
              "property float z\nend_header\n", "empty"),
    ("a.xyz", "", "the file is empty"),
    ("a.xyz", "0 0 0\nnan 1 2\n", "NaN or infinite"),
    ("a.xyz", "0 0 0\ninf 1 2\n", "NaN or infinite"),
    ("a.xyz", "0 0\n1 2\n", "2-D"),
    ("a.xyz", "0 0 zero\n", "not a point-cloud text file"),
    ("a.wrl", "#VRML V2.0 utf8\nGroup { }\n", "no IndexedFaceSet"),
    ("a.wrl", "hello", "not a VRML file"),
])
def test_bad_files_get_one_clear_error(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(P.PointDataError, match=match):
        P.read_point_file(path, 16)


def test_cap_and_array_checks(tmp_path):
    path = tmp_path / "big.xyz"
    np.savetxt(path, np.zeros((50, 3)))
    with pytest.raises(P.PointDataError, match="more than the cap of 10"):
        P.read_point_file(path, 16, max_points=10)
    with pytest.raises(P.PointDataError, match="2-D"):
        P.check_points(np.zeros((5, 2)))
    with pytest.raises(P.PointDataError, match=r"expected an \(N, 3\) array"):
        P.check_points(np.zeros((5, 3, 1)))
    with pytest.raises(P.PointDataError, match="empty"):
        P.check_points(np.zeros((0, 3)))
    assert issubclass(P.PointDataError, ValueError)


def test_shipped_kicad_set():
    d = P.load_kicad_sample()
    m, n = d["label"].shape[0], d["points"].shape[1]
    assert d["points"].shape == (m, n, 3) and n == 1024 and d["parts"].shape == (m, n)
    counts = np.bincount(d["label"])
    assert len(d["classes"]) >= 10 and len(counts) == len(d["classes"]) and counts.min() >= 30
    # split by model: no model file in two splits, every split holds every class
    by_split = {s: set(d["names"][d["split"] == s]) for s in ("train", "val", "test")}
    assert not (by_split["train"] & by_split["test"]) and not (by_split["train"] & by_split["val"])
    for s in by_split:
        assert set(d["label"][d["split"] == s]) == set(range(len(d["classes"])))
    np.testing.assert_allclose(np.linalg.norm(d["points"], axis=-1).max(axis=1), 1.0, atol=2e-3)
    np.testing.assert_allclose(np.linalg.norm(d["normals"], axis=-1), 1.0, atol=1e-5)
    assert set(np.unique(d["parts"])) <= set(range(len(P.PART_NAMES)))
    assert (d["parts"] == 1).mean() > 0.05  # pins are a real part, not noise
