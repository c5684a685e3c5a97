"""The Points tab of the demo hub: GPSFormer (Wang et al., ECCV 2024) classifying real CAD component shapes.

Pick a shape of the shipped KiCad set's **test** split (real 3D models from Debian's kicad-packages3d, never
seen in training) or upload a mesh / point cloud (.ply .pcd .xyz .off .stl .obj .wrl, at most
``MAX_UPLOAD_MB`` MB). The page shows the class probabilities from ``pretrained/points/<entry>`` and an
interactive 3-D view (plotly, in the browser) of the sampled points, coloured by part: predicted parts
when a part-segmentation export is shipped, else — for shipped shapes — the true parts from the VRML
materials (labelled so), else one colour. Bad uploads are a message on the page. A second mode, "Medical"
(``points_medical.py``), runs the hierarchical point SSM on real frog anatomy.

    python demos/hub.py            # the hub, with this tab
"""
from __future__ import annotations

import html
from functools import partial
from pathlib import Path

import numpy as np
from tab_common import DemoError, clean_message, demo_exports, listen, load_weights
from tab_common import error_box as _error_box

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS_DIR = ROOT / "pretrained" / "points"
MAX_UPLOAD_MB = 10
PART_COLORS = ("#8c8c99", "#f2b31a", "#d92626", "#3380e6", "#4dbf59", "#994dcc")

CSS = """
#points-status { min-height: 1.5em; }
"""


def error_box(message: str) -> str:
    return _error_box(message, "classify")


def _exports(weights_dir: Path) -> dict[str, Path]:
    """``{"cls": dir, "partseg": dir}`` of the shipped demo exports (by their recorded task)."""
    found: dict[str, Path] = {}
    for path, meta in demo_exports(weights_dir):
        if meta["demo"].get("dataset") == "frog":  # the Medical mode's (points_medical.py)
            continue
        found.setdefault(meta["demo"].get("points_task", "cls"), path)
    return found


def shipped_choices() -> list[str]:
    from spanmix.datasets.points import load_kicad_sample

    d = load_kicad_sample()
    return [str(n) for n in d["names"][d["split"] == "test"]]


def read_input(choice: str | None, upload: str | None, n_points: int):
    """``(points (N, 3), normals or None, true parts or None, title)`` from the upload, else the shipped choice."""
    from spanmix.datasets.points import PointDataError, load_kicad_sample, read_point_file

    if upload:
        path = Path(upload)
        if path.stat().st_size > MAX_UPLOAD_MB * 1024 * 1024:
            raise DemoError(f"the file is larger than {MAX_UPLOAD_MB} MB")
        try:
            cloud = read_point_file(path, n_points, seed=0)
        except PointDataError as e:
            raise DemoError(clean_message(str(e), upload)) from None
        return cloud.points, cloud.normals, None, path.name
    if not choice:
        raise DemoError("pick a shipped shape or upload a mesh / point cloud")
    d = load_kicad_sample()
    hits = np.flatnonzero(d["names"] == choice)
    if len(hits) == 0:
        raise DemoError(f"unknown shipped shape {choice!r}")
    i = int(hits[0])
    idx = np.random.default_rng(0).permutation(d["points"].shape[1])[:n_points]
    return d["points"][i, idx], d["normals"][i, idx], d["parts"][i, idx], f"{choice} (true class {d['classes'][d['label'][i]]})"


def scatter(points: np.ndarray, parts: np.ndarray | None, part_names: list[str], title: str):
    """A plotly 3-D scatter of ``points`` coloured by ``parts`` (one trace per part, so the legend names them)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    groups = [(0, np.ones(len(points), bool), "points")] if parts is None else \
        [(p, parts == p, part_names[p] if p < len(part_names) else str(p)) for p in np.unique(parts)]
    for p, mask, name in groups:
        fig.add_trace(go.Scatter3d(x=points[mask, 0], y=points[mask, 1], z=points[mask, 2], mode="markers", name=name,
                                   marker=dict(size=3, color=PART_COLORS[int(p) % len(PART_COLORS)])))
    fig.update_layout(title=title, height=520, margin=dict(l=0, r=0, t=40, b=0), scene=dict(aspectmode="data"))
    return fig


def run(choice: str | None, upload: str | None, weights_dir: Path = WEIGHTS_DIR):
    """``(class probabilities, plotly figure, status HTML)`` for the chosen or uploaded shape."""
    from spanmix.apps.points.classify import classify_cloud, n_points_of

    exports = _exports(weights_dir)
    if "cls" not in exports:
        raise DemoError(f"no shipped classification weights in {weights_dir}; build them with "
                        "`spanmix weights build points --all`")
    task = load_weights(str(exports["cls"]))
    hp = task.hparams
    points, normals, true_parts, title = read_input(choice, upload, n_points_of(exports["cls"]))
    probs = classify_cloud(task, points, normals)["probs"]
    classes = list(hp.classes)
    part_names = list(hp.part_names or ["body", "pins", "marking"])
    if "partseg" in exports:
        seg = load_weights(str(exports["partseg"]))
        out = classify_cloud(seg, points, normals, category=int(np.argmax(probs)))
        parts, how = out["parts"], "predicted parts"
        part_names = list(seg.hparams.part_names or part_names)
    elif true_parts is not None:
        parts, how = true_parts, "TRUE parts from the VRML materials (no part-segmentation weights shipped)"
    else:
        parts, how = None, "one colour (no part-segmentation weights shipped)"
    fig = scatter(points, parts, part_names, f"{title}: {len(points)} sampled points")
    top = int(np.argmax(probs))
    status = (f"<p>Predicted <b>{html.escape(classes[top])}</b> ({probs[top]:.1%}). Points coloured by "
              f"{html.escape(how)}. Trained on 10 classes of KiCad component models only; any other shape gets "
              "the nearest of those classes.</p>")
    return {c: float(p) for c, p in zip(classes, probs)}, fig, status


def on_run(choice: str | None, upload: str | None, weights_dir: Path = WEIGHTS_DIR):
    try:
        return run(choice, upload, weights_dir)
    except DemoError as e:
        from tab_common import toast

        toast(str(e))
        return {}, None, error_box(str(e))
    except Exception as e:  # a bug: still a message, never a traceback on the page
        return {}, None, error_box(f"unexpected error ({type(e).__name__}: {e})")


def build_tab(weights_dir: Path = WEIGHTS_DIR) -> None:
    """Lay out the Points tab inside the current ``gr.Blocks`` / ``gr.Tab`` context."""
    import gradio as gr

    from points_medical import build_medical

    with gr.Tab("Shapes"):
        _build_shapes(gr, weights_dir)
    with gr.Tab("Medical"):
        build_medical(weights_dir)


def _build_shapes(gr, weights_dir: Path) -> None:
    choices = shipped_choices()
    have = _exports(weights_dir)
    gr.Markdown(
        "GPSFormer (Wang et al., ECCV 2024; our re-derivation, no official code exists): graph convolution in a "
        "learned feature space, cross- and self-attention, and Taylor-inspired local geometry convolutions. The "
        "small model here was trained on CPU on **real CAD models** of electronic components (Debian's "
        "kicad-packages3d, 10 classes). Pick a test shape or upload a mesh or point cloud."
    )
    with gr.Row():
        with gr.Column(scale=1):
            choice = gr.Dropdown(choices, value=choices[0] if choices else None, label="Shipped test shape",
                                 elem_id="points-choice")
            upload = gr.File(label=f"…or upload .ply .pcd .xyz .off .stl .obj .wrl (≤ {MAX_UPLOAD_MB} MB)",
                             file_types=[".ply", ".pcd", ".xyz", ".off", ".stl", ".obj", ".wrl", ".txt", ".pts"],
                             type="filepath", elem_id="points-upload")
            button = gr.Button("Classify shape", variant="primary", interactive="cls" in have)
            label = gr.Label(label="Class probabilities", num_top_classes=5, elem_id="points-label")
            status = gr.HTML(elem_id="points-status")
        with gr.Column(scale=2):
            plot = gr.Plot(label="Sampled points (drag to rotate)", elem_id="points-plot")
    if "cls" not in have:
        gr.Markdown(error_box(f"Shipped weights missing in {weights_dir}; build them with "
                              "`spanmix weights build points --all`."))
    listen(button.click, partial(on_run, weights_dir=weights_dir), [choice, upload], [label, plot, status],
           api_name="points_classify")
