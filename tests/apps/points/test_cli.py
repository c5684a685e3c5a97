"""``spanmix points classify`` on real files, its JSON and --parts outputs, and its one-line errors;
``spanmix points fit`` end to end on the shipped set (slow)."""
from __future__ import annotations

import json

import pytest
from spanmix.apps.cli import main as spanmix


def classify(args):
    """``spanmix points classify ARGS`` through the dispatcher (which reports our errors: one line, exit 2)."""
    try:
        return spanmix(["points", "classify", *args])
    except SystemExit as e:
        return e.code

o3d = pytest.importorskip("open3d")


@pytest.fixture
def stl(tmp_path):
    path = tmp_path / "box.stl"
    mesh = o3d.geometry.TriangleMesh.create_box(1.0, 0.5, 0.2)
    mesh.compute_triangle_normals()
    o3d.io.write_triangle_mesh(str(path), mesh)
    return path


def test_classify_json(points_exports, stl, capsys):
    assert classify(["--weights", str(points_exports["cls"]), "--input", str(stl), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert sorted(out["classes"]) == ["capacitor", "crystal", "resistor"]
    assert abs(sum(out["probs"]) - 1) < 1e-4 and out["probs"] == sorted(out["probs"], reverse=True)


def test_classify_parts_writes_a_coloured_ply(points_exports, stl, tmp_path, capsys):
    out_ply = tmp_path / "parts.ply"
    assert classify(["--weights", str(points_exports["partseg"]), "--input", str(stl), "--parts", str(out_ply),
                     "--category", "crystal", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["category"] == "crystal" and abs(sum(result["share"]) - 1) < 1e-3
    pcd = o3d.io.read_point_cloud(str(out_ply))
    assert len(pcd.points) == 64 and pcd.has_colors()


@pytest.mark.parametrize("args, match", [
    (["--input", "missing.stl"], "no such file"),
    (["--input", "{bad}"], "not a point-cloud text file"),
    (["--input", "{stl}", "--parts", "x.ply"], "--parts needs a part-segmentation export"),
])
def test_classify_errors_are_one_line(points_exports, stl, tmp_path, capsys, args, match):
    bad = tmp_path / "bad.xyz"
    bad.write_text("a b c\n")
    args = [a.format(bad=bad, stl=stl) for a in args]
    assert classify(["--weights", str(points_exports["cls"]), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spanmix points classify: error:") and match in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_classify_rejects_a_folder_without_an_export(tmp_path, stl, capsys):
    assert classify(["--weights", str(tmp_path), "--input", str(stl)]) == 2
    assert "spanmix points classify: error:" in capsys.readouterr().err


@pytest.mark.slow
def test_fit_and_test_on_the_shipped_set(tmp_path, monkeypatch):
    from spanmix.apps.points.cli import main

    monkeypatch.chdir(tmp_path)
    small = ["--model.model_options", '{"size": "tiny", "npoints": [32, 16, 8, 4], "scales": [1.0], "neighbors": 8}',
             "--data.n_points", "64", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3",
             "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false"]
    cfg = str(__import__("pathlib").Path(__file__).resolve().parents[3] / "apps/points/configs/gpsformer_kicad.yaml")
    main(["fit", "--config", cfg, *small])
    assert (tmp_path / "runs/points/gpsformer_kicad/checkpoints/last.ckpt").is_file()
    main(["test", "--config", cfg, *small, "--model.votes", "2", "--ckpt_path", "last"])
    metrics = (tmp_path / "runs/points/gpsformer_kicad/csv").rglob("metrics.csv")
    text = "".join(p.read_text() for p in metrics)
    assert "test/oa_vote" in text and "test/macc" in text
