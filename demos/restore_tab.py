"""The Restore tab of the demo hub: MaIR (Li et al., CVPR 2025) on CPU with the shipped weights.

Choose a model (x2 super-resolution, denoising sigma 25, motion deblurring, dehazing; tiny CPU-trained
weights from ``pretrained/restore/``) and an image:

- a **shipped** real image (scikit-image's chelsea, motorcycle, coffee: never seen in training), degraded
  here with a fixed seed: **synthetic degradation of real images**; the clean image is the reference, so
  PSNR/SSIM of the degraded input and of the result are shown;
- or an **upload** (PNG/JPEG/BMP/WebP, 8-bit RGB or grey, at most 512x512): restored as it is (no reference,
  no scores), or, with "degrade my image first", used as the clean reference like the shipped ones.

The result appears as a before/after slider (for SR "before" is the MATLAB-bicubic upscaling of the
input), with the time it took. Bad input is shown as a message on the page.

    python demos/hub.py            # the hub, with this tab
"""
from __future__ import annotations

import html
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from tab_common import DemoError, clean_message, demo_exports, error_box, listen, load_weights

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS_DIR = ROOT / "pretrained" / "restore"
SHIPPED = ("chelsea", "motorcycle", "coffee")
MAX_SIDE = 512
MAX_UPLOAD_MB = 5
SEED = 7

CSS = """
.restore-metrics table { border-collapse: collapse; }
.restore-metrics td, .restore-metrics th { padding: 2px 10px; text-align: right; }
"""


def _models(weights_dir: Path) -> dict[str, tuple[Path, dict]]:
    """label -> (export folder, demo metadata) of every shipped restore export."""
    return {meta["demo"].get("label", folder.name): (folder, meta["demo"]) for folder, meta in demo_exports(weights_dir)}


def _shipped(name: str) -> np.ndarray:
    from spanmix.datasets.restore import load_samples

    for split in ("test", "val"):
        images = load_samples(split)
        if name in images:
            return images[name]
    raise DemoError(f"unknown shipped image {name!r}")


def _read_upload(path: str) -> np.ndarray:
    from spanmix.datasets.restore import ImageError, read_image

    if Path(path).stat().st_size > MAX_UPLOAD_MB * 2 ** 20:
        raise DemoError(f"{Path(path).name} is larger than {MAX_UPLOAD_MB} MB")
    try:
        return read_image(path, max_pixels=MAX_SIDE * MAX_SIDE, min_size=16)
    except ImageError as e:
        raise DemoError(clean_message(str(e), path)) from e


def _scores(img: torch.Tensor, ref: torch.Tensor, task: str, scale: int) -> tuple[float, float]:
    from spanmix.apps.restore.metrics import psnr, ssim

    q = (img.clamp(0, 1) * 255).round() / 255
    kw = dict(crop_border=scale if task == "sr" else 0, y_channel=task == "sr")
    return psnr(q, ref, **kw), ssim(q, ref, **kw)


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    from spanmix.datasets.restore import to_uint8

    return to_uint8(x)


def run_restore(label: str, source: str, upload: str | None, degrade_upload: bool, ensemble: bool,
                weights_dir: Path = WEIGHTS_DIR):
    """``(before uint8, after uint8, report html)``; raises DemoError for bad choices or files."""
    from spanmix.apps.restore.inference import restore
    from spanmix.datasets.restore import degrade, imresize, to_tensor

    models = _models(weights_dir)
    if label not in models:
        raise DemoError(f"no shipped model {label!r}; run `spanmix weights build restore --all`")
    folder, meta = models[label]
    task, scale = meta["task"], int(meta.get("scale", 1))
    if source == "upload":
        if not upload:
            raise DemoError("choose an image file to upload first (PNG, JPEG, BMP or WebP, at most 512x512)")
        clean = _read_upload(upload)
        have_ref = bool(degrade_upload)
    else:
        clean, have_ref = _shipped(source), True
    if have_ref:
        lq, gt = degrade(clean, task, scale=scale, sigma=float(meta.get("sigma", 25.0)), seed=SEED)
    else:
        lq, gt = to_tensor(clean), None
    net = load_weights(str(folder)).net
    started = time.perf_counter()
    out = restore(net, lq, scale=scale, self_ensemble=bool(ensemble))
    seconds = time.perf_counter() - started
    before = imresize(lq.double(), scale).float().clamp(0, 1) if task == "sr" else lq.clamp(0, 1)
    rows = [f"<tr><td>time</td><td colspan=2>{seconds:.2f} s{' (x8 self-ensemble)' if ensemble else ''}</td></tr>"]
    if gt is not None:
        b_psnr, b_ssim = _scores(before, gt, task, scale)
        a_psnr, a_ssim = _scores(out, gt, task, scale)
        what = "bicubic x%d" % scale if task == "sr" else "degraded input"
        conv = "Y channel, border %d" % scale if task == "sr" else "RGB"
        rows = [f"<tr><th></th><th>PSNR (dB)</th><th>SSIM</th></tr>",
                f"<tr><td>{what}</td><td>{b_psnr:.2f}</td><td>{b_ssim:.4f}</td></tr>",
                f"<tr><td>restored</td><td>{a_psnr:.2f}</td><td>{a_ssim:.4f}</td></tr>", *rows]
        note = (f"Scores against the clean image ({conv}). The input is a <b>synthetic degradation of a real "
                f"image</b> (seed {SEED}).")
    else:
        note = "Your image was restored as it is: there is no clean reference, so no scores."
    report = (f'<div class="restore-metrics"><p>{html.escape(label)} ({folder.name}), '
              f"{out.shape[-1]}x{out.shape[-2]} output.</p><table>{''.join(rows)}</table><p>{note}</p></div>")
    return _to_uint8(before), _to_uint8(out), report


def on_restore(label, source, upload, degrade_upload, ensemble, weights_dir: Path = WEIGHTS_DIR):
    """Gradio handler: ``(slider value, report html)``; errors become a message on the page."""
    try:
        before, after, report = run_restore(label, source, upload, degrade_upload, ensemble, weights_dir)
    except DemoError as e:
        return None, error_box(str(e), "restore")
    return (before, after), report


def build_tab(weights_dir: Path = WEIGHTS_DIR) -> None:
    """Lay out the Restore tab inside the current ``gr.Blocks`` / ``gr.Tab`` context."""
    import gradio as gr

    models = _models(weights_dir)
    labels = list(models)
    gr.Markdown(
        "MaIR (Li et al., CVPR 2025): Mamba with nested S-shaped scanning and sequence shuffle attention. "
        "The models here are tiny (about 25k parameters) and were trained for minutes on CPU on seven "
        "scikit-image photographs; the shipped test images are degraded on the fly: **synthetic degradation "
        "of real images**.")
    with gr.Row():
        with gr.Column(scale=1):
            model = gr.Dropdown(labels, value=labels[0] if labels else None, label="Model / task",
                                elem_id="restore-model")
            source = gr.Radio([*SHIPPED, "upload"], value=SHIPPED[0], label="Image", elem_id="restore-source")
            upload = gr.File(label=f"…or upload an image (≤ {MAX_SIDE}x{MAX_SIDE}, ≤ {MAX_UPLOAD_MB} MB)",
                             file_types=[".png", ".jpg", ".jpeg", ".bmp", ".webp"], type="filepath",
                             elem_id="restore-upload")
            degrade_upload = gr.Checkbox(value=False, label="degrade my upload first (use it as the clean reference)")
            ensemble = gr.Checkbox(value=False, label="x8 self-ensemble (MaIR+; 8x slower)")
            button = gr.Button("Restore", variant="primary", interactive=bool(labels))
        with gr.Column(scale=2):
            slider = gr.ImageSlider(label="before / after", type="numpy", elem_id="restore-slider")
            report = gr.HTML(elem_id="restore-report")
    if not labels:
        gr.Markdown(error_box(f"Shipped weights missing in {weights_dir}; run `spanmix weights build restore --all`.",
                              "restore"))
    listen(button.click, partial(on_restore, weights_dir=weights_dir),
           [model, source, upload, degrade_upload, ensemble], [slider, report], api_name="restore_run")
