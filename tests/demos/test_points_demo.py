"""The Points tab's functions on an untrained small export: probabilities, the 3-D figure, bad uploads."""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

import points_tab  # demos/ is on sys.path (tests/demos/conftest.py); our own module must import


def _load_export_helper():
    """The small-export builder of tests/apps/points/conftest.py (one definition for both test folders)."""
    path = Path(__file__).resolve().parents[1] / "apps" / "points" / "conftest.py"
    spec = importlib.util.spec_from_file_location("points_test_exports", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._export


@pytest.fixture(scope="module")
def points_exports(tmp_path_factory):
    export = _load_export_helper()
    tmp = tmp_path_factory.mktemp("points_demo_exports")
    return {"cls": export(tmp, "cls", "cls"), "partseg": export(tmp, "partseg", "partseg")}


@pytest.fixture
def weights_dir(tmp_path, points_exports):
    shutil.copytree(points_exports["cls"], tmp_path / "cls")
    return tmp_path


def test_shipped_shape_gives_probabilities_and_true_parts(weights_dir):
    choice = points_tab.shipped_choices()[0]
    probs, fig, status = points_tab.on_run(choice, None, weights_dir)
    assert set(probs) == {"resistor", "capacitor", "crystal"} and abs(sum(probs.values()) - 1) < 1e-4
    names = {trace.name for trace in fig.data}
    assert names <= {"body", "pins", "marking"} and "pins" in names
    assert "TRUE parts" in status and sum(len(t.x) for t in fig.data) == 64


def test_predicted_parts_when_a_partseg_export_is_shipped(weights_dir, points_exports):
    shutil.copytree(points_exports["partseg"], weights_dir / "partseg")
    _, _, status = points_tab.on_run(points_tab.shipped_choices()[0], None, weights_dir)
    assert "predicted parts" in status


@pytest.mark.parametrize("content, match", [("0 0\n1 1\n", "2-D"), ("", "empty"), ("nan 0 0\n", "NaN")])
def test_bad_uploads_are_a_message(weights_dir, tmp_path, content, match):
    bad = tmp_path / "upload.xyz"
    bad.write_text(content)
    probs, fig, status = points_tab.on_run(None, str(bad), weights_dir)
    assert probs == {} and fig is None and "spanmix-error" in status and match in status
    assert str(tmp_path) not in status  # no server paths on the page


def test_missing_weights_are_a_message(tmp_path):
    _, _, status = points_tab.on_run(points_tab.shipped_choices()[0], None, tmp_path)
    assert "no shipped classification weights" in status
