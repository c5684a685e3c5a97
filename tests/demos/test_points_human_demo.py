"""The human crops of the Points tab's Medical mode, on an untrained micro point SSM export: the choice list,
structure probabilities and the 3-D view through the Medical mode's handler, missing weights as a message."""
from __future__ import annotations

import pytest

import points_human  # demos/ is on sys.path (tests/demos/conftest.py)
import points_medical

MICRO = {"size": "tiny", "npoints": [32, 16, 8, 4, 2], "dims": [16, 16, 16, 16, 16], "k": 4, "d_state": 4}


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    import torch
    from spanmix.apps.harness import save_pretrained
    from spanmix.apps.points.task import PointsTask
    from spanmix.datasets.human_anatomy_points import HUMAN_STRUCTURES

    tmp = tmp_path_factory.mktemp("human_exports")
    torch.manual_seed(0)
    module = PointsTask("point_ssm", MICRO, task="cls", num_classes=6, classes=list(HUMAN_STRUCTURES))
    save_pretrained(module.eval(), tmp / "human", metadata={
        "training_config": {"data": {"n_points": 64}}, "demo": {"points_task": "cls", "dataset": "human"}})
    return tmp


def test_human_choice_is_classified_by_the_human_model(weights_dir):
    from spanmix.datasets.human_anatomy_points import HUMAN_STRUCTURES

    choices = points_human.human_choices()
    assert len(choices) == 36 and all(c.startswith(points_human.PREFIX) for c in choices)
    assert {c.split(": ", 1)[1].split(" #")[0] for c in choices} == set(HUMAN_STRUCTURES)
    probs, fig, status = points_medical.on_run(choices[-1], None, weights_dir)
    assert set(probs) == set(HUMAN_STRUCTURES) and abs(sum(probs.values()) - 1) < 1e-4
    assert [len(t.x) for t in fig.data] == [36 * 64, 512]    # the test crops (every 8th point), the crop
    assert "Predicted structure" in status and "white_right" in fig.layout.title.text


def test_missing_human_weights_or_bad_choice_are_messages(weights_dir, tmp_path):
    _, fig, status = points_medical.on_run(points_human.human_choices()[0], None, tmp_path)
    assert fig is None and "point_ssm_cls_human" in status
    _, fig, status = points_medical.on_run(points_human.PREFIX + "scalp #9999", None, weights_dir)
    assert fig is None and "unknown shipped cloud" in status


def test_non_finite_structure_classifier_output_is_a_message(weights_dir, monkeypatch):
    import torch

    real = points_human.load_weights

    def overflowing(path):
        model = real(path)
        # on the cached module itself, so through monkeypatch: undone after the test
        monkeypatch.setattr(model, "forward", lambda x, *a, **k: torch.full((x.shape[0], 6), float("inf")))
        return model

    monkeypatch.setattr(points_human, "load_weights", overflowing)
    probs, fig, status = points_medical.on_run(points_human.human_choices()[0], None, weights_dir)
    assert probs == {} and fig is None and "overflowed" in status
