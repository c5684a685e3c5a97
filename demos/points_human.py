"""The human crops of the Points tab's "Medical" mode: a shipped test crop of the fsaverage head set (scalp,
inner skull, left/right pial and white-matter cortex; ``datasets/samples/points_human.npz``) classified by
``pretrained/points/point_ssm_cls_human``. The crop is drawn in place in the template head, beside the other
test crops in grey. The frog segmentation and completion models do not apply to these structures, so a human
crop gets the classification only.
"""
from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from tab_common import DemoError, class_probabilities, demo_exports, load_weights

PREFIX = "human: "
#: Why a shipped point SSM classifier can overflow (README, issue 15); shown with the error.
OVERFLOW = ("a BatchNorm point SSM without range_guard can overflow on a cloud far from its training statistics; "
            "the shipped classifiers carry the guard")


def human_export(weights_dir: Path) -> Path | None:
    for path, meta in demo_exports(weights_dir):
        if meta["demo"].get("dataset") == "human" and meta["demo"].get("points_task", "cls") == "cls":
            return path
    return None


def human_choices() -> list[str]:
    from spanmix.datasets.human_anatomy_points import load_human_sample

    d = load_human_sample()
    test = np.flatnonzero(d["cls_split"] == "test")
    return [f"{PREFIX}{d['structures'][d['cls_label'][i]]} #{i}" for i in test]


def run_human(choice: str, weights_dir: Path):
    import plotly.graph_objects as go
    import torch
    from spanmix.apps.points.classify import n_points_of
    from spanmix.datasets.human_anatomy_points import load_human_sample

    export = human_export(weights_dir)
    if export is None:
        raise DemoError(f"no shipped human point SSM weights in {weights_dir}; build them with "
                        "`spanmix weights build points point_ssm_cls_human`")
    d = load_human_sample()
    try:
        i = int(choice.rsplit("#", 1)[1])
    except ValueError:
        raise DemoError(f"unknown shipped cloud {choice!r}") from None
    if not 0 <= i < len(d["cls_label"]):
        raise DemoError(f"unknown shipped cloud {choice!r}")
    model = load_weights(str(export))
    names = list(model.hparams.classes)
    n = n_points_of(export)
    points = d["cls_points"][i][np.random.default_rng(0).permutation(len(d["cls_points"][i]))[:n]]
    with torch.no_grad():
        probs = class_probabilities(model(torch.as_tensor(points).unsqueeze(0))[0], "structure classifier", OVERFLOW)
    top, truth = int(np.argmax(probs)), d["structures"][d["cls_label"][i]]
    test = np.flatnonzero(d["cls_split"] == "test")
    context = (d["cls_points"][test, ::8] + d["cls_centre"][test, None]).reshape(-1, 3)
    crop = d["cls_points"][i] + d["cls_centre"][i]
    fig = go.Figure([
        go.Scatter3d(x=context[:, 0], y=context[:, 1], z=context[:, 2], mode="markers",
                     name="other test crops", marker=dict(size=1.5, color="#c7c7c7")),
        go.Scatter3d(x=crop[:, 0], y=crop[:, 1], z=crop[:, 2], mode="markers", name=f"predicted {names[top]}",
                     marker=dict(size=2.5, color="#d62728" if names[top] != truth else "#2ca02c")),
    ])
    fig.update_layout(title=f"{choice[len(PREFIX):]} (true structure {truth})", height=520,
                      margin=dict(l=0, r=0, t=60, b=0), scene=dict(aspectmode="data"))
    status = (f"<p>Predicted structure <b>{html.escape(names[top])}</b> ({probs[top]:.1%}); true: "
              f"{html.escape(truth)}. The crop (green if right, red if wrong) in place among the other test "
              "crops of the FreeSurfer fsaverage template (an average anatomy, not one person). A tiny CPU "
              "model trained on other crops of the same six surfaces; the shipped one tells head from brain and "
              "partly left from right, but calls pial crops white matter (test scores: pretrained/points/"
              "METRICS.md). The "
              "frog segmentation and completion models do not apply to human structures.</p>")
    return {t: float(p) for t, p in zip(names, probs)}, fig, status
