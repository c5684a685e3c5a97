"""The Points tab's Medical mode on untrained micro point SSM exports: organ probabilities, the three 3-D views
(tissue per point, partial input, completion), bad uploads and missing weights as messages."""
from __future__ import annotations

import pytest

import points_medical  # demos/ is on sys.path (tests/demos/conftest.py); our own module must import
MICRO = {"size": "tiny", "npoints": [32, 16, 8, 4, 2], "dims": [16, 16, 16, 16, 16], "k": 4, "d_state": 4}


def _export(tmp, name, task, model, **extra):
    import torch
    from spanmix.apps.harness import save_pretrained
    from spanmix.apps.points.task import PointsTask
    from spanmix.datasets.medical_points import FROG_TISSUES

    torch.manual_seed(0)
    module = PointsTask(model, dict(MICRO, **extra), task=task, num_classes=15, classes=list(FROG_TISSUES),
                        num_categories=15 if task == "completion" else 1)
    return save_pretrained(module.eval(), tmp / name, metadata={
        "training_config": {"data": {"n_points": 64}}, "demo": {"points_task": task, "dataset": "frog"}})


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("medical_exports")
    _export(tmp, "cls", "cls", "point_ssm")
    _export(tmp, "seg", "seg", "point_ssm_seg", fp_dims=[16, 16, 16, 16, 16])
    _export(tmp, "cpl", "completion", "point_ssm_completion", n_out=36, fold_hidden=[16], dense=[16])
    return tmp


def test_shipped_organ_gives_probabilities_tissues_and_completion(weights_dir):
    choice = points_medical.shipped_choices()[0]
    assert len(points_medical.shipped_choices()) == 90
    probs, fig, status = points_medical.on_run(choice, None, weights_dir)
    from spanmix.datasets.medical_points import FROG_TISSUES

    assert set(probs) == set(FROG_TISSUES) and abs(sum(probs.values()) - 1) < 1e-4
    scenes = {trace.scene for trace in fig.data}
    assert scenes == {"scene", "scene2", "scene3"}
    done = [t for t in fig.data if t.scene == "scene3"]
    assert sum(len(t.x) for t in done) == 36                         # the 6 x 6 folded grid
    partial = [t for t in fig.data if t.scene == "scene2"]
    assert sum(len(t.x) for t in partial) == 64
    assert "Predicted organ" in status and "true tissue" in fig.layout.title.text


def test_completion_that_keeps_its_input_draws_the_added_points_apart(weights_dir, tmp_path):
    import shutil

    for name in ("cls", "seg"):
        shutil.copytree(weights_dir / name, tmp_path / name)
    _export(tmp_path, "cpl", "completion", "point_ssm_completion", n_out=10, keep_input=True, folding_times=0,
            final_hidden=[16], dense=[16])
    _, fig, _ = points_medical.on_run(points_medical.shipped_choices()[0], None, tmp_path)
    done = sorted(len(t.x) for t in fig.data if t.scene == "scene3")
    assert done == [10, 64]                                            # added points, then the kept input


def test_bad_upload_and_missing_weights_are_messages(weights_dir, tmp_path):
    bad = tmp_path / "flat.xyz"
    bad.write_text("0 0\n1 1\n")
    probs, fig, status = points_medical.on_run(None, str(bad), weights_dir)
    assert probs == {} and fig is None and "2-D" in status
    _, _, status = points_medical.on_run("liver #1", None, tmp_path / "empty")
    assert "no shipped frog point SSM weights" in status


def test_non_finite_classifier_output_is_a_message_not_a_label(weights_dir, monkeypatch):
    import torch

    real = points_medical.load_weights

    def overflowing(path):
        model = real(path)
        if model.hparams.get("task") == "cls":
            # on the cached module itself, so through monkeypatch: undone after the test
            monkeypatch.setattr(model, "forward", lambda x, *a, **k: torch.full((x.shape[0], 15), float("nan")))
        return model

    monkeypatch.setattr(points_medical, "load_weights", overflowing)
    probs, fig, status = points_medical.on_run(points_medical.shipped_choices()[0], None, weights_dir)
    assert probs == {} and fig is None and "overflowed" in status
