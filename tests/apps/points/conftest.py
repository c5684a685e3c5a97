"""Untrained exports of small points models in a temporary folder (classify and demo tests)."""
from __future__ import annotations

import pytest

SMALL = {"size": "tiny", "npoints": [32, 16, 8, 4], "radii": [0.3, 0.6, 1.2, 2.4], "scales": [1.0], "neighbors": 8}


def _export(tmp, name, task, **extra):
    import torch
    from spanmix.apps.harness import save_pretrained
    from spanmix.apps.points.task import PointsTask

    torch.manual_seed(0)
    classes = ["resistor", "capacitor", "crystal"]
    module = PointsTask("gpsformer_partseg" if task == "partseg" else "gpsformer", SMALL, task=task,
                        num_classes=3, num_parts=3 if task == "partseg" else 0,
                        num_categories=3 if task == "partseg" else 1, classes=classes,
                        part_names=["body", "pins", "marking"], **extra)
    return save_pretrained(module.eval(), tmp / name, metadata={
        "training_config": {"data": {"n_points": 64}}, "demo": {"points_task": task}})


@pytest.fixture(scope="session")
def points_exports(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("points_exports")
    return {"cls": _export(tmp, "cls", "cls"), "partseg": _export(tmp, "partseg", "partseg")}
