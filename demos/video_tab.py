"""The Video tab of the demo hub: active speaker detection with LoCoNet (Wang et al., CVPR 2024) on CPU.

Upload a clip with sound (or take the shipped COMPOSITED clip) -> the whole pipeline (PyAV decoding at 25 fps,
OpenCV Haar faces, IoU tracks, 112x112-style grayscale crops, log-mel audio, LoCoNet) -> the annotated video
(boxes from red = silent to green = speaking), a per-track timeline of the speaking probability, and a face
thumbnail per track. Caps: ``MAX_UPLOAD_MB`` and ``MAX_SECONDS``. A clip without sound, without a face, or
that is not a readable video gives one message each on the page.

    python demos/hub.py            # the hub, with this tab
"""

from __future__ import annotations

import html
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
from tab_common import clean_message, demo_exports, error_box, listen, load_weights

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS_DIR = ROOT / "pretrained" / "video"
SHIPPED_CLIP = ROOT / "datasets" / "samples" / "asd_composite_demo.mp4"
MAX_UPLOAD_MB = 20
MAX_SECONDS = 30.0
COMPOSITED_NOTE = ("COMPOSITED clip: real LFW face photographs and real recorded speech (asterisk prompts), with "
                   "mouths drawn from the speech envelope; the faces that move their lips without being heard are "
                   "the silent distractors.")

CSS = """
#video-thumbs img { image-rendering: pixelated; }
"""


def weights_choices(weights_dir: Path = WEIGHTS_DIR) -> list[str]:
    return [folder.name for folder, meta in demo_exports(weights_dir)
            if meta.get("demo", {}).get("task") != "LV-MAE"]  # the Long video panel's weights


def _check_upload(path: str) -> None:
    size = Path(path).stat().st_size
    if size > MAX_UPLOAD_MB * 1024 * 1024:
        raise ValueError(f"the file is {size / 2**20:.1f} MB; at most {MAX_UPLOAD_MB} MB are accepted here")


def timeline_figure(result):
    """Speaking probability of every track over time (matplotlib figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from tab_common import legend

    fig, ax = plt.subplots(figsize=(8, 2.6), dpi=100)
    for track, scores in zip(result.tracks, result.scores):
        ax.plot(track.frames / result.clip.fps, scores, label=f"track #{track.track_id}")
    ax.axhline(0.5, color="#999", lw=0.8, ls="--")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(0, len(result.clip.frames) / result.clip.fps)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("P(speaking)")
    legend(ax, loc="upper right", ncol=min(4, len(result.tracks)))
    fig.tight_layout()
    return fig


def thumbnails(result) -> list[tuple[np.ndarray, str]]:
    """One face per track (its middle frame), captioned with its id and mean speaking probability."""
    from spanmix.apps.video.asd.features import crop_faces

    out = []
    for track, scores in zip(result.tracks, result.scores):
        k = len(track) // 2
        face = crop_faces(result.clip.frames, track.frames[k:k + 1], track.boxes[k:k + 1], size=112)[0]
        speaking = float((scores > 0.5).mean())
        out.append((face, f"#{track.track_id}: speaking {speaking:.0%} of {len(track)} frames"))
    return out


def detect_speakers(video: str | None, use_shipped: bool, weights: str | None, weights_dir: Path = WEIGHTS_DIR):
    """Run the pipeline; returns (annotated video path, timeline figure, thumbnails, status HTML)."""
    from spanmix.apps.video.asd.pipeline import annotate, run
    from spanmix.datasets.video import write_clip

    path = str(SHIPPED_CLIP) if use_shipped or not video else video
    try:
        if not weights:
            raise ValueError(f"no shipped weights in {weights_dir}; run `spanmix weights build video --all`")
        if path != str(SHIPPED_CLIP):
            _check_upload(path)
        task = load_weights(str(weights_dir / weights))
        result = run(path, task, max_seconds=MAX_SECONDS, progress=False)
    except (ValueError, OSError) as e:
        return None, None, [], error_box(clean_message(str(e), path), "detect speakers")
    out_dir = Path(tempfile.mkdtemp(prefix="spanmix_video_"))
    annotated = write_clip(out_dir / "annotated.mp4", annotate(result), result.clip.fps, result.clip.audio,
                           result.clip.sample_rate)
    note = COMPOSITED_NOTE if path == str(SHIPPED_CLIP) else (
        "Your clip. The shipped weights were trained on COMPOSITED scenes only (drawn mouths), so on real video "
        "they are a demonstration of the pipeline, not a trained detector of real lip movement.")
    seconds = ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items())
    status = (f"<p id='video-status'><b>{len(result.tracks)} face track(s)</b> in {len(result.clip.frames)} frames "
              f"({result.clip.duration:.1f} s at 25 fps, source {result.clip.source_fps:.2f} fps). "
              f"{html.escape(note)}</p><p style='font-size:12px'>Time per stage: {html.escape(seconds)}.</p>")
    return annotated, timeline_figure(result), thumbnails(result), status


def build_tab(weights_dir: Path = WEIGHTS_DIR) -> None:
    """Lay out the Video tab inside the current ``gr.Blocks`` / ``gr.Tab`` context."""
    import gradio as gr

    choices = weights_choices(weights_dir)
    gr.Markdown(
        "**Active speaker detection** with LoCoNet (Wang et al., CVPR 2024): who is speaking, per face and frame. "
        f"Upload a video with sound (≤ {MAX_UPLOAD_MB} MB, ≤ {MAX_SECONDS:.0f} s) or use the shipped "
        "**composited** clip. Boxes go from red (silent) to green (speaking).")
    with gr.Row():
        with gr.Column(scale=1):
            video = gr.Video(label="Your clip (with sound)", sources=["upload"], elem_id="video-input")
            use_shipped = gr.Checkbox(value=True, label="Use the shipped composited clip instead",
                                      elem_id="video-use-shipped")
            weights = gr.Dropdown(choices, value=choices[0] if choices else None, label="Weights")
            run_btn = gr.Button("Detect speakers", variant="primary")
        with gr.Column(scale=2):
            status = gr.HTML(elem_id="video-status-box")
            annotated = gr.Video(label="Annotated", elem_id="video-annotated", interactive=False)
    timeline = gr.Plot(label="Speaking probability per track", elem_id="video-timeline")
    thumbs = gr.Gallery(label="Face tracks", columns=6, height=180, elem_id="video-thumbs")
    if not choices:
        gr.Markdown(error_box(f"Shipped weights missing in {weights_dir}; run `spanmix weights build video --all`."))
    listen(run_btn.click, partial(detect_speakers, weights_dir=weights_dir), [video, use_shipped, weights],
           [annotated, timeline, thumbs, status], api_name="video_detect")
    from video_long_panel import build_panel

    build_panel(weights_dir)
