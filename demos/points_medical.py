"""The Points tab's "Medical" mode: the hierarchical point SSM (Zhang et al., MICCAI 2025) on anatomy.

Pick a shipped cloud of the frog set's **test** split (surface points of one real frog's organs, from the
tissue volume inside the pyvista wheel; train and test are other views of the same frog) or upload a point
cloud / mesh. The page shows the predicted organ (``pretrained/points/point_ssm_cls_frog``), a 3-D view
coloured by the predicted tissue of every point (``point_ssm_seg_frog``), and the completion: the input with
the 20% of points nearest a seeded point removed beside the cloud completed from it (``point_ssm_completion_frog``,
conditioned on the predicted organ). Bad uploads are a message on the page. The list also holds the human
test crops (``points_human``: fsaverage head structures, classified by ``point_ssm_cls_human``).
"""
from __future__ import annotations

import html
from functools import partial
from pathlib import Path

import numpy as np
from tab_common import DemoError, class_probabilities, clean_message, demo_exports, listen, load_weights
from tab_common import error_box as _error_box

import points_human

TISSUE_COLORS = ("#d62728", "#9467bd", "#8c564b", "#17becf", "#bcbd22", "#e377c2", "#ff7f0e", "#2ca02c",
                 "#7f7f7f", "#1f77b4", "#aec7e8", "#ffbb78", "#c7c7c7", "#98df8a", "#c49c94")
MAX_UPLOAD_MB = 10


def medical_exports(weights_dir: Path) -> dict[str, Path]:
    """``{"cls" | "seg" | "completion": export}`` of the shipped frog point SSM weights."""
    found: dict[str, Path] = {}
    for path, meta in demo_exports(weights_dir):
        if meta["demo"].get("dataset") == "frog":
            found.setdefault(meta["demo"].get("points_task", "cls"), path)
    return found


def shipped_choices() -> list[str]:
    from spanmix.datasets.medical_points import load_frog_sample

    d = load_frog_sample()
    test = np.flatnonzero(d["cls_split"] == "test")
    return [f"{d['tissues'][d['cls_label'][i]]} #{i}" for i in test]


def read_input(choice: str | None, upload: str | None) -> tuple[np.ndarray, str]:
    from spanmix.datasets.medical_points import load_frog_sample
    from spanmix.datasets.points import PointDataError, read_point_file

    if upload:
        path = Path(upload)
        if path.stat().st_size > MAX_UPLOAD_MB * 1024 * 1024:
            raise DemoError(f"the file is larger than {MAX_UPLOAD_MB} MB")
        try:
            return read_point_file(path, 512, seed=0).points, path.name
        except PointDataError as e:
            raise DemoError(clean_message(str(e), upload)) from None
    if not choice or "#" not in choice:
        raise DemoError("pick a shipped organ cloud or upload a point cloud / mesh")
    d = load_frog_sample()
    i = int(choice.rsplit("#", 1)[1])
    if not 0 <= i < len(d["cls_label"]):
        raise DemoError(f"unknown shipped cloud {choice!r}")
    return d["cls_points"][i], f"{choice} (true tissue {d['tissues'][d['cls_label'][i]]})"


def _take(points: np.ndarray, n: int) -> np.ndarray:
    idx = np.random.default_rng(0).permutation(len(points))[:n] if len(points) >= n else \
        np.concatenate([np.arange(len(points)), np.random.default_rng(0).integers(len(points), size=n - len(points))])
    return points[idx]


def _scatter(fig, points, colors, names, col, scene_name):
    import plotly.graph_objects as go

    for c in np.unique(colors):
        m = colors == c
        fig.add_trace(go.Scatter3d(x=points[m, 0], y=points[m, 1], z=points[m, 2], mode="markers",
                                   name=names[c] if names else "points", showlegend=names is not None,
                                   marker=dict(size=2.5, color=TISSUE_COLORS[int(c) % len(TISSUE_COLORS)]),
                                   scene=scene_name), row=1, col=col)


def run(choice: str | None, upload: str | None, weights_dir: Path):
    import plotly.graph_objects as go
    import torch
    from plotly.subplots import make_subplots
    from spanmix.apps.points.classify import n_points_of
    from spanmix.datasets.medical_points import remove_nearest

    if not upload and choice and choice.startswith(points_human.PREFIX):
        return points_human.run_human(choice, weights_dir)
    exports = medical_exports(weights_dir)
    missing = [k for k in ("cls", "seg", "completion") if k not in exports]
    if missing:
        raise DemoError(f"no shipped frog point SSM weights for {', '.join(missing)} in {weights_dir}; build them "
                        "with `spanmix weights build points point_ssm_cls_frog point_ssm_seg_frog "
                        "point_ssm_completion_frog`")
    points, title = read_input(choice, upload)
    cls = load_weights(str(exports["cls"]))
    tissues = list(cls.hparams.classes)
    with torch.no_grad():
        x = torch.as_tensor(_take(points, n_points_of(exports["cls"])), dtype=torch.float32).unsqueeze(0)
        probs = class_probabilities(cls(x)[0], "organ classifier", points_human.OVERFLOW)
        top = int(np.argmax(probs))
        # seg and completion were trained on clouds scaled to the unit sphere each (classification: frog-wide)
        unit = points - points.mean(0)
        unit = (unit / max(float(np.linalg.norm(unit, axis=1).max()), 1e-12)).astype(np.float32)
        seg = load_weights(str(exports["seg"]))
        xs = torch.as_tensor(_take(unit, n_points_of(exports["seg"])), dtype=torch.float32).unsqueeze(0)
        tissue = seg(xs)[0].argmax(-1).numpy()
        cpl = load_weights(str(exports["completion"]))
        partial_cloud = remove_nearest(unit, 0.2, seed=0)
        xp = torch.as_tensor(_take(partial_cloud, n_points_of(exports["completion"])), dtype=torch.float32)
        done = cpl(xp.unsqueeze(0), torch.tensor([top]))[0].numpy()
    kept = len(xp) if getattr(cpl.net, "keep_input", False) else 0    # the input itself, then the added points
    fig = make_subplots(rows=1, cols=3, specs=[[{"type": "scene"}] * 3],
                        subplot_titles=("predicted tissue per point", "partial input (20% removed)", "completed"))
    _scatter(fig, xs[0].numpy(), tissue, tissues, 1, "scene")
    _scatter(fig, xp.numpy(), np.zeros(len(xp), int), None, 2, "scene2")
    _scatter(fig, done, np.r_[np.zeros(kept, int), np.full(len(done) - kept, 9)], None, 3, "scene3")
    fig.update_layout(title=title, height=520, margin=dict(l=0, r=0, t=60, b=0),
                      **{s: dict(aspectmode="data") for s in ("scene", "scene2", "scene3")})
    status = (f"<p>Predicted organ <b>{html.escape(tissues[top])}</b> ({probs[top]:.1%}). Left: points coloured by "
              "predicted tissue; middle and right: the input with the 20% nearest a point removed, and the cloud "
              "the completion model made from it (conditioned on the predicted organ; the points it added in colour, "
              "beside the kept input). Tiny CPU models trained on "
              "ONE frog's organs (15 tissues); other anatomy gets the nearest of these tissues.</p>")
    return {t: float(p) for t, p in zip(tissues, probs)}, fig, status


def on_run(choice, upload, weights_dir: Path):
    try:
        return run(choice, upload, weights_dir)
    except DemoError as e:
        from tab_common import toast

        toast(str(e))
        return {}, None, _error_box(str(e), "analyse")
    except Exception as e:  # a bug: still a message, never a traceback on the page
        return {}, None, _error_box(f"unexpected error ({type(e).__name__}: {e})", "analyse")


def build_medical(weights_dir: Path) -> None:
    """Lay out the Medical mode inside the current Gradio context."""
    import gradio as gr

    choices = shipped_choices() + points_human.human_choices()
    have = medical_exports(weights_dir)
    gr.Markdown("Hierarchical point SSM (Zhang et al., MICCAI 2025): farthest-point levels, SSMs over each point's "
                "neighbours and over the whole level serialized by coordinate and inside-out orders. Tiny models "
                "trained on CPU on the surface points of **one real frog's** organs (pyvista's tissue volume).")
    with gr.Row():
        with gr.Column(scale=1):
            choice = gr.Dropdown(choices, value=choices[0] if choices else None, label="Shipped test organ",
                                 elem_id="medical-choice")
            upload = gr.File(label=f"…or upload .ply .pcd .xyz .off .stl .obj (≤ {MAX_UPLOAD_MB} MB)",
                             file_types=[".ply", ".pcd", ".xyz", ".off", ".stl", ".obj", ".txt", ".pts"],
                             type="filepath", elem_id="medical-upload")
            button = gr.Button("Analyse anatomy", variant="primary", interactive=len(have) == 3)
            label = gr.Label(label="Organ probabilities", num_top_classes=5, elem_id="medical-label")
            status = gr.HTML(elem_id="medical-status")
        with gr.Column(scale=2):
            plot = gr.Plot(label="Tissues, partial input and completion (drag to rotate)", elem_id="medical-plot")
    listen(button.click, partial(on_run, weights_dir=weights_dir), [choice, upload], [label, plot, status],
           api_name="points_medical")
